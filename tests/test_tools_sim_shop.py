"""The simulator backend and the toolkit: idempotent execution, the day clock, what-if."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from envs import MarketSimulator
from tools.actions import arrays_from_lines, idempotency_key, lines_from_arrays
from tools.errors import ShopBackendError, ToolInputError
from tools.sim_shop import SimShop
from tools.toolkit import ShopToolkit


def test_execute_is_idempotent_and_day_advances_only_on_close():
    shop = SimShop.from_scenario("steady", seed=3)
    sku = shop.sku_ids[0]
    line = {"kind": "restock", "sku": sku, "quantity": 40}
    key = idempotency_key("r1", shop.day, sku, "restock")
    assert shop.execute(line, key)["status"] == "executed"
    assert shop.execute(line, key)["status"] == "duplicate"
    assert shop.day == 0
    result = shop.close_day()
    assert shop.day == 1
    assert result.ordered[0] == 40  # ordered once, not twice
    assert shop.queued_lines() == []


def test_close_day_matches_the_simulator_under_the_same_plan():
    shop = SimShop.from_scenario("steady", seed=4)
    ref = MarketSimulator.from_scenario("steady", seed=4)
    lines = [
        {"kind": "restock", "sku": shop.sku_ids[2], "quantity": 25},
        {"kind": "promotion", "sku": shop.sku_ids[5], "discount": 0.1, "duration_days": 3},
    ]
    got = shop.close_day(lines)
    want = ref.step(arrays_from_lines(lines, ref.sku_index))
    assert got.profit == pytest.approx(want.profit)
    assert np.array_equal(got.sales, want.sales)


def test_lines_round_trip_through_arrays():
    shop = SimShop.from_scenario("steady", seed=1)
    lines = [
        {"kind": "restock", "sku": shop.sku_ids[1], "quantity": 12},
        {"kind": "promotion", "sku": shop.sku_ids[3], "discount": 0.25, "duration_days": 4},
    ]
    assert lines_from_arrays(arrays_from_lines(lines, shop.sku_index), shop.sku_ids) == lines


def test_what_if_is_reproducible_and_never_touches_the_real_future():
    shop = SimShop.from_scenario("steady", seed=2)
    v = shop.view()
    lines = [{"kind": "restock", "sku": s, "quantity": 60} for s in shop.sku_ids]
    arrays = arrays_from_lines(lines, shop.sku_index)
    a = shop.what_if(arrays, horizon=10)
    b = shop.what_if(arrays, horizon=10)
    assert a.total == b.total and a.horizon == 10
    assert a.per_sku.shape == (len(shop.sku_ids),)
    assert shop.day == 0 and np.array_equal(shop.view().on_hand, v.on_hand)
    assert a.total == pytest.approx(a.plan_profit - a.base_profit)


def test_shop_pickles_with_its_state():
    shop = SimShop.from_scenario("steady", seed=5)
    shop.close_day([{"kind": "restock", "sku": shop.sku_ids[0], "quantity": 30}])
    copy = pickle.loads(pickle.dumps(shop.sim))
    assert copy.day == 1
    assert np.array_equal(copy.view().on_order, shop.view().on_order)


def test_past_horizon_and_unknown_sku_are_typed_errors():
    shop = SimShop.from_scenario("steady", seed=1)
    with pytest.raises(ShopBackendError, match="unknown SKU"):
        shop.execute({"kind": "restock", "sku": "nope", "quantity": 1}, "k")
    tk = ShopToolkit(shop)
    with pytest.raises(ToolInputError, match="no SKU 'nope'"):
        tk.get_forecast("nope")


def test_toolkit_acting_tools_obey_rules_and_keys():
    shop = SimShop.from_scenario("steady", seed=1)
    tk = ShopToolkit(shop, run_id="t")
    tools = {t.name: t for t in tk.as_langchain_tools()}
    out = tools["set_promotion"].invoke({"sku": shop.sku_ids[0], "discount": 0.95})
    assert out["status"] == "executed" and out["line"]["discount"] <= 0.5
    assert {e["rule"] for e in out["refusals"]} >= {"discount.cap"}
    again = tools["set_promotion"].invoke({"sku": shop.sku_ids[0], "discount": 0.95})
    assert again["status"] == "duplicate"
    fc = tools["get_forecast"].invoke({"sku": shop.sku_ids[0], "horizon": 7})
    assert fc["total_band"][0] <= fc["mean_per_day"] * 7 <= fc["total_band"][1]
