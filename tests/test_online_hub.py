"""SignalHub: validation, duplicates, late events, checkpoints, crash-and-replay."""

from __future__ import annotations

import numpy as np
import pytest

from envs import MarketSimulator
from online.errors import CheckpointError, HubConfigError, UnknownSkuError
from online.events import ApprovalDecision, PromotionChange, SaleEvent, StockCount
from online.hub import HubConfig, SignalHub
from online.sim_source import events_from_day, festivals_from_sim, register_from_sim


def _sim_batches(scenario: str = "steady", days: int = 60, lines: int | None = 3):
    """Real simulator days turned into event batches (with random promotions)."""
    sim = MarketSimulator.from_scenario(scenario, seed=3)
    rng = np.random.default_rng(0)
    from envs import PlanArrays

    batches, prev = [], None
    for _ in range(days):
        v = sim.view()
        plan = PlanArrays.empty(sim.n)
        plan.order_qty[:] = np.maximum(v.sales_ema28 * 14 - v.on_hand - v.on_order, 0) * (
            v.dow == 0
        )
        promo = rng.random(sim.n) < 0.03
        plan.promo_set[:] = promo
        plan.discount[:] = np.where(promo, 0.2, 0.0)
        plan.duration[:] = 5
        r = sim.step(plan)
        batches.append(events_from_day(r, sim, max_line_units=lines, prev_discount=prev))
        prev = r.discount
    return sim, batches


@pytest.fixture(scope="module")
def sim_batches():
    return _sim_batches()


def _hub(sim) -> SignalHub:
    hub = SignalHub(HubConfig(festivals=festivals_from_sim(sim)))
    register_from_sim(hub, sim)
    return hub


def _feed(hub: SignalHub, batches) -> None:
    for b in batches:
        hub.update(b, close_through=b[0].day if b else None)


def _answers(hub: SignalHub) -> dict:
    fa = hub.forecast_all(14)
    return {
        "mean": fa["mean"],
        "lower": fa["lower"],
        "upper": fa["upper"],
        "alerts": hub.alerts(),
        "anomalies": hub.anomalies(),
        "next": hub.next_day,
    }


def _assert_same(a: dict, b: dict) -> None:
    for k in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(a[k], b[k])
    assert a["alerts"] == b["alerts"]
    assert a["anomalies"] == b["anomalies"]
    assert a["next"] == b["next"]


def test_sim_stream_learns_and_forecasts(sim_batches):
    sim, batches = sim_batches
    hub = _hub(sim)
    _feed(hub, batches)
    f = hub.forecast(sim.sku_ids[0], 7)
    assert f.start_day == 60 and f.horizon == 7 and not f.cold_start
    assert all(lo <= m <= hi for lo, m, hi in zip(f.lower, f.mean, f.upper, strict=True))
    # the forecast level is in the range of the SKU's recent sales
    recent = [e.quantity for b in batches[-28:] for e in b if e.kind == "sale" and e.sku == f.sku]
    daily = sum(recent) / 28
    assert 0.5 * daily < np.mean(f.mean) < 2.0 * daily


def test_restore_equals_original(tmp_path, sim_batches):
    sim, batches = sim_batches
    hub = _hub(sim)
    _feed(hub, batches[:40])
    path = hub.save(tmp_path / "hub.ckpt")
    restored = SignalHub.load(path)
    _assert_same(_answers(hub), _answers(restored))
    # and they stay identical as both keep learning
    _feed(hub, batches[40:])
    _feed(restored, batches[40:])
    _assert_same(_answers(hub), _answers(restored))


def test_duplicate_event_ids_are_ignored(sim_batches):
    sim, batches = sim_batches
    once, twice = _hub(sim), _hub(sim)
    _feed(once, batches[:20])
    for b in batches[:20]:
        r1 = twice.update(b)
        r2 = twice.update(b)  # replayed in full
        assert r2.accepted == 0 and r2.duplicates == len(b) and not r2.rejected
        assert r1.accepted == len(b)
        twice.update([], close_through=b[0].day)
    _assert_same(_answers(once), _answers(twice))


def test_duplicates_inside_one_batch_count_once():
    hub = SignalHub()
    e = SaleEvent(event_id="a", sku="x", day=0, quantity=3)
    r = hub.update([e, e, e.model_dump()], close_through=0)
    assert (r.accepted, r.duplicates) == (1, 2)
    assert hub.forecaster.units[0] == 3


def test_crash_mid_batch_then_replay_matches_uninterrupted(tmp_path, sim_batches):
    sim, batches = sim_batches
    reference = _hub(sim)
    _feed(reference, batches[:30])

    crashed = _hub(sim)
    _feed(crashed, batches[:20])
    ckpt = crashed.save(tmp_path / "ckpt")
    # day 20's batch is half applied when the process dies
    half = batches[20][: len(batches[20]) // 2]
    crashed.update(half)
    del crashed
    resumed = SignalHub.load(ckpt)
    # the log is replayed from the checkpoint: day 20 again (in full) and onwards
    _feed(resumed, batches[20:30])
    _assert_same(_answers(reference), _answers(resumed))

    # replaying after a later checkpoint: the half batch was saved, its ids are duplicates
    partial = SignalHub.load(ckpt)
    partial.update(half)
    partial.save(tmp_path / "ckpt2")
    again = SignalHub.load(tmp_path / "ckpt2")
    r = again.update(batches[20], close_through=20)
    assert r.duplicates == len(half) and r.accepted == len(batches[20]) - len(half)
    _feed(again, batches[21:30])
    _assert_same(_answers(reference), _answers(again))


def test_malformed_events_are_rejected_with_reasons():
    hub = SignalHub()
    good = {"kind": "sale", "event_id": "ok", "sku": "tea", "day": 0, "quantity": 2}
    bad = [
        {"kind": "sale", "event_id": "neg", "sku": "tea", "day": 0, "quantity": -1},
        {"kind": "sale", "event_id": "nan", "sku": "tea", "day": 0, "quantity": float("nan")},
        {"kind": "sale", "sku": "tea", "day": 0, "quantity": 1},
        {"kind": "refund", "event_id": "k", "sku": "tea", "day": 0},
        {"kind": "promotion", "event_id": "p", "sku": "tea", "day": 0, "discount": 1.0},
        {"kind": "sale", "event_id": "x", "sku": "tea", "day": 0, "quantity": 1, "colour": 1},
        {"kind": "stock_count", "event_id": "s", "sku": "", "day": 0, "on_hand": 1},
        {"kind": "sale", "event_id": "d", "sku": "tea", "day": -3, "quantity": 1},
        "not an event",
    ]
    r = hub.update([good, *bad], close_through=0)
    assert r.accepted == 1 and r.duplicates == 0 and len(r.rejected) == len(bad)
    assert r.total == 1 + len(bad)
    fields = [x.field for x in r.rejected]
    assert fields == [
        "quantity",
        "quantity",
        "event_id",
        "kind",
        "discount",
        "colour",
        "sku",
        "day",
        "event",
    ]
    assert "greater than 0" in r.rejected[0].reason and "-1" in r.rejected[0].reason
    assert "refund" in r.rejected[3].reason and "sale" in r.rejected[3].reason
    assert r.rejected[0].event_id == "neg" and r.rejected[0].index == 1
    # nothing of the rejected events was applied: only the good 2 units count
    assert hub.forecaster.units[0] == 2
    assert hub.totals["rejected"] == len(bad)


def test_late_events_for_closed_periods_are_rejected():
    hub = SignalHub()
    hub.update([SaleEvent(event_id="a", sku="tea", day=5, quantity=1)], close_through=5)
    r = hub.update([SaleEvent(event_id="b", sku="tea", day=4, quantity=1)])
    assert r.accepted == 0 and r.rejected[0].field == "day"
    assert "already closed" in r.rejected[0].reason


def test_strict_skus_rejects_unregistered():
    hub = SignalHub({"strict_skus": True})
    hub.register_skus(["tea"], ["pantry"], [3.0])
    r = hub.update(
        [
            SaleEvent(event_id="a", sku="tea", day=0, quantity=1),
            SaleEvent(event_id="b", sku="coffee", day=0, quantity=1),
        ]
    )
    assert r.accepted == 1 and r.rejected[0].field == "sku" and "coffee" in r.rejected[0].reason


def test_unknown_sku_and_bad_config_errors(tmp_path):
    hub = SignalHub()
    with pytest.raises(UnknownSkuError, match="nope"):
        hub.forecast("nope", 3)
    hub.update([SaleEvent(event_id="a", sku="tea", day=0, quantity=1)])
    with pytest.raises(HubConfigError, match="horizon"):
        hub.forecast("tea", 0)
    with pytest.raises(HubConfigError, match="quantiles"):
        SignalHub({"quantiles": (0.9, 0.1)})
    with pytest.raises(HubConfigError, match="alpha_slow"):
        SignalHub({"forecaster": {"alpha": 0.5, "alpha_fast": 0.3}})
    (tmp_path / "junk").write_bytes(b"not a pickle")
    with pytest.raises(CheckpointError, match="junk"):
        SignalHub.load(tmp_path / "junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        SignalHub.load(tmp_path / "missing")


def test_promotions_raise_the_forecast_and_stockouts_censor():
    hub = SignalHub()
    events = []
    for d in range(60):
        events.append(SaleEvent(event_id=f"s{d}", sku="tea", day=d, quantity=10))
    hub.update(events, close_through=59)
    plain = hub.forecast("tea", 1).mean[0]
    hub.update([PromotionChange(event_id="p", sku="tea", day=60, discount=0.3, duration_days=2)])
    promo = hub.forecast("tea", 3).mean
    assert promo[0] > 1.3 * plain and promo[1] > 1.3 * plain
    assert promo[2] == pytest.approx(plain, rel=0.05)  # the promotion has ended by then
    # a stock-out day with 2 sales does not drag the level down
    level = hub.forecaster.level[0]
    hub.update(
        [
            SaleEvent(event_id="s60", sku="tea", day=60, quantity=2),
            StockCount(event_id="c60", sku="tea", day=60, on_hand=0),
        ],
        close_through=60,
    )
    assert hub.forecaster.level[0] >= level


def test_bulk_and_off_price_orders_are_flagged_and_kept_out():
    hub = SignalHub()
    hub.register_skus(["mug"], ["home"], [10.0])
    events = []
    for d in range(30):
        for k in range(5):
            events.append(
                SaleEvent(event_id=f"{d}-{k}", sku="mug", day=d, quantity=1 + k % 2, unit_price=10)
            )
    hub.update(events, close_through=29)
    before = hub.forecaster.units[0]
    r = hub.update(
        [
            SaleEvent(event_id="fake", sku="mug", day=30, quantity=300, unit_price=10),
            SaleEvent(event_id="cheap", sku="mug", day=30, quantity=1, unit_price=0.5),
            SaleEvent(event_id="fine", sku="mug", day=30, quantity=2, unit_price=10),
        ],
        close_through=30,
    )
    flagged = {f.event_id: f for f in r.anomalies}
    assert set(flagged) == {"fake", "cheap"}
    assert flagged["fake"].reason.startswith("bulk") and flagged["fake"].score >= 1
    assert flagged["cheap"].reason.startswith("price")
    assert hub.forecaster.units[0] == before + 2  # only the fine line was learnt
    hub.update(
        [ApprovalDecision(event_id="ap", sku="mug", day=31, subject_id="fake", approved=False)]
    )
    assert [f.resolution for f in hub.anomalies()] == ["rejected", None]
    assert [f.event_id for f in hub.anomalies(unresolved=True)] == ["cheap"]
