"""A reward model of feedback, trained with TRL's ``RewardTrainer``, used as an extra reward.

Preference pairs (:mod:`policies.lm.feedback`) from a store's feedback (``feedback_from``)
or, without a store, from the simulator's scripted reviewer train a tiny
``LlamaForSequenceClassification`` (one score per prompt + completion) that shares the
policy's tokenizer. :class:`RewardModelReward` wraps it as a TRL reward function; RL adds it
to the simulator's reward with a weight (``shopops train rl --feedback-from DB``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from policies.lm.errors import LMConfigError, TrainingDataError

__all__ = ["RewardModelConfig", "RewardModelReward", "train_reward_model"]


@dataclasses.dataclass
class RewardModelConfig:
    """A reward-model run; every field has a working default."""

    feedback_from: str | None = field(
        default=None, metadata={"help": "Store database (URL or SQLite path); None: pairs "
                                         "from the simulator's scripted reviewer."}
    )
    out: str = field(default="artifacts/lm/reward_model", metadata={"help": "Output folder."})
    tokenizer_from: str = field(
        default="artifacts/lm/sft/model", metadata={"help": "LM checkpoint whose tokenizer "
                                                            "the reward model shares."}
    )
    sim_scenarios: tuple[str, ...] = field(
        default=("steady", "festival"), metadata={"help": "Scenarios for simulated feedback."}
    )
    sim_seeds: tuple[int, ...] = field(
        default=(1020,), metadata={"help": "Their seeds (training split)."}
    )
    hidden_size: int = field(default=64, metadata={"help": "Reward model width."})
    num_layers: int = field(default=2, metadata={"help": "Reward model depth."})
    max_steps: int = field(default=200, metadata={"help": "Optimiser steps."})
    batch_size: int = field(default=32, metadata={"help": "Pairs per step."})
    learning_rate: float = field(default=1e-3, metadata={"help": "Learning rate."})
    validation_share: float = field(default=0.2, metadata={"help": "Pairs held back."})
    seed: int = field(default=0, metadata={"help": "Seed."})
    threads: int = field(default=2, metadata={"help": "torch CPU threads."})
    report_to: str = field(default="tensorboard", metadata={"help": "'tensorboard' or 'none'."})

    def __post_init__(self) -> None:
        if self.max_steps < 1 or self.batch_size < 1 or self.threads < 1:
            raise LMConfigError(
                f"max_steps, batch_size and threads must be >= 1; got {self.max_steps}, "
                f"{self.batch_size}, {self.threads}"
            )
        if not 0.0 < self.validation_share < 0.9:
            raise LMConfigError(f"validation_share must be in (0, 0.9); got "
                                f"{self.validation_share}")


def _build(tokenizer: Any, cfg: RewardModelConfig) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(cfg.seed)
    return LlamaForSequenceClassification(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size,
        intermediate_size=2 * cfg.hidden_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
        num_labels=1, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    ))


def train_reward_model(
    cfg: RewardModelConfig, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Build pairs, train the reward model, report held-out pair accuracy, save it.

    Raises:
        LMArtifactError: the store or the tokenizer checkpoint cannot be read.
        TrainingDataError: fewer than 8 preference pairs.
    """
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from policies.lm.feedback import preference_pairs, records_from_store, simulated_records
    from policies.lm.model import load_lm

    torch.set_num_threads(cfg.threads)
    say = progress or (lambda _line: None)
    if cfg.feedback_from:
        records, read = records_from_store(cfg.feedback_from)
        source = f"store {cfg.feedback_from}"
    else:
        records = simulated_records(cfg.sim_scenarios, cfg.sim_seeds, seed=cfg.seed)
        read = {"records": len(records)}
        source = "simulated reviewer"
    pairs, counts = preference_pairs(records)
    say(f"feedback from {source}: {read}; pairs {counts}")
    if len(pairs) < 8:
        raise TrainingDataError(
            f"only {len(pairs)} preference pairs from {source} (need >= 8); counts {counts}, "
            f"read {read}. Collect more approvals/outcomes, or omit --feedback-from."
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(cfg.tokenizer_from, local_files_only=True)
    except OSError:
        _, tokenizer = load_lm(cfg.tokenizer_from)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(pairs))
    n_val = max(1, int(len(pairs) * cfg.validation_share))
    val = [pairs[i] for i in order[:n_val]]
    train = [pairs[i] for i in order[n_val:]]
    data = Dataset.from_dict({
        "prompt": [p.prompt for p in train], "chosen": [p.chosen for p in train],
        "rejected": [p.rejected for p in train],
    })
    model = _build(tokenizer, cfg)
    args = RewardConfig(
        output_dir=cfg.out, max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, logging_steps=20, save_strategy="no",
        report_to=cfg.report_to, seed=cfg.seed, bf16=False, use_cpu=True, max_length=64,
        disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=data,
                            processing_class=tokenizer)
    t0 = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - t0
    scorer = RewardModelReward(trainer.model, tokenizer)
    good = scorer([p.prompt for p in val], [p.chosen for p in val])
    bad = scorer([p.prompt for p in val], [p.rejected for p in val])
    accuracy = float(np.mean([g > b for g, b in zip(good, bad, strict=True)]))
    out = Path(cfg.out) / "model"
    trainer.model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    record = {
        "stage": "reward_model", "source": source, "read": read, "pairs": counts,
        "steps": int(result.global_step), "seconds_training": round(seconds, 1),
        "validation": {"pairs": len(val), "accuracy": accuracy},
        "config": json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
    }
    (out / "train_record.json").write_text(json.dumps(record, indent=2) + "\n")
    say(f"reward model: held-out pair accuracy {accuracy:.1%} on {len(val)} pairs")
    return {**record, "model_path": str(out)}


class RewardModelReward:
    """A trained reward model as a TRL reward function ``(prompts, completions) -> scores``.

    Scores ``prompt + completion + </s>`` tokenized exactly as ``RewardTrainer`` did.
    """

    __name__ = "feedback_rm"

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 256) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    @classmethod
    def load(cls, path: str | Path) -> RewardModelReward:
        """Load a saved reward model folder."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        return cls(model.eval(), tok)

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any
    ) -> list[float]:
        import torch

        from policies.lm.rewards import _as_text

        tok = self.tokenizer
        texts = [str(p) + _as_text(c) + tok.eos_token for p, c in
                 zip(prompts, completions, strict=True)]
        old_side = tok.padding_side
        tok.padding_side = "right"
        scores: list[float] = []
        was_training = self.model.training
        self.model.eval()
        try:
            for s in range(0, len(texts), self.batch_size):
                enc = tok(texts[s:s + self.batch_size], return_tensors="pt", padding=True)
                enc = enc.to(next(self.model.parameters()).device)
                with torch.inference_mode():
                    logits = self.model(**enc).logits.squeeze(-1)
                scores.extend(float(x) for x in logits.tolist())
        finally:
            tok.padding_side = old_side
            if was_training:
                self.model.train()
        return scores
