"""Action lines: the plain-JSON form of one decision, and their idempotency keys.

An action line is a ``dict`` (JSON types only, so it can travel in graph state, messages
and the store)::

    {"kind": "restock",   "sku": "pantry-00003", "quantity": 40}
    {"kind": "promotion", "sku": "pantry-00003", "discount": 0.2, "duration_days": 7}

A promotion with ``discount`` 0 ends a running promotion. :func:`lines_from_arrays` and
:func:`arrays_from_lines` convert between lines and the simulator's
:class:`~envs.plan.PlanArrays`; :func:`idempotency_key` is the key every execution carries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from envs.plan import PlanArrays

__all__ = [
    "ACTION_KINDS",
    "TOOL_FOR_KIND",
    "arrays_from_lines",
    "idempotency_key",
    "line_summary",
    "lines_from_arrays",
]

#: The two kinds of action a plan holds.
ACTION_KINDS = ("restock", "promotion")
#: The tool (and message tool-call) name that carries each kind.
TOOL_FOR_KIND = {"restock": "place_purchase_order", "promotion": "set_promotion"}


def idempotency_key(run_id: str, day: int, sku: str, kind: str) -> str:
    """``sha256(run, day, sku, kind)`` in hex (64 characters): one key per decision.

    The same run, day, SKU and kind always give the same key, so the store's unique
    constraint makes a second execution impossible.
    """
    raw = f"{run_id}\x1f{int(day)}\x1f{sku}\x1f{kind}".encode()
    return hashlib.sha256(raw).hexdigest()


def lines_from_arrays(arrays: PlanArrays, sku_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every non-zero order and every promotion change in ``arrays`` as action lines."""
    out: list[dict[str, Any]] = []
    qty = np.ceil(np.asarray(arrays.order_qty, dtype=float))
    for i in np.flatnonzero(qty > 0).tolist():
        out.append({"kind": "restock", "sku": sku_ids[i], "quantity": int(qty[i])})
    for i in np.flatnonzero(arrays.promo_set).tolist():
        out.append(
            {
                "kind": "promotion",
                "sku": sku_ids[i],
                "discount": round(float(arrays.discount[i]), 6),
                "duration_days": max(1, int(arrays.duration[i])),
            }
        )
    return out


def arrays_from_lines(
    lines: Iterable[Mapping[str, Any]], sku_index: Mapping[str, int]
) -> PlanArrays:
    """The vector form of ``lines``; restocks of one SKU add up, the last promotion wins.

    Lines naming SKUs outside ``sku_index`` are ignored (the guardrails refuse them first).
    """
    arrays = PlanArrays.empty(len(sku_index))
    for line in lines:
        pos = sku_index.get(line["sku"])
        if pos is None:
            continue
        if line["kind"] == "restock":
            arrays.order_qty[pos] += float(line["quantity"])
        else:
            arrays.promo_set[pos] = True
            arrays.discount[pos] = float(line["discount"])
            arrays.duration[pos] = int(line.get("duration_days", 7))
    return arrays


def line_summary(line: Mapping[str, Any]) -> str:
    """One human line: ``restock pantry-00003 x40`` / ``promotion pantry-00003 -20% 7d``."""
    if line["kind"] == "restock":
        return f"restock {line['sku']} x{int(line['quantity'])}"
    d = float(line["discount"])
    if d <= 0:
        return f"end promotion {line['sku']}"
    return f"promotion {line['sku']} -{d:.0%} {int(line.get('duration_days', 7))}d"
