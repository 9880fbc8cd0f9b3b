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
from dataclasses import field
from pathlib import Path
from typing import Any

import numpy as np

from policies.lm import recipe
from policies.lm.demos import check_training_seeds
from policies.lm.errors import LMConfigError
from policies.lm.sft import LoraSettings

__all__ = ["RLRunConfig", "collect_states", "compare_policies", "train_rl"]

_RL_SCENARIOS = ("steady", "festival", "disruption", "drift", "fresh", "classic")


@dataclasses.dataclass
class RLRunConfig:
    """Everything an RL run needs; every field has a working default.

    The recipe fields default to :mod:`policies.lm.recipe`, the best measured recipe from
    the imitation checkpoint C4 (``policies/lm/checkpoints/sft``; about 25 minutes here),
    as ``shopops train rl``'s do. With one round only the first training seed is rolled out
    (round ``k`` uses ``seeds[k % len(seeds)]``).
    """

    init: str = field(
        default="artifacts/lm/sft/model",
        metadata={"help": "Checkpoint to start from (an SFT model, or any local causal LM)."},
    )
    out: str = field(default="artifacts/lm/rl", metadata={"help": "Run folder."})
    scenarios: tuple[str, ...] = field(
        default=_RL_SCENARIOS, metadata={"help": "Training scenarios for the rollouts."}
    )
    seeds: tuple[int, ...] = field(
        default=(1010, 1011, 1012, 1013),
        metadata={"help": "Training seeds; round k uses seed k mod n."}
    )
    variants: int = field(
        default=recipe.VARIANTS,
        metadata={"help": "Randomised shops (policies.lm.variants) per scenario and "
                          "seed rolled out next to the scenario itself."}
    )
    launch_variants: int = field(
        default=0, metadata={"help": "Launch shops (policies.lm.variants.launch_variant: an "
                                     "elastic category launched into a festival behind a "
                                     "slow supplier) per scenario and seed."}
    )
    lora: bool = field(default=True, metadata={"help": "Train LoRA adapters (else all weights)."})
    lora_settings: LoraSettings = field(default_factory=lambda: LoraSettings(r=16, alpha=32))
    feedback_from: str | None = field(
        default=None, metadata={"help": "Store database whose feedback trains a reward model."}
    )
    feedback_weight: float = field(
        default=0.2, metadata={"help": "Weight of the feedback reward (simulator reward: 1)."}
    )
    grammar_weight: float = field(
        default=1.0, metadata={"help": "Weight of the format reward (0 for valid text, down "
                                        "to -1 for nonsense)."}
    )
    departure_cost: float = field(
        default=0.0, metadata={"help": "Reward taken off a completion that departs from the "
                                       "tuned heuristic's decision (the prompt's hr=/hd=), "
                                       "in days of the SKU's revenue (rewards.DepartureCost; "
                                       "0: off)."}
    )
    rounds: int = field(default=recipe.ROUNDS, metadata={"help": "Rollout-then-train rounds."})
    steps_per_round: int = field(
        default=recipe.STEPS_PER_ROUND,
        metadata={"help": "Generation batches per round (each gives "
                          "minibatches x num_iterations optimiser steps)."}
    )
    prompts_per_step: int = field(default=16, metadata={"help": "Prompts per generation batch."})
    num_generations: int = field(default=8, metadata={"help": "Completions per prompt."})
    minibatches: int = field(default=2, metadata={"help": "Minibatches per generation batch."})
    num_iterations: int = field(default=2, metadata={"help": "Passes over each batch (PPO "
                                                               "epochs)."})
    epsilon: float = field(default=0.2, metadata={"help": "Ratio clipping range."})
    beta: float = field(default=0.05, metadata={"help": "KL coefficient to the round's start."})
    temperature: float = field(default=1.2, metadata={"help": "Sampling temperature."})
    learning_rate: float = field(default=3e-4, metadata={"help": "AdamW learning rate."})
    horizon: int = field(default=recipe.HORIZON, metadata={"help": "Reward horizon H in days."})
    continuation: str = field(
        default="policy", metadata={"help": "How the scored SKU acts after day 0 in the "
                                            "reward: 'policy' (the model being trained), "
                                            "'hold' (the same decision for H days) or 'expert' "
                                            "(see policies.lm.rewards)."}
    )
    starve_days: tuple[int, ...] = field(
        default=recipe.STARVE_DAYS,
        metadata={"help": "Also roll each shop out once after each of these "
                          "numbers of days without orders (empty shelves and "
                          "their recovery; empty: off). An int means one length."}
    )
    rest_of_shop: str = field(
        default="policy", metadata={"help": "Who runs the other SKUs in the reward's forks: "
                                            "'policy' (the rolled-out policy's recorded "
                                            "decisions) or 'expert' (the tuned heuristic)."}
    )
    hold_days: int = field(
        default=1, metadata={"help": "With 'policy': the completion's decision is kept for "
                                     "this many days, at most H (an order-up-to rule, no new "
                                     "promotion) before the policy takes over (1: day 0 "
                                     "only)."}
    )
    tail_days: int = field(
        default=recipe.TAIL_DAYS,
        metadata={"help": "Days after H in which the SKU follows the rest of the "
                          "shop's rule in every scored run alike (prices the "
                          "state H leaves behind)."}
    )
    scale_rewards: str = field(
        default="none", metadata={"help": "Advantage scaling: 'none' (reward minus the group "
                                          "mean, Dr. GRPO), 'group' or 'batch' (divide by the "
                                          "standard deviation)."}
    )
    n_futures: int = field(
        default=recipe.N_FUTURES, metadata={"help": "Futures averaged per reward."}
    )
    day_stride: int = field(default=3, metadata={"help": "Save a morning every k days."})
    skus_per_day: int = field(default=6, metadata={"help": "SKUs saved per saved morning."})
    eval_seeds: tuple[int, ...] = field(
        default=(1900,), metadata={"help": "Training-split seeds for the before/after check "
                                               "(empty: skip)."}
    )
    seed: int = field(default=0, metadata={"help": "Seed."})
    threads: int = field(default=2, metadata={"help": "torch CPU threads."})
    device: str = field(default="cpu", metadata={"help": "'cpu' or 'cuda'."})
    report_to: str = field(default="tensorboard", metadata={"help": "'tensorboard' or 'none'."})
    logging_steps: int = field(default=5, metadata={"help": "Log metrics every k steps."})

    def __post_init__(self) -> None:
        check_training_seeds(self.seeds)
        check_training_seeds(self.eval_seeds)
        for name in ("rounds", "steps_per_round", "prompts_per_step", "num_iterations",
                     "minibatches", "horizon", "n_futures", "day_stride", "skus_per_day",
                     "threads"):
            if getattr(self, name) < 1:
                raise LMConfigError(f"RLRunConfig.{name} must be >= 1; got {getattr(self, name)}")
        if self.hold_days < 1 or self.tail_days < 0:
            raise LMConfigError(f"need hold_days >= 1 and tail_days >= 0; got "
                                f"{self.hold_days} and {self.tail_days}")
        if self.rest_of_shop not in ("policy", "expert"):
            raise LMConfigError(f"rest_of_shop must be 'policy' or 'expert'; got "
                                f"{self.rest_of_shop!r}")
        if isinstance(self.starve_days, int):  # records and callers from before lists
            self.starve_days = (self.starve_days,) if self.starve_days else ()
        self.starve_days = tuple(int(d) for d in self.starve_days)
        if any(d < 1 for d in self.starve_days) or len(set(self.starve_days)) < len(
                self.starve_days):
            raise LMConfigError(f"starve_days must be distinct lengths >= 1 (or none); got "
                                f"{list(self.starve_days)}")
        if self.departure_cost < 0:
            raise LMConfigError(f"departure_cost must be >= 0 (days of revenue); got "
                                f"{self.departure_cost}")
        if self.variants < 0 or self.launch_variants < 0 or self.temperature <= 0:
            raise LMConfigError(f"need variants >= 0, launch_variants >= 0 and temperature > "
                                f"0; got {self.variants}, {self.launch_variants} "
                                f"and {self.temperature}")
        if self.num_generations < 2:
            raise LMConfigError(
                f"num_generations must be >= 2 (advantages compare a prompt's samples); "
                f"got {self.num_generations}"
            )
        if (self.prompts_per_step * self.num_generations) % self.minibatches:
            raise LMConfigError(
                f"prompts_per_step x num_generations ({self.prompts_per_step} x "
                f"{self.num_generations}) must be divisible by minibatches ({self.minibatches})"
            )
        if self.beta < 0 or not 0 < self.epsilon < 1:
            raise LMConfigError(f"need beta >= 0 and 0 < epsilon < 1; got {self.beta}, "
                                f"{self.epsilon}")
        if self.continuation not in ("hold", "expert", "policy"):
            raise LMConfigError(f"continuation must be 'hold', 'expert' or 'policy'; got "
                                f"{self.continuation!r}")
        if self.scale_rewards not in ("none", "group", "batch"):
            raise LMConfigError(f"scale_rewards must be 'none', 'group' or 'batch'; got "
                                f"{self.scale_rewards!r}")
        if self.report_to not in ("tensorboard", "none"):
            raise LMConfigError(f"report_to must be 'tensorboard' or 'none'; got "
                                f"{self.report_to!r}")

    def grpo_config(self, output_dir: str) -> Any:
        """The TRL ``GRPOConfig`` for one round."""
        from trl import GRPOConfig

        completions = self.prompts_per_step * self.num_generations
        return GRPOConfig(
            output_dir=output_dir,
            per_device_train_batch_size=completions // self.minibatches,
            gradient_accumulation_steps=1,
            steps_per_generation=self.minibatches,
            num_iterations=self.num_iterations,
            num_generations=self.num_generations,
            max_steps=self.steps_per_round * self.minibatches * self.num_iterations,
            max_completion_length=8,
            temperature=self.temperature,
            top_k=0,
            top_p=1.0,
            epsilon=self.epsilon,
            beta=self.beta,
            loss_type="dapo",
            scale_rewards=self.scale_rewards,
            learning_rate=self.learning_rate,
            lr_scheduler_type="constant",
            logging_steps=self.logging_steps,
            save_strategy="no",
            report_to=self.report_to,
            seed=self.seed,
            bf16=False,
            use_cpu=self.device == "cpu",
            remove_unused_columns=False,
            shuffle_dataset=True,
            disable_dropout=True,
            log_completions=False,
            dataloader_num_workers=0,
        )


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
