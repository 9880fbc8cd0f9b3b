"""A word-level tokenizer trained on our own prompts and completions (no downloads).

Every prompt is a line of ``key=value`` words (see :mod:`policies.lm.codec`), so one word is
one token: prompts are ~22 tokens and a decision is 3 tokens plus end-of-sequence. The
vocabulary is every bucket word the codec can write (seeded, so no number is ever unknown),
every completion word, and the words of a training corpus that occur at least
``min_frequency`` times (category names, for instance). Anything else, product names
included, becomes ``<unk>``.

The result is a :class:`transformers.PreTrainedTokenizerFast` with ``<s>`` prepended to
every text, ``</s>`` as end of sequence, ``<pad>`` for padding and left padding (batched
generation). ``save_pretrained`` / ``AutoTokenizer.from_pretrained`` round-trip it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SPECIAL_TOKENS", "build_tokenizer"]

#: pad, unknown, beginning and end of sequence, in id order 0..3.
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")


def build_tokenizer(corpus: Iterable[str], min_frequency: int = 2) -> Any:
    """Train the word-level tokenizer on ``corpus`` (prompts, or prompt + completion texts).

    Args:
        corpus: texts to learn extra words from (category names and the like).
        min_frequency: a corpus word needs this many occurrences to get its own token.

    Returns:
        A ``PreTrainedTokenizerFast`` (left padding, ``<s>`` prepended, ``</s>`` as EOS).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from policies.lm.codec import LMCodec
    from policies.lm.grammar import all_completions

    seeded = set(LMCodec.vocabulary_words())
    for text in all_completions():
        seeded.update(text.split(" "))
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(
        vocab_size=100_000,
        min_frequency=max(1, int(min_frequency)),
        special_tokens=list(SPECIAL_TOKENS),
    )
    tok.train_from_iterator(_with_seed(corpus, sorted(seeded), min_frequency), trainer=trainer)
    bos, eos = SPECIAL_TOKENS[2], SPECIAL_TOKENS[3]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, tok.token_to_id(bos))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token=bos,
        eos_token=eos,
        padding_side="left",
        model_max_length=128,
    )


def _with_seed(corpus: Iterable[str], seeded: list[str], min_frequency: int) -> Iterable[str]:
    # Seeded words are repeated so they pass ``min_frequency`` whatever the corpus holds.
    line = " ".join(seeded)
    for _ in range(max(1, int(min_frequency))):
        yield line
    yield from corpus
