"""Supervised fine-tuning of the reader: LoRA on the pretrained LLM with TRL's ``SFTTrainer``.

Data: :func:`policies.llm.corpus.make_corpus` on many synthetic catalogues (training styles
only; the held-out styles are never seen here). Each example is tokenised exactly as the
reader decodes (:meth:`policies.llm.reader.Reader.training_ids`): the chat prompt, then the
directive lines, with the loss on the lines only (``completion_mask``).

The result is a PEFT adapter folder (``adapter_config.json``, ``adapter_model.safetensors``,
a few MB) plus ``train_record.json``: the data (corpus seeds, catalogues, sizes, style
counts), the configuration, the seeds, the wall time, the loss and the validation figures.
``Reader.load(adapter=...)`` merges it into the base model for reading.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policies.llm.errors import LlmError

__all__ = ["ReaderSFTConfig", "build_examples", "train_reader_sft"]


@dataclasses.dataclass
class ReaderSFTConfig:
    """Options of one SFT run (every field is recorded in ``train_record.json``).

    Attributes:
        out: folder the adapter and its record are written to.
        llm: base checkpoint folder (``None``: the converted SmolLM2-135M-Instruct).
        examples: training examples drawn from the training styles.
        catalogues: distinct synthetic catalogues the examples are spread over.
        corpus_seed: seed of the corpus generator.
        validation: examples (training styles, unseen seeds) read after training.
        epochs: passes over the examples (``max_steps`` > 0 overrides).
        max_steps: optimiser steps (``-1``: from ``epochs``).
        batch_size: examples per optimiser step.
        learning_rate: peak learning rate (cosine schedule, 5% warm-up).
        lora_r, lora_alpha, lora_dropout: LoRA rank, scale and dropout.
        lora_layers: LoRA adapts only the top this-many decoder layers (0: all); the
            backward pass then stops there, which halves a CPU step.
        target_modules: the linear layers LoRA adapts.
        max_length: longest tokenised example; longer ones are dropped (counted).
        threads: torch CPU threads.
        seed: trainer seed (data order, LoRA initialisation).
        init_adapter: continue training this LoRA adapter folder (an incremental update on
            new data) instead of starting a new one; its rank, scale and layers are kept
            (``lora_*`` are then unused) and the record names it with its own record.
    """

    out: Path
    llm: str | None = None
    examples: int = 3000
    catalogues: int = 24
    corpus_seed: int = 0
    validation: int = 100
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 8
    learning_rate: float = 3e-4
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = (
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    )  # fmt: skip
    lora_layers: int = 12
    max_length: int = 768
    threads: int = 2
    seed: int = 0
    init_adapter: str | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.init_adapter is not None and not (
            Path(self.init_adapter) / "adapter_config.json"
        ).is_file():
            raise LlmError(
                f"init_adapter: {self.init_adapter!r} has no adapter_config.json; give a "
                "folder a training run wrote"
            )
        checks = [
            ("examples", self.examples >= 1, "at least 1"),
            ("catalogues", self.catalogues >= 1, "at least 1"),
            ("batch_size", self.batch_size >= 1, "at least 1"),
            ("learning_rate", 0 < self.learning_rate < 1, "in (0, 1)"),
            ("lora_r", self.lora_r >= 1, "at least 1"),
            ("epochs", self.epochs > 0 or self.max_steps > 0, "> 0 (or set max_steps)"),
            ("max_length", self.max_length >= 128, "at least 128 tokens"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise LlmError(f"{name}: must be {what}; got {getattr(self, name)!r}")


def build_examples(n: int, *, catalogues: int, seed: int, split: str) -> list[tuple[Any, Any]]:
    """``n`` corpus examples spread over ``catalogues`` synthetic catalogues.

    Returns ``(ShopNames, Example)`` pairs; catalogue ``k`` is
    ``catalogue_for_training(seed * 1000 + k)``.
    """
    from policies.llm.corpus import catalogue_for_training, make_corpus
    from policies.llm.reader import ShopNames

    out: list[tuple[Any, Any]] = []
    per = -(-n // catalogues)
    for k in range(catalogues):
        cat = catalogue_for_training(seed * 1000 + k)
        names = ShopNames(tuple(cat.sku_ids), tuple(cat.category_names), tuple(cat.supplier_names))
        for ex in make_corpus(cat, n=per, seed=seed * 1000 + k, split=split):
            out.append((names, ex))
    return out[:n]


def _top_layers(model: Any, n: int) -> list[int] | None:
    total = int(model.config.num_hidden_layers)
    return None if n <= 0 or n >= total else list(range(total - n, total))


def train_reader_sft(
    cfg: ReaderSFTConfig, progress: Callable[[str], None] | None = None, show_bar: bool = True
) -> dict[str, Any]:
    """Fine-tune, save the adapter and its record, and return the record."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from trl import SFTConfig, SFTTrainer

    from policies.llm.checkpoint import load_causal_lm
    from policies.llm.reader import Reader

    say = progress or (lambda _line: None)
    torch.manual_seed(cfg.seed)
    t0 = time.perf_counter()
    loaded = load_causal_lm(cfg.llm, trainable=True, threads=cfg.threads)
    reader = Reader(loaded)
    pairs = build_examples(
        cfg.examples, catalogues=cfg.catalogues, seed=cfg.corpus_seed, split="train"
    )
    rows: dict[str, list[list[int]]] = {"input_ids": [], "completion_mask": []}
    too_long = 0
    for names, ex in pairs:
        ids = reader.training_ids(ex.text, ex.doc_date, names, ex.directives)
        if len(ids["input_ids"]) > cfg.max_length:
            too_long += 1
            continue
        rows["input_ids"].append(ids["input_ids"])
        rows["completion_mask"].append(ids["completion_mask"])
    if not rows["input_ids"]:
        raise LlmError("no training example fits max_length; raise max_length")
    t_data = time.perf_counter() - t0
    lengths = [len(r) for r in rows["input_ids"]]
    say(
        f"SFT data: {len(lengths):,} examples ({too_long} longer than {cfg.max_length} "
        f"dropped), mean {sum(lengths) / len(lengths):.0f} tokens, built in {t_data:.0f} s"
    )
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        layers_to_transform=_top_layers(loaded.model, cfg.lora_layers),
        task_type="CAUSAL_LM",
    )
    continued_from = None
    if cfg.init_adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(loaded.model, cfg.init_adapter, is_trainable=True)
        prior = Path(cfg.init_adapter) / "train_record.json"
        continued_from = {
            "adapter": str(cfg.init_adapter),
            "record": json.loads(prior.read_text()) if prior.is_file() else None,
        }
    else:
        model = get_peft_model(loaded.model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    args = SFTConfig(
        output_dir=str(cfg.out / "trainer"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        bf16=False,
        use_cpu=True,
        max_length=cfg.max_length,
        completion_only_loss=True,
        gradient_checkpointing=False,  # TRL's default recomputes the forward: 25% slower
        dataloader_num_workers=0,
        disable_tqdm=not show_bar,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict(rows),
        processing_class=loaded.tokenizer,
    )
    say(f"SFT: {trainable:,} trainable LoRA parameters on {loaded.path.name}")
    t1 = time.perf_counter()
    result = trainer.train()
    t_train = time.perf_counter() - t1
    cfg.out.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(cfg.out)
    styles = Counter(ex.style for _, ex in pairs)
    record = {
        "stage": "sft",
        "base": str(loaded.path),
        "config": json.loads(json.dumps(dataclasses.asdict(cfg), default=str)),
        "data": {
            "examples": len(lengths),
            "dropped_too_long": too_long,
            "mean_tokens": round(sum(lengths) / len(lengths), 1),
            "catalogues": cfg.catalogues,
            "corpus_seed": cfg.corpus_seed,
            "split": "train",
            "styles": dict(sorted(styles.items())),
        },
        "trainable_parameters": trainable,
        "steps": int(result.global_step),
        "train_loss": float(result.training_loss),
        "loss_log": [
            {"step": e["step"], "loss": round(float(e["loss"]), 4)}
            for e in trainer.state.log_history
            if "loss" in e
        ],
        "seconds_data": round(t_data, 1),
        "seconds_training": round(t_train, 1),
        "continued_from": continued_from,
    }
    (cfg.out / "train_record.json").write_text(json.dumps(record, indent=2) + "\n")
    say(f"SFT done: {record['steps']} steps in {t_train:.0f} s, loss {record['train_loss']:.3f}")
    return record
