"""Stage 2: reinforcement learning against the simulator with TRL's ``GRPOTrainer``.

TRL removed ``PPOTrainer`` in 1.13; its maintained online policy-gradient trainer is
``GRPOTrainer``, configured here for PPO-style updates:

* **ratio clipping** ``epsilon`` on the token-level importance ratio;
* **several optimisation passes per batch**: each generated batch is split into
  ``minibatches`` and reused ``num_iterations`` times;
* **a KL term** (``beta``) to the policy the round started from; with LoRA that reference is
  the same network with the adapter switched off, so it costs no second copy;
* **advantages** are rewards minus the mean over the prompt's ``num_generations`` samples
  (a per-state baseline, the group's own value estimate), unscaled by default
  (``scale_rewards="none"``, as in Dr. GRPO: dividing by a group's standard deviation turns
  near-ties, where every decision earns about the same, into full-size gradients).

Each **round**: roll out the current policy (greedy) on training scenarios and seeds, save
some SKU-mornings as prompts (:mod:`policies.lm.rewards`), train ``updates_per_round``
generation batches, merge the LoRA adapter and go on. Rewards come from
:class:`~policies.lm.rewards.SimulatorReward` and, with ``feedback_from``, from a reward
model trained on the store's feedback (:mod:`policies.lm.reward_model`) with weight
``feedback_weight``. The result is saved to ``<out>/model`` with ``train_record.json``;
TensorBoard logs go to ``<out>/round<k>/runs``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from policies.lm.configs import RLRunConfig

__all__ = ["RLRunConfig", "collect_states", "compare_policies", "train_rl"]

def collect_states(
    model: Any, tokenizer: Any, scenarios: tuple[str, ...], seeds: tuple[int, ...],
    bank: Any, day_stride: int, skus_per_day: int, rng: np.random.Generator,
    progress: Callable[[str], None] | None = None, variants: int = 0,
    rest_of_shop: str = "policy", starve_days: Sequence[int] = (), launch_variants: int = 0,
) -> tuple[list[str], list[int], dict[str, float]]:
    """Roll out the current policy and save SKU-mornings as prompts (see module docstring).

    Each scenario and seed is rolled out as itself and as ``variants`` randomised shops
    (:func:`policies.lm.variants.training_variant`, named ``<scenario>-v<k>``) and
    ``launch_variants`` launch shops (:func:`~policies.lm.variants.launch_variant`,
    ``<scenario>-l<k>``). With
    ``rest_of_shop="policy"`` each saved state keeps the rolled-out policy's decisions from
    its morning on (:attr:`~policies.lm.rewards.RolloutState.behaviour`), which the rest of
    the shop follows in the rewards; with ``"expert"`` the tuned base-stock heuristic runs
    the rest of the shop. The heuristic also gives each morning's ``ref_plan``. With
    ``starve_days`` (lengths in days) each shop is also rolled out once more after
    each length of days in which nobody orders, so the prompts include empty shelves and
    their recovery, states the policy's own rollouts never reach; the emptied morning itself
    is saved for every SKU, not a sample. Several lengths cover half- and fully-emptied
    shelves: one run with 21 starved days restocked 26-27 of 30 SKUs after 25 idle days but
    only 6 of 24 after 15. (Measured on the first grammar: RL runs without starved rollouts
    stopped ordering for 29 of 30 SKUs of an emptied shop, and with 21 starved days saved
    like any other morning still for 27 of 30; see
    ``policies/lm/checkpoints/default/RECORD.md``.)

    Returns the prompts, their ``state_id`` in ``bank`` and the rollouts' profits.
    """
    from envs.scenario import load_scenario
    from envs.simulator import MarketSimulator
    from policies.base_stock import TunedBaseStockPolicy
    from policies.lm.codec import LMCodec
    from policies.lm.grammar import SAFE_DECISION, Decision
    from policies.lm.policy import LMPolicy
    from policies.lm.rewards import RolloutState, make_state
    from policies.lm.variants import training_shops

    prompts: list[str] = []
    ids: list[int] = []
    profits: dict[str, float] = {}
    shops = [
        (spec, seed, starve)
        for sc in scenarios for seed in seeds
        for spec in training_shops(load_scenario(sc), seed, variants, launch_variants)
        for starve in (0, *(d for d in starve_days if d > 0))
    ]
    for spec, seed, starve in shops:
        scenario = spec.name + (f"+starved{starve}" if starve else "")
        sim = MarketSimulator.from_scenario(spec, seed=seed)
        decided: list[list[Decision]] = []  # the policy's decisions, one list per day
        idle = min(starve, spec.horizon_days - 1)
        for _ in range(idle):  # nobody orders: empty shelves
            sim.step(None)
            decided.append([SAFE_DECISION] * sim.n)
        policy = LMPolicy(model=model, tokenizer=tokenizer)
        policy.reset(sim)
        expert = TunedBaseStockPolicy()
        expert.reset(sim)
        codec = LMCodec(sim)
        offset = int(rng.integers(day_stride))
        total = 0.0
        saved: list[RolloutState] = []
        emptied = idle if starve else -1  # the first morning after the idle days
        while not sim.done:
            view = sim.view()
            if sim.day % day_stride == offset or sim.day == emptied:
                ref_plan = expert.act(view, sim)
                day_prompts = codec.prompts(view)
                # the emptied morning itself: every SKU, the states RL must not unlearn
                k = sim.n if sim.day == emptied else min(skus_per_day, sim.n)
                for i in rng.choice(sim.n, size=k, replace=False):
                    state = make_state(sim, int(i), ref_plan, expert,
                                       int(rng.integers(1 << 30)), codec)
                    saved.append(state)
                    ids.append(bank.add(state))
                    prompts.append(day_prompts[int(i)])
            plan = policy.act(view, sim)
            decided.append([d or SAFE_DECISION for d in policy.last_decisions])
            total += sim.step(plan).profit
        if rest_of_shop == "policy":
            for state in saved:
                state.behaviour = decided[state.sim.day:]
        profits[f"{scenario}/{seed}"] = total
        if progress is not None:
            progress(f"rollout {scenario} seed {seed}: profit {total:,.0f}, "
                     f"{len(prompts):,} prompts")
    return prompts, ids, profits


def compare_policies(
    models: dict[str, tuple[Any, Any]], scenarios: tuple[str, ...], seeds: tuple[int, ...]
) -> dict[str, dict[str, float]]:
    """Mean episode profit per scenario for each named ``(model, tokenizer)``."""
    from policies.lm.policy import LMPolicy
    from policies.rollout import rollout

    out: dict[str, dict[str, float]] = {}
    for name, (model, tok) in models.items():
        out[name] = {
            sc: float(np.mean([
                rollout(LMPolicy(model=model, tokenizer=tok), sc, s).profit for s in seeds
            ]))
            for sc in scenarios
        }
    return out


def train_rl(
    cfg: RLRunConfig, progress: Callable[[str], None] | None = None, show_bar: bool = False
) -> dict[str, Any]:
    """Run stage 2 and save the model; return the summary also written to the record.

    Raises:
        LMArtifactError: the starting checkpoint or the feedback database is missing.
        LMConfigError / TrainingDataError: bad options, no feedback pairs.
    """
    import torch
    from datasets import Dataset
    from trl import GRPOTrainer

    from policies.lm.model import count_parameters, load_lm, save_lm
    from policies.lm.rewards import DepartureCost, SimulatorReward, StateBank, grammar_reward

    torch.set_num_threads(cfg.threads)
    say = progress or (lambda _line: None)
    out = Path(cfg.out)
    rng = np.random.default_rng(cfg.seed)
    model, tokenizer = load_lm(cfg.init)
    start_model, _ = load_lm(cfg.init)
    reward_funcs: list[Any] = [grammar_reward]
    weights = [1.0, cfg.grammar_weight]
    feedback_record: dict[str, Any] | None = None
    if cfg.feedback_from:
        from policies.lm.reward_model import RewardModelConfig, RewardModelReward
        from policies.lm.reward_model import train_reward_model as train_rm

        feedback_record = train_rm(
            RewardModelConfig(feedback_from=cfg.feedback_from, out=str(out / "reward_model"),
                              tokenizer_from=cfg.init, threads=cfg.threads,
                              report_to=cfg.report_to),
            progress=say,
        )
        reward_funcs.append(RewardModelReward.load(feedback_record["model_path"]))
        weights.append(cfg.feedback_weight)
    if cfg.departure_cost > 0:
        reward_funcs.append(DepartureCost(cfg.departure_cost))
        weights.append(1.0)
    history: list[dict[str, Any]] = []
    t_train = 0.0
    t_rollout = 0.0
    total_steps = 0
    sim_reward: SimulatorReward | None = None
    for rnd in range(cfg.rounds):
        bank = StateBank()
        seeds = (cfg.seeds[rnd % len(cfg.seeds)],)
        t0 = time.perf_counter()
        model.eval()
        prompts, ids, profits = collect_states(
            model, tokenizer, cfg.scenarios, seeds, bank, cfg.day_stride, cfg.skus_per_day,
            rng, progress=say, variants=cfg.variants, rest_of_shop=cfg.rest_of_shop,
            launch_variants=cfg.launch_variants,
            starve_days=cfg.starve_days,
        )
        t_rollout += time.perf_counter() - t0
        need = cfg.steps_per_round * cfg.prompts_per_step
        pick = rng.choice(len(prompts), size=need, replace=len(prompts) < need)
        data = Dataset.from_dict({
            "prompt": [prompts[i] for i in pick], "state_id": [ids[i] for i in pick],
        })
        sim_reward = SimulatorReward(bank, horizon=cfg.horizon, n_futures=cfg.n_futures,
                                     continuation=cfg.continuation,
                                     hold_days=min(cfg.hold_days, cfg.horizon),
                                     tail_days=cfg.tail_days)
        model.train()
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[sim_reward, *reward_funcs],
            args=_with_weights(cfg.grpo_config(str(out / f"round{rnd}")), weights, show_bar),
            train_dataset=data,
            processing_class=tokenizer,
            peft_config=cfg.lora_settings.peft_config() if cfg.lora else None,
        )
        if cfg.continuation == "policy":
            sim_reward.attach_policy(trainer.model, tokenizer)
        say(f"round {rnd + 1}/{cfg.rounds}: GRPO on {len(data):,} prompts "
            f"({count_parameters(trainer.model, True):,} trainable parameters)")
        t1 = time.perf_counter()
        result = trainer.train()
        t_train += time.perf_counter() - t1
        total_steps += int(result.global_step)
        rewards = [h["reward"] for h in trainer.state.log_history if "reward" in h]
        model = trainer.model.merge_and_unload() if cfg.lora else trainer.model
        history.append({
            "round": rnd, "seeds": list(seeds), "prompts": len(prompts),
            "rollout_profit": profits, "steps": int(result.global_step),
            "reward_first": rewards[0] if rewards else None,
            "reward_last": rewards[-1] if rewards else None,
            "invalid_in_training": sim_reward.invalid, "completions_scored": sim_reward.calls,
        })
        say(f"round {rnd + 1}: reward {history[-1]['reward_first']} -> "
            f"{history[-1]['reward_last']}")
    model.eval()
    evaluation: dict[str, Any] = {}
    if cfg.eval_seeds:
        say("comparing before and after on training-split seeds")
        evaluation = compare_policies(
            {"before": (start_model, tokenizer), "after": (model, tokenizer)},
            cfg.scenarios, cfg.eval_seeds,
        )
        evaluation["mean_gain"] = float(np.mean([
            evaluation["after"][s] - evaluation["before"][s] for s in cfg.scenarios
        ]))
    from policies.lm.sft import evaluate_validity

    val_prompts = _validation_prompts(cfg.scenarios, rng)
    validity = evaluate_validity(model, tokenizer, val_prompts)
    record = {
        "stage": "rl",
        "config": json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
        "init_record": _read_record(cfg.init),
        "feedback": feedback_record,
        "parameters": count_parameters(model),
        "steps": total_steps,
        "seconds_training": round(t_train, 1),
        "seconds_rollouts": round(t_rollout, 1),
        "rounds": history,
        "evaluation": {
            **validity,
            **({"mean_gain_train_seeds": evaluation["mean_gain"]} if evaluation else {}),
        },
        "before_after": evaluation,
    }
    save_lm(model, tokenizer, out / "model", record)
    (out / "summary.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return {**record, "model_path": str(out / "model")}


def _with_weights(args: Any, weights: list[float], show_bar: bool) -> Any:
    args.reward_weights = weights
    args.disable_tqdm = not show_bar
    return args


def _validation_prompts(scenarios: tuple[str, ...], rng: np.random.Generator) -> list[str]:
    """Prompts from base-stock episodes on training-split seeds (1950+), every 5th day."""
    from envs.simulator import MarketSimulator
    from policies.base_stock import BaseStockPolicy
    from policies.lm.codec import LMCodec

    out: list[str] = []
    for sc in scenarios:
        sim = MarketSimulator.from_scenario(sc, seed=1950 + int(rng.integers(40)))
        pol = BaseStockPolicy()
        pol.reset(sim)
        codec = LMCodec(sim)
        while not sim.done:
            view = sim.view()
            if sim.day % 5 == 0:
                out.extend(codec.prompts(view))
            sim.step(pol.act(view, sim))
    return out


def _read_record(path: str) -> dict[str, Any] | None:
    p = Path(path) / "train_record.json"
    if not p.exists():
        return None
    data = json.loads(p.read_text())
    return {k: data.get(k) for k in ("stage", "config", "data", "steps", "seconds_training",
                                      "validation", "init_record")}  # the whole chain
