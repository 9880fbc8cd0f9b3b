"""How well the reader reads: exact-match rate per kind, invalid outputs and speed.

A reading is **exact** when its directives equal the gold ones: same kinds, same targets,
same numbers and dates (order of directives ignored). Examples come from
:func:`policies.llm.sft.build_examples` on the held-out styles (``split="heldout"``), with a
corpus seed no training run uses (:data:`HELDOUT_SEED`), so the figure measures phrasings
the model never saw.

Per-kind rates group examples by their gold kinds: a two-directive text counts under
``multi``; a text that asks nothing under ``none``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["HELDOUT_SEED", "bench_reader", "heldout_examples", "summarize_readings"]

#: Corpus seed of the held-out benchmark (training runs use small seeds from 0).
HELDOUT_SEED = 9001


def heldout_examples(n: int = 200, *, catalogues: int = 10, seed: int = HELDOUT_SEED) -> list:
    """``n`` held-out ``(ShopNames, Example)`` pairs."""
    from policies.llm.sft import build_examples

    return build_examples(n, catalogues=catalogues, seed=seed, split="heldout")


def _group(gold: Sequence[Any]) -> str:
    if len(gold) > 1:
        return "multi"
    return gold[0].kind


def bench_reader(
    reader: Any,
    pairs: Sequence[tuple[Any, Any]],
    progress: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Read every example; one row per example (exact, group, seconds, error, lines).
    ``progress(done, total, row)`` is called after each."""
    from policies.llm.errors import ReaderError
    from policies.llm.reader import exact_match

    rows: list[dict[str, Any]] = []
    for k, (names, ex) in enumerate(pairs):
        row: dict[str, Any] = {"group": _group(ex.directives), "style": ex.style}
        try:
            reading = reader.read(ex.text, ex.doc_date, names)
        except ReaderError as exc:
            row.update(exact=False, invalid=True, error=str(exc), seconds=None, lines=[])
        else:
            row.update(
                exact=exact_match(reading.directives, ex.directives),
                invalid=False,
                seconds=reading.seconds,
                confidence=reading.confidence,
                lines=reading.lines,
            )
        rows.append(row)
        if progress is not None:
            progress(k + 1, len(pairs), row)
    return rows


def summarize_readings(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Exact rate overall and per group, invalid count, and speed (median, p90 seconds)."""
    n = len(rows)
    groups: dict[str, list[bool]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(bool(r["exact"]))
    secs = sorted(r["seconds"] for r in rows if r.get("seconds") is not None)
    exact_conf = [r["confidence"] for r in rows if r.get("exact") and "confidence" in r]
    wrong_conf = [r["confidence"] for r in rows if not r.get("exact") and "confidence" in r]
    return {
        "n": n,
        "exact": round(sum(r["exact"] for r in rows) / n, 4) if n else 0.0,
        "invalid": sum(bool(r.get("invalid")) for r in rows),
        "by_kind": {
            g: {"n": len(v), "exact": round(sum(v) / len(v), 4)} for g, v in sorted(groups.items())
        },
        "seconds_median": round(statistics.median(secs), 3) if secs else None,
        "seconds_p90": round(secs[int(0.9 * (len(secs) - 1))], 3) if secs else None,
        "confidence_median_exact": round(statistics.median(exact_conf), 3) if exact_conf else None,
        "confidence_median_wrong": round(statistics.median(wrong_conf), 3) if wrong_conf else None,
    }
