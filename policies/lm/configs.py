"""Run configurations of the LM policy's training stages, light to import.

``shopops train rl`` builds its options from :class:`RLRunConfig`'s fields (their defaults
and help: one source), so this module imports no simulator, torch or TRL: ``shopops
--help`` stays instant. The training code (:mod:`policies.lm.rl`, :mod:`policies.lm.sft`)
imports these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

from policies.lm import recipe

__all__ = ["LoraSettings", "RLRunConfig", "SFTRunConfig"]


@dataclasses.dataclass
class LoraSettings:
    """LoRA adapter shape (PEFT) for fine-tuning a larger model cheaply."""

    r: int = field(default=8, metadata={"help": "Adapter rank."})
    alpha: int = field(default=16, metadata={"help": "Adapter scaling (alpha / r)."})
    dropout: float = field(default=0.0, metadata={"help": "Dropout on the adapter input."})
    target_modules: str = field(
        default="all-linear", metadata={"help": "PEFT target modules ('all-linear' or names)."}
    )

    def __post_init__(self) -> None:
        from policies.lm.errors import LMConfigError  # (light module: errors import envs)

        if self.r < 1 or self.alpha < 1:
            raise LMConfigError(f"LoRA r and alpha must be >= 1; got r={self.r}, "
                                f"alpha={self.alpha}")

    def peft_config(self) -> Any:
        """The ``peft.LoraConfig`` for a causal LM."""
        from peft import LoraConfig

        targets: Any = self.target_modules
        if targets != "all-linear":
            targets = [t.strip() for t in targets.split(",") if t.strip()]
        return LoraConfig(
            r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout,
            target_modules=targets, task_type="CAUSAL_LM",
        )


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
        metadata={"help": (
            'Checkpoint to start from: an SFT model folder, or any local Hugging Face'
            ' causal-LM folder.'
        )},
    )
    out: str = field(default="artifacts/lm/rl", metadata={"help": "Run folder."})
    scenarios: tuple[str, ...] = field(
        default=_RL_SCENARIOS, metadata={"help": (
            'Training scenarios for the rollouts, comma-separated.'
        )}
    )
    seeds: tuple[int, ...] = field(
        default=(1010, 1011, 1012, 1013),
        metadata={"help": (
            'Training seeds (1000 and up) for the rollouts, e.g. 1010-1013; round k '
            'uses seed k mod n.'
        )}
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
        default=None, metadata={"help": (
            'Store database (SQLAlchemy URL or SQLite path): train a reward model on '
            'its feedback and add it as a weighted reward.'
        )}
    )
    feedback_weight: float = field(
        default=0.2, metadata={"help": "Weight of the feedback reward (simulator reward: 1)."}
    )
    grammar_weight: float = field(
        default=1.0, metadata={"help": "Weight of the format reward (0 for valid text, down "
                                        "to -1 for nonsense)."}
    )
    departure_cost: float = field(
        default=0.0, metadata={"help": (
            "Reward taken off a completion that departs from the tuned heuristic's "
            "decision (the prompt's hr=/hd=), in days of the SKU's revenue: a "
            "departure must beat the team's rule by this much (0: off)."
        )}
    )
    rounds: int = field(default=recipe.ROUNDS, metadata={"help": "Rollout-then-train rounds."})
    steps_per_round: int = field(
        default=recipe.STEPS_PER_ROUND,
        metadata={"help": (
            'Generation batches per round (each gives minibatches x num_iterations '
            'optimiser steps: 2 x 2 = 4 by default).'
        )}
    )
    prompts_per_step: int = field(default=16, metadata={"help": "Prompts per generation batch."})
    num_generations: int = field(default=8, metadata={"help": "Completions per prompt."})
    minibatches: int = field(default=2, metadata={"help": "Minibatches per generation batch."})
    num_iterations: int = field(default=2, metadata={"help": "Passes over each batch (PPO "
                                                               "epochs)."})
    epsilon: float = field(default=0.2, metadata={"help": "Ratio clipping range."})
    beta: float = field(default=0.05, metadata={"help": (
        'KL coefficient to the policy the round started from.'
    )})
    temperature: float = field(default=1.2, metadata={"help": (
        'Sampling temperature of the completions (exploration; the greedy policy '
        'is unchanged by it).'
    )})
    learning_rate: float = field(default=3e-4, metadata={"help": "AdamW learning rate."})
    horizon: int = field(default=recipe.HORIZON, metadata={"help": (
        "Reward horizon H in days (56: a promotion's whole effect on stock and "
        'later sales is inside it; 14 under-valued them).'
    )})
    continuation: str = field(
        default="policy", metadata={"help": "How the scored SKU acts after day 0 in the "
                                            "reward: 'policy' (the model being trained), "
                                            "'hold' (the same decision for H days) or 'expert' "
                                            "(see policies.lm.rewards)."}
    )
    starve_days: tuple[int, ...] = field(
        default=recipe.STARVE_DAYS,
        metadata={"help": (
            'Also roll each shop out after these numbers of days without orders, '
            'comma-separated (e.g. 12,25), so RL sees half- and fully-emptied shelves'
            ' and their recovery (0 or empty: off).'
        )}
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
        default="none", metadata={"help": 'Advantage scaling: none (Dr. GRPO), group or batch.'}
    )
    n_futures: int = field(
        default=recipe.N_FUTURES, metadata={"help": (
            'Random futures averaged per reward (each a seeded fork).'
        )}
    )
    day_stride: int = field(default=3, metadata={"help": "Save a morning every k days."})
    skus_per_day: int = field(default=6, metadata={"help": "SKUs saved per saved morning."})
    eval_seeds: tuple[int, ...] = field(
        default=(1900,), metadata={"help": (
            "Training-split seeds for the before/after check, comma-separated ('' "
            'skips it).'
        )}
    )
    seed: int = field(default=0, metadata={"help": "Seed."})
    threads: int = field(default=2, metadata={"help": "torch CPU threads."})
    device: str = field(default="cpu", metadata={"help": "'cpu' or 'cuda'."})
    report_to: str = field(default="tensorboard", metadata={"help": "'tensorboard' or 'none'."})
    logging_steps: int = field(default=5, metadata={"help": "Log metrics every k steps."})

    def __post_init__(self) -> None:
        from policies.lm.demos import check_training_seeds
        from policies.lm.errors import LMConfigError

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
        self.starve_days = tuple(int(d) for d in self.starve_days if int(d) != 0)  # 0: off
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


@dataclasses.dataclass
class SFTRunConfig:
    """Everything a supervised run needs; every field has a working default."""

    out: str = field(default="artifacts/lm/sft", metadata={"help": "Run folder."})
    scenarios: tuple[str, ...] = field(
        default=recipe.TRAIN_SCENARIOS,
        metadata={"help": "Training scenarios, comma-separated."}
    )
    seeds: tuple[int, ...] = field(
        default=(1000, 1001, 1002),
        metadata={"help": "Training seeds, 1000 and up ('1000-1002' or '1000,1001')."},
    )
    expert: str | None = field(
        default=None, metadata={"help": "Expert policy (default: mpc, the lookahead planner; "
                                         "base_stock_tuned is 200x faster)."}
    )
    drivers: tuple[str, ...] = field(
        default=("expert",),
        metadata={"help": "Who runs the demonstration episodes, one full pass each: 'expert' "
                          "(the expert labels every kept day of its own episodes), 'lm' / "
                          "'lm:<checkpoint>' (the student drives and the expert labels: "
                          "DAgger) or any registered policy name."},
    )
    variants: int = field(
        default=0, metadata={"help": "Randomised shops per scenario and seed "
                                     "(policies.lm.variants)."}
    )
    name_dropout: float = field(
        default=0.0, metadata={"help": "Share of rows whose category and product names are "
                                       "made unknown."}
    )
    starve_days: int = field(
        default=0, metadata={"help": "Also run every episode with nobody ordering on its first "
                                      "n days, labelled by the expert (empty shelves and their "
                                      "recovery; 0: off)."}
    )
    jobs: int = field(default=1, metadata={"help": "Worker processes for the demonstrations."})
    day_stride: int = field(default=2, metadata={"help": "Keep every k-th day of each episode."})
    base_model: str | None = field(
        default=None,
        metadata={"help": "Local Hugging Face causal-LM folder to fine-tune instead of the "
                          "tiny model built from a config (nothing is downloaded)."},
    )
    lora: bool = field(default=False, metadata={"help": "Train a LoRA adapter (PEFT)."})
    lora_settings: LoraSettings = field(default_factory=LoraSettings)
    hidden_size: int = field(default=128, metadata={"help": "Tiny model width."})
    num_layers: int = field(default=4, metadata={"help": "Tiny model depth."})
    epochs: float = field(default=3.0, metadata={"help": "Passes over the demonstrations."})
    max_steps: int = field(default=-1, metadata={"help": "Stop after this many steps (-1: "
                                                         "use epochs)."})
    batch_size: int = field(default=128, metadata={"help": "Rows per optimisation step."})
    learning_rate: float = field(default=2e-3, metadata={"help": "Peak AdamW learning rate."})
    seed: int = field(default=0, metadata={"help": "Seed of initialisation and shuffling."})
    validation_rows: int = field(
        default=2000, metadata={"help": "Demonstration rows held back to measure accuracy and "
                                        "invalid output."}
    )
    threads: int = field(default=2, metadata={"help": "torch CPU threads."})
    report_to: str = field(default="tensorboard", metadata={"help": "'tensorboard' or 'none'."})
    logging_steps: int = field(default=20, metadata={"help": "Log metrics every k steps."})
    device: str = field(default="cpu", metadata={"help": "'cpu' or 'cuda'."})

    def __post_init__(self) -> None:
        from policies.lm.demos import check_training_seeds
        from policies.lm.errors import LMConfigError

        check_training_seeds(self.seeds)
        if not self.drivers:
            raise LMConfigError("drivers must name at least one driver ('expert' for the expert)")
        if self.batch_size < 1 or self.day_stride < 1 or self.threads < 1:
            raise LMConfigError(
                f"batch_size, day_stride and threads must be >= 1; got {self.batch_size}, "
                f"{self.day_stride}, {self.threads}"
            )
        if self.starve_days < 0:
            raise LMConfigError(f"starve_days must be >= 0; got {self.starve_days}")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise LMConfigError("set epochs > 0 or max_steps > 0")
        if self.lora and self.base_model is None and self.hidden_size < 8:
            raise LMConfigError("LoRA on a tiny model needs hidden_size >= 8")
        if self.report_to not in ("tensorboard", "none"):
            raise LMConfigError(
                f"report_to must be 'tensorboard' or 'none'; got {self.report_to!r}"
            )
        if self.device not in ("cpu", "cuda"):
            raise LMConfigError(f"device must be 'cpu' or 'cuda'; got {self.device!r}")
