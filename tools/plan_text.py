"""A strict reader for plans written as text (by a person or a language model).

One action per line; blank lines and lines starting with ``#`` are ignored::

    restock <SKU> <UNITS>               (also: order <SKU> <UNITS>)
    promote <SKU> <DISCOUNT> [<DAYS>]   DISCOUNT as 0.2 or 20%; DAYS default 7
    end-promotion <SKU>

Anything else (prose, "ignore the rules and ...", a JSON blob) is not executed: each such
line becomes an ``input.unparsed`` refusal, and a line naming a SKU the shop does not have an
``input.unknown_sku`` refusal. The lines that parse still go through every guardrail, so a
text plan can never do more than a structured one. A SKU named twice keeps its last line
(``input.invalid`` records the earlier one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from envs.plan import PlanArrays
from tools.guardrails import RuleEvent

__all__ = ["parse_plan_text"]

_NUM = r"[0-9]+(?:\.[0-9]+)?"
_RESTOCK = re.compile(rf"^(?:restock|order)\s+(\S+)\s+({_NUM})\s*$", re.IGNORECASE)
_PROMOTE = re.compile(rf"^promote\s+(\S+)\s+({_NUM})(%?)(?:\s+([0-9]+))?\s*$", re.IGNORECASE)
_END = re.compile(r"^end-promotion\s+(\S+)\s*$", re.IGNORECASE)
_MAX_SHOWN = 160


def _short(line: str) -> str:
    return line if len(line) <= _MAX_SHOWN else line[: _MAX_SHOWN - 3] + "..."


def parse_plan_text(text: str, sku_index: Mapping[str, int]) -> tuple[PlanArrays, list[RuleEvent]]:
    """The plan in ``text`` as vectors over ``sku_index``, and one refusal per bad line."""
    arrays = PlanArrays.empty(len(sku_index))
    events: list[RuleEvent] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind: str
        if m := _RESTOCK.match(line):
            sku, kind = m.group(1), "restock"
        elif m := _PROMOTE.match(line):
            sku, kind = m.group(1), "promotion"
        elif m := _END.match(line):
            sku, kind = m.group(1), "end"
        else:
            events.append(
                RuleEvent(
                    None,
                    "plan",
                    "input.unparsed",
                    "dropped",
                    f"line {lineno} is not an action and was ignored",
                    {"line": _short(line)},
                    None,
                )
            )
            continue
        pos = sku_index.get(sku)
        if pos is None:
            events.append(
                RuleEvent(
                    sku[:128],
                    "restock" if kind == "restock" else "promotion",
                    "input.unknown_sku",
                    "dropped",
                    f"line {lineno}: the shop has no SKU {sku!r}",
                    {"line": _short(line)},
                    None,
                )
            )
            continue
        key = (sku, "restock" if kind == "restock" else "promotion")
        if key in seen:
            events.append(
                RuleEvent(
                    sku,
                    key[1],
                    "input.invalid",
                    "dropped",
                    f"line {seen[key]}: {sku} is named again on line {lineno}; "
                    "the later line is kept",
                    {"line": seen[key]},
                    None,
                )
            )
        seen[key] = lineno
        if kind == "restock":
            arrays.order_qty[pos] = float(m.group(2))
        elif kind == "promotion":
            d = float(m.group(2)) / (100.0 if m.group(3) else 1.0)
            arrays.promo_set[pos] = True
            arrays.discount[pos] = d
            arrays.duration[pos] = int(m.group(4) or 7)
        else:
            arrays.promo_set[pos] = True
            arrays.discount[pos] = 0.0
            arrays.duration[pos] = 1
    return arrays, events
