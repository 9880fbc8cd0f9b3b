"""The policy's causal language model: a tiny Llama built from a config, or a local checkpoint.

:class:`TinyLMConfig` describes the from-scratch model (about 0.6M parameters by default:
4 layers of width 128), which trains on a laptop CPU in minutes. :func:`load_lm` opens any
local Hugging Face causal-LM checkpoint folder (ours, or a user's pretrained model), with
its tokenizer, and merges a PEFT LoRA adapter found there. Nothing is downloaded:
``local_files_only`` is always set.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import field
from pathlib import Path
from typing import Any

from policies.lm.errors import LMArtifactError, LMConfigError

__all__ = ["TinyLMConfig", "build_model", "count_parameters", "load_lm", "save_lm"]


@dataclasses.dataclass
class TinyLMConfig:
    """Shape of the from-scratch Llama-style model."""

    hidden_size: int = field(default=128, metadata={"help": "Width of the residual stream."})
    intermediate_size: int = field(default=256, metadata={"help": "Width of the MLP."})
    num_hidden_layers: int = field(default=4, metadata={"help": "Transformer blocks."})
    num_attention_heads: int = field(default=4, metadata={"help": "Attention heads."})
    max_position_embeddings: int = field(
        default=64, metadata={"help": "Longest prompt + completion in tokens (prompts are ~23)."}
    )
    tie_word_embeddings: bool = field(
        default=True, metadata={"help": "Share input embeddings and output projection."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of the random initialisation."})

    def __post_init__(self) -> None:
        for name in ("hidden_size", "intermediate_size", "num_hidden_layers",
                     "num_attention_heads", "max_position_embeddings"):
            if getattr(self, name) < 1:
                raise LMConfigError(f"TinyLMConfig.{name} must be >= 1; got {getattr(self, name)}")
        if self.hidden_size % self.num_attention_heads:
            raise LMConfigError(
                f"TinyLMConfig: hidden_size ({self.hidden_size}) must be a multiple of "
                f"num_attention_heads ({self.num_attention_heads}); change one of them"
            )


def build_model(tokenizer: Any, config: TinyLMConfig | None = None) -> Any:
    """A randomly initialised ``LlamaForCausalLM`` sized for ``tokenizer``'s vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = config or TinyLMConfig()
    torch.manual_seed(cfg.seed)
    lcfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        num_key_value_heads=cfg.num_attention_heads,
        max_position_embeddings=cfg.max_position_embeddings,
        tie_word_embeddings=cfg.tie_word_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = LlamaForCausalLM(lcfg)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def count_parameters(model: Any, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def load_lm(path: str | Path, dtype: str = "float32") -> tuple[Any, Any]:
    """The model and tokenizer of a local checkpoint folder, ready for inference.

    A folder with ``adapter_config.json`` is a PEFT adapter: its base model (the path in the
    adapter config, or ``base/`` inside the folder) is loaded and the adapter merged in.

    Raises:
        LMArtifactError: the folder is missing or does not hold a causal LM and tokenizer.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    # a tiny checkpoint loads in milliseconds; its per-tensor progress bar would only
    # clutter the output of commands (and break ``--json``)
    hf_logging.disable_progress_bar()

    p = Path(path)
    if not p.is_dir():
        raise LMArtifactError(
            f"{p}: no LM checkpoint folder; train one with `shopops train sft` "
            "(or pass --base-model with a local Hugging Face model folder)"
        )
    torch_dtype = getattr(torch, dtype)
    try:
        adapter = p / "adapter_config.json"
        if adapter.exists():
            from peft import PeftModel

            base_path = Path(json.loads(adapter.read_text())["base_model_name_or_path"])
            if not base_path.is_dir():
                base_path = p / "base"
            base = AutoModelForCausalLM.from_pretrained(
                base_path, dtype=torch_dtype, local_files_only=True
            )
            model = PeftModel.from_pretrained(base, p, local_files_only=True).merge_and_unload()
            tok_path = p if (p / "tokenizer.json").exists() else base_path
        else:
            model = AutoModelForCausalLM.from_pretrained(
                p, dtype=torch_dtype, local_files_only=True
            )
            tok_path = p
        tokenizer = AutoTokenizer.from_pretrained(tok_path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise LMArtifactError(f"{p}: cannot load a causal LM checkpoint: {exc}") from None
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def save_lm(
    model: Any, tokenizer: Any, path: str | Path, record: dict[str, Any] | None = None
) -> Path:
    """Save model (safetensors), tokenizer and an optional ``train_record.json`` to ``path``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(p, safe_serialization=True)
    tokenizer.save_pretrained(p)
    if record is not None:
        (p / "train_record.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return p
