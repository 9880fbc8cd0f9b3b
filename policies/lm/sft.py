"""Stage 1: supervised fine-tuning on expert demonstrations with TRL's ``SFTTrainer``.

The run: collect demonstrations (:mod:`policies.lm.demos`), train a tokenizer on their
prompts and build the tiny model from :class:`~policies.lm.model.TinyLMConfig` (or load a
local pretrained checkpoint given as ``base_model``, optionally with LoRA), train on
prompt-completion pairs with the loss on the completion only, then measure the
invalid-output rate (with and without the grammar mask) on held-back demonstration prompts
and save to ``<out>/model`` with ``train_record.json`` (command, seeds, data, budget,
figures). TensorBoard logs go to ``<out>/runs``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from policies.lm.configs import LoraSettings, SFTRunConfig

__all__ = ["LoraSettings", "SFTRunConfig", "apply_lora", "evaluate_validity", "train_sft"]


def apply_lora(model: Any, settings: LoraSettings) -> Any:
    """Wrap ``model`` with a fresh LoRA adapter (only the adapter trains)."""
    from peft import get_peft_model

    return get_peft_model(model, settings.peft_config())


def evaluate_validity(
    model: Any, tokenizer: Any, prompts: list[str], targets: list[str] | None = None,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Invalid-output rate with and without the grammar mask, and accuracy vs ``targets``.

    Both decodes are greedy; ``invalid_unmasked_rate`` is measured by decoding with *no*
    mask at all and parsing strictly.
    """
    from policies.lm.grammar import parse_completion
    from policies.lm.inference import generate_completions

    model.eval()
    free = generate_completions(model, tokenizer, prompts, constrained=False,
                                batch_size=batch_size)
    masked = generate_completions(model, tokenizer, prompts, constrained=True,
                                  batch_size=batch_size)
    free_d = [parse_completion(t) for t in free.texts]
    mask_d = [parse_completion(t) for t in masked.texts]
    n = max(len(prompts), 1)
    out = {
        "rows": float(len(prompts)),
        "invalid_unmasked_rate": sum(d is None for d in free_d) / n,
        "invalid_masked_rate": sum(d is None for d in mask_d) / n,
        "mask_needed_rate": sum(masked.unmasked_invalid) / n,
    }
    if targets is not None:
        want = [parse_completion(t) for t in targets]
        out["accuracy"] = sum(a == b for a, b in zip(mask_d, want, strict=True)) / n
    return out


def _torch_setup(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def train_sft(
    cfg: SFTRunConfig, progress: Callable[[str], None] | None = None, show_bar: bool = False
) -> dict[str, Any]:
    """Run stage 1 and save the model; return the summary also written to the record.

    Raises:
        LMConfigError / LMArtifactError / TrainingDataError: bad options, a missing base
            model, no demonstrations.
    """
    import numpy as np
    from trl import SFTConfig, SFTTrainer

    from policies.lm.demos import collect_demonstrations
    from policies.lm.model import TinyLMConfig, build_model, count_parameters, load_lm, save_lm
    from policies.lm.tokenizer import build_tokenizer

    _torch_setup(cfg.threads)
    say = progress or (lambda _line: None)
    t0 = time.perf_counter()
    base = None
    if cfg.base_model is not None:  # refuse an unusable base before minutes of demonstrations
        from policies.lm.constrained import require_vocabulary

        base = load_lm(cfg.base_model)
        require_vocabulary(base[1])
    demos = collect_demonstrations(
        cfg.scenarios, cfg.seeds, cfg.expert, cfg.day_stride,
        drivers=[None if d == "expert" else d for d in cfg.drivers], progress=say,
        variants=cfg.variants, name_dropout=cfg.name_dropout, seed=cfg.seed, jobs=cfg.jobs,
        starve_days=cfg.starve_days,
    )
    t_demo = time.perf_counter() - t0
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(demos))
    n_val = min(cfg.validation_rows, len(demos) // 5)
    val, train = order[:n_val], order[n_val:]
    if cfg.base_model is None:
        tokenizer = build_tokenizer([demos.prompts[i] for i in train])
        model = build_model(
            tokenizer,
            TinyLMConfig(hidden_size=cfg.hidden_size, intermediate_size=2 * cfg.hidden_size,
                         num_hidden_layers=cfg.num_layers, seed=cfg.seed),
        )
    else:
        model, tokenizer = base
        model.train()
    if cfg.lora:
        model = apply_lora(model, cfg.lora_settings)
    from datasets import Dataset

    data = Dataset.from_dict({
        "prompt": [demos.prompts[i] for i in train],
        "completion": [demos.completions[i] for i in train],
    })
    out = Path(cfg.out)
    args = SFTConfig(
        output_dir=str(out),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=0.0,
        logging_steps=cfg.logging_steps,
        save_strategy="no",
        report_to=cfg.report_to,
        seed=cfg.seed,
        bf16=False,
        use_cpu=cfg.device == "cpu",
        max_length=64,
        completion_only_loss=True,
        dataloader_num_workers=0,
        disable_tqdm=not show_bar,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    say(f"SFT: {len(train):,} rows, {count_parameters(model, True):,} trainable parameters")
    t1 = time.perf_counter()
    result = trainer.train()
    t_train = time.perf_counter() - t1
    model = trainer.model
    if cfg.lora:
        model = model.merge_and_unload()
    model.eval()
    figures = evaluate_validity(
        model, tokenizer, [demos.prompts[i] for i in val], [demos.completions[i] for i in val]
    )
    record = {
        "stage": "sft",
        "config": _jsonable(dataclasses.asdict(cfg)),
        "data": demos.record(),
        "parameters": count_parameters(model),
        "steps": int(result.global_step),
        "train_loss": float(result.training_loss),
        "seconds_demonstrations": round(t_demo, 1),
        "seconds_training": round(t_train, 1),
        "validation": figures,
    }
    save_lm(model, tokenizer, out / "model", record)
    (out / "summary.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    say(f"SFT done: {record['steps']} steps in {t_train:.0f} s, validation {figures}")
    return {**record, "model_path": str(out / "model")}


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=str))
