"""RL for the reader: TRL's ``GRPOTrainer`` on a verifiable reward, from the SFT adapter.

The reward of one sampled reading is checked against the gold directives of its text:

* 1.0 when the reading parses and equals the gold exactly (:func:`exact_match`);
* otherwise the share of the gold's output lines the reading got right (kind, target,
  numbers, dates, each a line), times 0.5, minus 0.1 per extra line;
* 0.0 when the output does not parse into valid directives.

Sampling is free (TRL generates with the policy), so RL also teaches the model to write
valid lines without the constrained decoder's help; reading in production stays
constrained. The LoRA adapter of the SFT stage is trained further (same rank and layers)
and saved with a ``train_record.json`` like SFT's.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from policies.llm.errors import LlmError

__all__ = ["ReaderGRPOConfig", "reading_reward", "train_reader_grpo"]


@dataclasses.dataclass
class ReaderGRPOConfig:
    """Options of one GRPO run (recorded in ``train_record.json``).

    Attributes:
        out: folder the adapter and its record are written to.
        adapter: the SFT adapter folder to start from.
        llm: base checkpoint folder (``None``: the default model).
        prompts: training texts (training styles; corpus seed ``corpus_seed``).
        catalogues: synthetic catalogues the texts spread over.
        corpus_seed: corpus seed (different from the SFT run's, so the texts are new).
        num_generations: sampled readings per text (the group).
        prompts_per_step: texts per optimiser step.
        max_steps: optimiser steps.
        max_completion_length: tokens a sampled reading may have.
        temperature: sampling temperature.
        learning_rate: constant learning rate.
        beta: KL weight against the starting adapter (0: none).
        threads: torch CPU threads.
        seed: trainer seed.
    """

    out: Path
    adapter: Path
    llm: str | None = None
    prompts: int = 64
    catalogues: int = 8
    corpus_seed: int = 7
    num_generations: int = 4
    prompts_per_step: int = 2
    max_steps: int = 20
    max_completion_length: int = 64
    temperature: float = 0.8
    learning_rate: float = 5e-5
    beta: float = 0.0
    threads: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        self.out, self.adapter = Path(self.out), Path(self.adapter)
        if self.num_generations < 2:
            raise LlmError("num_generations: GRPO compares a group; use at least 2")
        if not (self.adapter / "adapter_config.json").is_file():
            raise LlmError(f"adapter: {self.adapter} holds no adapter_config.json (run SFT first)")


def reading_reward(completion: str, gold_lines: Sequence[str]) -> float:
    """The reward of one sampled reading against the gold output lines (module docstring)."""
    from policies.llm.errors import ReaderError
    from policies.llm.reader import exact_match, lines_to_directives

    lines = [ln.strip() for ln in completion.strip().splitlines() if ln.strip()]
    if "done" in lines:
        lines = lines[: lines.index("done") + 1]
    try:
        got = lines_to_directives(lines)
    except ReaderError:
        return 0.0
    if exact_match(got, lines_to_directives(list(gold_lines))):
        return 1.0
    gold = list(gold_lines)
    right = sum(1 for ln in lines if ln in gold)
    extra = max(0, len(lines) - len(gold))
    return max(0.0, 0.5 * right / max(len(gold), 1) - 0.1 * extra)


def train_reader_grpo(
    cfg: ReaderGRPOConfig, progress: Callable[[str], None] | None = None, show_bar: bool = True
) -> dict[str, Any]:
    """Run GRPO from the SFT adapter; save the adapter and its record; return the record."""
    import torch
    from datasets import Dataset
    from peft import PeftModel
    from trl import GRPOConfig, GRPOTrainer

    from policies.llm.checkpoint import load_causal_lm
    from policies.llm.reader import Reader, build_messages, directive_lines
    from policies.llm.sft import build_examples

    say = progress or (lambda _line: None)
    torch.manual_seed(cfg.seed)
    loaded = load_causal_lm(cfg.llm, trainable=True, threads=cfg.threads)
    model = PeftModel.from_pretrained(loaded.model, cfg.adapter, is_trainable=True)
    tok = loaded.tokenizer
    pairs = build_examples(
        cfg.prompts, catalogues=cfg.catalogues, seed=cfg.corpus_seed, split="train"
    )
    prompts, golds = [], []
    for names, ex in pairs:
        tagged = Reader.tag(ex.text, ex.doc_date, names)
        prompts.append(
            tok.apply_chat_template(
                build_messages(tagged, names), add_generation_prompt=True, tokenize=False
            )
        )
        golds.append(json.dumps(directive_lines(ex.directives)))
    data = Dataset.from_dict({"prompt": prompts, "gold": golds})

    def reward(completions: list[str], gold: list[str], **_: Any) -> list[float]:
        return [reading_reward(c, json.loads(g)) for c, g in zip(completions, gold, strict=True)]

    args = GRPOConfig(
        output_dir=str(cfg.out / "trainer"),
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
        gradient_accumulation_steps=1,
        num_generations=cfg.num_generations,
        max_steps=cfg.max_steps,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_k=0,
        top_p=1.0,
        beta=cfg.beta,
        loss_type="dapo",
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        bf16=False,
        use_cpu=True,
        remove_unused_columns=False,
        disable_dropout=True,
        log_completions=False,
        dataloader_num_workers=0,
        gradient_checkpointing=False,
        disable_tqdm=not show_bar,
    )
    trainer = GRPOTrainer(
        model=model, reward_funcs=[reward], args=args, train_dataset=data, processing_class=tok
    )
    t0 = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - t0
    cfg.out.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(cfg.out)
    rewards = [
        round(float(e["reward"]), 4) for e in trainer.state.log_history if "reward" in e
    ]
    record = {
        "stage": "grpo",
        "base": str(loaded.path),
        "init_adapter": str(cfg.adapter),
        "config": json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
        "data": {
            "prompts": len(prompts),
            "catalogues": cfg.catalogues,
            "corpus_seed": cfg.corpus_seed,
            "split": "train",
        },
        "steps": int(result.global_step),
        "seconds_training": round(seconds, 1),
        "reward_per_step": rewards,
    }
    (cfg.out / "train_record.json").write_text(json.dumps(record, indent=2) + "\n")
    say(f"GRPO done: {record['steps']} steps in {seconds:.0f} s; rewards {rewards}")
    return record
