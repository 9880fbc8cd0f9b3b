"""LM policy training on CPU: SFT then RL (TRL) change the weights; simulator rewards behave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from envs import MarketSimulator  # noqa: E402
from policies.base import DoNothing  # noqa: E402
from policies.base_stock import BaseStockPolicy  # noqa: E402
from policies.lm.errors import LMConfigError  # noqa: E402
from policies.lm.grammar import Decision  # noqa: E402
from policies.lm.rewards import SimulatorReward, StateBank, make_state  # noqa: E402


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _changed(a: dict, b: dict) -> list[str]:
    return [k for k in a if k in b and not torch.equal(a[k], b[k])]


@pytest.fixture(scope="module")
def sft_run(tmp_path_factory):
    from policies.lm.sft import SFTRunConfig, train_sft

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sft")
    cfg = SFTRunConfig(
        out=str(out), scenarios=("steady",), seeds=(1000,), day_stride=6, max_steps=30,
        batch_size=32, hidden_size=32, num_layers=2, validation_rows=60, threads=1,
        learning_rate=5e-3, expert="base_stock",
        report_to="tensorboard", logging_steps=2,
    )
    return cfg, train_sft(cfg)


def test_sft_trains_the_tiny_model_and_records_how(sft_run) -> None:
    from policies.lm.model import TinyLMConfig, build_model, load_lm

    cfg, record = sft_run
    trained, tok = load_lm(record["model_path"])
    init = build_model(tok, TinyLMConfig(hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, seed=cfg.seed))
    changed = _changed(_weights(init), _weights(trained))
    assert len(changed) >= len(init.state_dict()) // 2
    assert record["steps"] == 30 and record["data"]["rows"] > 0
    assert record["data"]["scenarios"] == ["steady"] and record["data"]["seeds"] == [1000]
    assert 0.0 <= record["validation"]["invalid_masked_rate"] == 0.0
    saved = Path(record["model_path"]) / "train_record.json"
    assert saved.exists()
    assert list(Path(cfg.out).glob("runs/*/events.out.tfevents.*"))  # TensorBoard logs


def test_rl_with_lora_changes_the_sft_weights(sft_run, tmp_path: Path) -> None:
    from policies.lm.model import load_lm
    from policies.lm.rl import RLRunConfig, train_rl

    _, sft_record = sft_run
    before, _ = load_lm(sft_record["model_path"])
    cfg = RLRunConfig(
        init=sft_record["model_path"], out=str(tmp_path / "rl"), scenarios=("steady",),
        seeds=(1010,), rounds=1, steps_per_round=2, prompts_per_step=4, num_generations=4,
        minibatches=2, num_iterations=2, day_stride=30, skus_per_day=4, eval_seeds=(),
        report_to="none", threads=1, horizon=5, n_futures=1, temperature=1.0,
        departure_cost=0.05, variants=0, starve_days=(), tail_days=2,
    )
    record = train_rl(cfg)
    after, _ = load_lm(record["model_path"])
    assert record["steps"] == 2 * 2 * 2
    assert record["rounds"][0]["completions_scored"] == 2 * 4 * 4  # batches x prompts x G
    changed = _changed(_weights(before), _weights(after))
    # LoRA on every linear layer, merged back: the attention and MLP weights moved
    assert any("q_proj" in k for k in changed) and any("mlp" in k for k in changed)
    assert record["init_record"]["stage"] == "sft"
    assert record["config"]["departure_cost"] == 0.05


def test_departure_cost_charges_only_completions_that_leave_the_heuristic() -> None:
    from policies.lm.codec import LMCodec
    from policies.lm.rewards import DepartureCost
    from policies.lm.rl import RLRunConfig

    sim = MarketSimulator.from_scenario("festival", seed=1003)
    for _ in range(5):
        sim.step(None)
    codec = LMCodec(sim)
    view = sim.view()
    restock, disc = codec.advice(view)
    prompt = codec.prompts(view)[0]
    keep = f" restock={restock[0]:g} discount={int(disc[0])} days={7 if disc[0] else 0}"
    more = f" restock={28 if restock[0] != 28 else 21} discount={int(disc[0])} days=" \
           f"{7 if disc[0] else 0}"
    promo = f" restock={restock[0]:g} discount={10 if disc[0] != 10 else 20} days=7"
    scores = DepartureCost(0.3)([prompt] * 4, [keep, more, promo, "restock=lots"])
    assert scores == [0.0, -0.3, -0.3, 0.0]
    # a prompt without advice (an old checkpoint's format) is never charged
    assert DepartureCost(0.3)(["dem=2 ->"], [more]) == [0.0]
    with pytest.raises(LMConfigError, match="departure_cost must be >= 0"):
        RLRunConfig(departure_cost=-0.1)


@pytest.fixture(scope="module")
def starving_state():
    """A steady shop after 25 days without orders: most SKUs are out of stock."""
    sim = MarketSimulator.from_scenario("steady", seed=7)
    for _ in range(25):
        sim.step(None)
    expert = BaseStockPolicy()
    expert.reset(sim)
    view = sim.view()
    sku = int(np.argmax((view.on_hand <= 0) * view.list_price * view.sales_ema28))
    assert view.on_hand[sku] <= 0
    bank = StateBank()
    # reference day 0: nobody orders; afterwards the heuristic runs the shop
    sid = bank.add(make_state(sim, sku, DoNothing().act(view, sim), expert, future_seed=11))
    return bank, sid, sim


def test_reward_is_deterministic_and_prefers_restocking_an_empty_shelf(starving_state) -> None:
    bank, sid, sim = starving_state
    day = sim.day
    reward = SimulatorReward(bank, horizon=10, n_futures=2, continuation="expert")
    texts = [" restock=14 discount=0 days=0", " restock=0 discount=0 days=0"] * 2
    scores = reward(["p"] * 4, texts, state_id=[sid] * 4)
    assert scores[0] == scores[2] and scores[1] == scores[3]  # same completion, same fork
    assert scores[0] > scores[1]  # ordering beats leaving the shelf empty
    assert scores[1] == pytest.approx(0.0)  # the reference (do nothing) scores zero
    assert reward.score(sid, Decision(14, 0, 0)) == scores[0]
    # held for the whole horizon, "no order" is worse than the reference (which orders
    # from day 1 on), and restocking still wins
    held = SimulatorReward(bank, horizon=10, n_futures=2, continuation="hold")
    assert held.score(sid, Decision(0, 0, 0)) < 0.0 < held.score(sid, Decision(14, 0, 0))
    assert sim.day == day  # scoring never moves the saved state


def test_policy_continuation_holding_the_decision_prices_no_order(starving_state) -> None:
    """With the policy taking over the next morning, "no order" on an empty shelf costs a
    day at most; kept for a week (``hold_days=7``) it costs what a week without
    orders costs, and the expert tail after H prices the state H leaves behind."""
    from policies.lm.model import load_lm
    from policies.lm.policy import DEFAULT_CHECKPOINT
    from policies.lm.rewards import SimulatorReward

    bank, sid, _ = starving_state
    model, tok = load_lm(DEFAULT_CHECKPOINT)
    never = Decision(0, 0, 0)
    scores = {}
    for hold, tail in ((1, 0), (7, 0), (7, 7)):
        reward = SimulatorReward(bank, horizon=10, n_futures=2, continuation="policy",
                                 hold_days=hold, tail_days=tail)
        reward.attach_policy(model, tok)
        scores[(hold, tail)] = reward.score(sid, never)
    assert scores[(7, 0)] < scores[(1, 0)] - 0.5 < 0.0
    assert scores[(7, 7)] != scores[(7, 0)]  # the tail days are simulated and counted
    with pytest.raises(LMConfigError, match="hold_days"):
        SimulatorReward(bank, horizon=5, continuation="policy", hold_days=6)


def test_rest_of_shop_follows_the_recorded_behaviour(tmp_path: Path) -> None:
    """States saved from a policy rollout keep the policy's decisions for every SKU from
    that morning on; in the reward the rest of the shop follows them, so the policy's own
    recorded decision for the scored SKU is exactly the reference."""
    from policies.lm.model import load_lm
    from policies.lm.policy import DEFAULT_CHECKPOINT
    from policies.lm.rl import collect_states
    from scenarios import SCENARIO_DIR

    short = tmp_path / "short.yaml"  # steady, cut to 40 days
    short.write_text((SCENARIO_DIR / "steady.yaml").read_text().replace(
        "horizon_days: 180", "horizon_days: 40"))
    model, tok = load_lm(DEFAULT_CHECKPOINT)
    bank = StateBank()
    _, ids, _ = collect_states(model, tok, (str(short),), (1010,), bank, day_stride=20,
                               skus_per_day=1, rng=np.random.default_rng(0))
    st = bank[ids[0]]
    assert st.behaviour is not None and len(st.behaviour[0]) == st.sim.n
    assert len(st.behaviour) == st.sim.spec.horizon_days - st.sim.day
    reward = SimulatorReward(bank, horizon=7, n_futures=1, continuation="expert")
    own = st.behaviour[0][st.sku]
    other = Decision(28, 0, 0) if own.restock != 28 else Decision(0, 0, 0)
    assert reward.score(ids[0], own) == 0.0
    assert reward.score(ids[0], other) != 0.0
    experts = StateBank()
    collect_states(model, tok, (str(short),), (1010,), experts, day_stride=20, skus_per_day=1,
                   rng=np.random.default_rng(0), rest_of_shop="expert")
    assert experts[0].behaviour is None


def test_a_starved_rollout_saves_every_sku_of_the_emptied_morning(tmp_path: Path) -> None:
    """``starve_days``: the shop is rolled out once more after each length of days nobody
    ordered, and the first morning after them is saved for every SKU (the states RL must
    not unlearn), on top of the usual sample every ``day_stride`` days."""
    from policies.lm.model import load_lm
    from policies.lm.policy import DEFAULT_CHECKPOINT
    from policies.lm.rl import collect_states
    from scenarios import SCENARIO_DIR

    short = tmp_path / "short.yaml"
    short.write_text((SCENARIO_DIR / "steady.yaml").read_text().replace(
        "horizon_days: 180", "horizon_days: 40"))
    model, tok = load_lm(DEFAULT_CHECKPOINT)
    bank = StateBank()
    prompts, ids, profits = collect_states(
        model, tok, (str(short),), (1010,), bank, day_stride=50, skus_per_day=1,
        rng=np.random.default_rng(0), starve_days=(10, 25),
    )
    assert set(profits) == {"steady/1010", "steady+starved10/1010", "steady+starved25/1010"}
    half_emptied = [bank[i] for i in ids if bank[i].sim.day == 10]
    n = half_emptied[0].sim.n
    assert sorted(st.sku for st in half_emptied) == list(range(n))  # each length's morning
    emptied = [bank[i] for i in ids if bank[i].sim.day == 25]
    assert sorted(st.sku for st in emptied) == list(range(n))
    # the shelves really are empty: most of the saved SKUs have nothing on hand or on order
    empty = [st for st in emptied if st.sim.view().on_hand[st.sku] + st.sim.view().on_order[
        st.sku] <= 0]
    assert len(empty) >= n // 2
    assert len(prompts) == len(ids) > n  # and the sampled mornings of both rollouts


def test_starve_days_takes_one_length_or_several_distinct_ones(tmp_path: Path) -> None:
    from policies.lm.rl import RLRunConfig

    assert RLRunConfig(out=str(tmp_path), starve_days=21).starve_days == (21,)
    assert RLRunConfig(out=str(tmp_path), starve_days=0).starve_days == ()
    assert RLRunConfig(out=str(tmp_path), starve_days=[12, 25]).starve_days == (12, 25)
    for bad in ((12, 12), (-3,)):
        with pytest.raises(LMConfigError, match="starve_days must be distinct lengths"):
            RLRunConfig(out=str(tmp_path), starve_days=bad)


def test_reward_penalises_and_counts_text_outside_the_grammar(starving_state) -> None:
    bank, sid, _ = starving_state
    logged: dict[str, float] = {}
    reward = SimulatorReward(bank, horizon=3, n_futures=1, invalid_reward=-7.0)
    scores = reward(
        ["p", "p"], ["restock=1000000 units now", " restock=3 discount=0 days=0"],
        state_id=[sid, sid], log_metric=lambda k, v: logged.__setitem__(k, v),
    )
    assert scores[0] == -7.0 and scores[1] != -7.0
    assert reward.invalid == 1 and reward.calls == 2 and logged["invalid_rate"] == 0.5


def test_training_refuses_report_seeds() -> None:
    from policies.lm.demos import check_training_seeds

    check_training_seeds([1000, 1500])
    with pytest.raises(LMConfigError, match=r"seeds \[3\] are reporting seeds"):
        check_training_seeds([1000, 3])
