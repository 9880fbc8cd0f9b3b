"""Batched generation: one ``generate`` call decides every SKU of a shop-day.

Prompts are left-padded into batches of ``batch_size`` rows; each row generates at most the
grammar's longest completion (4 tokens with our tokenizer). With ``constrained=True`` the
:class:`~policies.lm.constrained.GrammarMask` keeps every completion in the grammar and
reports how many would have left it without the mask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

__all__ = ["Generation", "generate_completions"]


@dataclasses.dataclass
class Generation:
    """Completions (cut at end of sequence) and, per row, whether the mask was needed."""

    texts: list[str]
    unmasked_invalid: list[bool]


def generate_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    constrained: bool = True,
    do_sample: bool = False,
    temperature: float = 1.0,
    batch_size: int = 1024,
    max_new_tokens: int | None = None,
    trie: Any = None,
) -> Generation:
    """Generate one completion per prompt.

    Args:
        model: a causal LM (in eval mode).
        tokenizer: its tokenizer (left padding is set here).
        prompts: prompt texts (ending in ``->``).
        constrained: mask tokens outside the grammar.
        do_sample: sample (with ``temperature``) instead of greedy decoding.
        batch_size: rows per ``generate`` call.
        max_new_tokens: cap on generated tokens (default: the grammar's longest completion,
            or 12 unconstrained).
        trie: a prebuilt :class:`~policies.lm.constrained.GrammarTrie` (built if ``None``).
    """
    import torch
    from transformers import LogitsProcessorList

    from policies.lm.constrained import GrammarMask, GrammarTrie

    tokenizer.padding_side = "left"
    if trie is None:
        trie = GrammarTrie(tokenizer)
    cap = max_new_tokens or (trie.depth if constrained else max(12, trie.depth))
    device = next(model.parameters()).device
    vocab = model.get_output_embeddings().weight.shape[0]
    texts: list[str] = []
    flags: list[bool] = []
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start : start + batch_size])
        enc = tokenizer(chunk, return_tensors="pt", padding=True).to(device)
        mask = GrammarMask(trie, enc["input_ids"].shape[1], vocab)
        kwargs: dict[str, Any] = dict(
            max_new_tokens=cap,
            do_sample=do_sample,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            logits_processor=LogitsProcessorList([mask]) if constrained else None,
        )
        if do_sample:
            kwargs.update(temperature=temperature, top_k=0, top_p=1.0)
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        texts.extend(_decode_rows(tokenizer, new))
        if constrained:
            flags.extend(bool(x) for x in mask.unmasked_invalid.tolist())
        else:
            flags.extend([False] * len(chunk))
    return Generation(texts=texts, unmasked_invalid=flags)


def _decode_rows(tokenizer: Any, rows: list[list[int]]) -> list[str]:
    """Text of each row up to its first EOS, padding dropped, other special tokens kept.

    Keeping ``<unk>`` and ``<s>`` in the text (instead of ``skip_special_tokens``) means a
    completion with a stray special token fails the strict parser instead of silently
    turning into a valid decision.
    """
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    out = []
    for ids in rows:
        if eos in ids:
            ids = ids[: ids.index(eos)]
        ids = [i for i in ids if i != pad or pad == eos]
        out.append(tokenizer.decode(ids, skip_special_tokens=False))
    return out
