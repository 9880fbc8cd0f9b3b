"""The completion grammar: the whole decision a language model may write for one SKU.

A completion is exactly one line of three ``key=value`` words separated by single spaces::

    restock=<cover> discount=<percent> days=<k>

* ``restock``: one of :data:`RESTOCK_LEVELS`, written as ``format(c, "g")`` (``0.25``, ``7``).
  ``0`` means *no order today*; ``c > 0`` means *order up to* ``forecast x (lead time + c)``
  days of demand (the codec turns this into units with the SKU's own numbers; the model never
  writes a quantity). The levels are quarter days below 2, because the cover that matters for
  a fast SKU on a short lead time is often between 1 and 2 days: the textbook base-stock
  level of the ``classic`` scenario is 1.7 days beyond the lead time.
* ``discount``: one of :data:`DISCOUNT_LEVELS` (percent off the list price). ``0`` leaves the
  SKU's price alone (a running promotion continues).
* ``days``: the promotion's length, one of :data:`PROMO_DAYS`; it is ``0`` exactly when
  ``discount=0``.

Nothing else is accepted: no extra spaces, words, signs, leading zeros or other values.
:func:`parse_completion` returns ``None`` for anything outside the grammar; callers fall back
to a safe action and count it (see :mod:`policies.lm.codec`).

>>> parse_completion("restock=7 discount=20 days=7")
Decision(restock=7, discount=20, days=7)
>>> parse_completion("restock=1.75 discount=0 days=0")
Decision(restock=1.75, discount=0, days=0)
>>> parse_completion("restock=7 discount=20 days=0") is None
True
>>> format_completion(Decision(3, 0, 0))
'restock=3 discount=0 days=0'
>>> len(all_decisions())
288
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "COMPLETION_PREFIX",
    "DISCOUNT_LEVELS",
    "PROMO_DAYS",
    "RESTOCK_LEVELS",
    "SAFE_DECISION",
    "WORD_PATTERNS",
    "Decision",
    "all_completions",
    "all_decisions",
    "completion_text",
    "format_completion",
    "is_valid",
    "parse_completion",
]

#: Days of demand beyond the lead time to order up to (0: no order today).
RESTOCK_LEVELS: tuple[float, ...] = (
    0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 7, 10, 14, 21, 28,
)
#: Promotion depths in percent of the list price (0: no price change).
DISCOUNT_LEVELS: tuple[int, ...] = (0, 10, 20, 30, 40, 50)
#: Promotion lengths in days (0 only with discount 0).
PROMO_DAYS: tuple[int, ...] = (0, 2, 7, 14)

#: Every completion starts with this (prompts end with ``->``).
COMPLETION_PREFIX = " "

#: The shape of each of the three words, in order (values are checked against the levels).
WORD_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"restock=(0|[1-9][0-9]?|[0-9]\.[0-9][0-9]?)"),
    re.compile(r"discount=(0|[1-9]0)"),
    re.compile(r"days=(0|[1-9][0-9]?)"),
)
_PATTERN = re.compile(" ".join(p.pattern for p in WORD_PATTERNS))
#: The exact word of every restock level ("0.25", "7"): "0.250" or "7.0" are not in the grammar.
_RESTOCK_WORDS: dict[str, float] = {format(c, "g"): c for c in RESTOCK_LEVELS}


class Decision(NamedTuple):
    """One SKU's decision in grammar units (see the module docstring)."""

    restock: float
    discount: int
    days: int


#: The action an invalid completion falls back to: no order, no price change.
SAFE_DECISION = Decision(0, 0, 0)


def is_valid(d: Decision) -> bool:
    """True when every field is in its vocabulary and ``days == 0`` iff ``discount == 0``."""
    return (
        d.restock in RESTOCK_LEVELS
        and d.discount in DISCOUNT_LEVELS
        and d.days in PROMO_DAYS
        and (d.discount == 0) == (d.days == 0)
    )


def format_completion(d: Decision) -> str:
    """The completion text of a valid decision.

    Raises:
        GrammarError: ``d`` is outside the grammar.
    """
    if not is_valid(d):
        from policies.lm.errors import GrammarError

        raise GrammarError(f"decision {tuple(d)} is outside the grammar")
    return f"restock={format(d.restock, 'g')} discount={d.discount} days={d.days}"


def parse_completion(text: str) -> Decision | None:
    """The decision a completion states, or ``None`` when it is not exactly in the grammar.

    Completions follow a prompt ending in ``->``, so one leading space is part of the format
    (:data:`COMPLETION_PREFIX`); one trailing newline is ignored too. Anything else (an
    end-of-sequence marker, more whitespace, extra words) makes the text invalid: strip
    special tokens before calling (``skip_special_tokens=True``).
    """
    if not isinstance(text, str):
        return None
    if text.startswith(COMPLETION_PREFIX):
        text = text[len(COMPLETION_PREFIX):]
    if text.endswith("\n"):
        text = text[:-1]
    m = _PATTERN.fullmatch(text)
    if m is None:
        return None
    restock = _RESTOCK_WORDS.get(m.group(1))
    if restock is None:
        return None
    d = Decision(restock, int(m.group(2)), int(m.group(3)))
    return d if is_valid(d) else None


@lru_cache(maxsize=1)
def all_decisions() -> tuple[Decision, ...]:
    """Every valid decision, in a fixed order."""
    out = []
    for r in RESTOCK_LEVELS:
        for disc in DISCOUNT_LEVELS:
            for k in PROMO_DAYS:
                d = Decision(r, disc, k)
                if is_valid(d):
                    out.append(d)
    return tuple(out)


def all_completions() -> tuple[str, ...]:
    """The text of every valid decision (the language the constrained decoder allows)."""
    return tuple(format_completion(d) for d in all_decisions())


def completion_text(d: Decision) -> str:
    """The completion as it follows a prompt: :data:`COMPLETION_PREFIX` + the decision."""
    return COMPLETION_PREFIX + format_completion(d)
