"""Does reading pay? The agent with and without its knowledge base, on notice scenarios.

For each seed, the same agent (same policy, approval mode ``auto``: nobody answers, so a
reading below the confidence threshold never takes effect) runs the whole scenario twice in
fresh stores, once with ``knowledge=True`` (the day's notices are read by the LLM into the
knowledge base; hard directives enforced, soft ones planned with) and once without. Both
runs share the episode seed, so their random futures are the same (common random numbers)
and the per-seed difference is a paired comparison.

A third variant, ``with_kb_reviewed``, adds a person who reviews every reading that waits for
review as it is filed (:class:`ScenarioReviewer`, who knows what each notice truly asks:
the scenario's ``effects``). It confirms right readings, edits wrong ones, and adds what the
reader missed (:func:`agent.kb.reconcile_reading`): the human-in-the-loop use, where the
reader drafts and a person signs. Confident readings (at or above the threshold) still act
alone and are not reviewed.

Reported per variant: profit, % of the oracle bound (the oracle knows every notice's true
effect, :func:`policies.oracle.profit_bound`), compliance violations (SKU-days charged a
notice's fine or penalty) and the fines paid; and the paired difference with its 95%
Student-t interval over seeds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ScenarioReviewer", "compare_knowledge"]

VARIANTS = ("without_kb", "with_kb", "with_kb_reviewed")


class ScenarioReviewer:
    """A simulated person who knows what each of a scenario's notices truly asks (its
    ``effects``): the harness's stand-in for the merchant reviewing readings. A text that is
    not one of the scenario's notices is left waiting."""

    name = "scenario-reviewer"

    def __init__(self, scenario: str) -> None:
        from envs.scenario import load_scenario

        self.truth: dict[str, list[dict[str, Any]]] = {}
        for n in load_scenario(scenario).notices:
            effects = [e.model_dump(mode="json") for e in n.effects]
            self.truth[n.text] = effects or [{"kind": "none"}]

    def review(self, text: str, doc_date: Any) -> list[dict[str, Any]] | None:
        return self.truth.get(text)


def _run(
    scenario: str, seed: int, policy: str, knowledge: bool, db: Path, adapter: str,
    llm: str | None, reviewer: Any = None,
) -> dict[str, Any]:  # fmt: skip
    from sqlalchemy import select

    from agent.runner import run_shop_days
    from agent.store import open_store
    from agent.store.models import DayOutcome

    t0 = time.perf_counter()
    summary = run_shop_days(
        scenario=scenario, days=100_000, policy=policy, approval_mode="auto", approver="none",
        seed=seed, new=True, db_url=str(db), knowledge=knowledge, llm=llm,
        reader_adapter=adapter, kb_reviewer=reviewer,
    )  # fmt: skip
    store = open_store(str(db))
    try:
        with store.session() as s:
            rows = s.execute(
                select(DayOutcome.breakdown, DayOutcome.totals).where(
                    DayOutcome.run_id == summary.run_id
                )
            ).all()
    finally:
        store.close()
    return {
        "profit": float(summary.profit),
        "violations": int(sum(t.get("violation_sku_days", 0) for _, t in rows)),
        "fines": float(sum(b.get("compliance", 0.0) for b, _ in rows)),
        "days": len(rows),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def compare_knowledge(
    scenario: str = "notices_holdout",
    seeds: Sequence[int] = tuple(range(7)),
    *,
    policy: str = "base_stock",
    adapter: str = "default",
    llm: str | None = None,
    progress: Callable[[str], None] | None = None,
    reviewed: bool = True,
) -> dict[str, Any]:
    """Run the variants on every seed (``with_kb_reviewed`` only when ``reviewed``); return
    per-seed rows, per-variant summaries and the paired differences against ``without_kb``."""
    from envs.simulator import MarketSimulator
    from eval.stats import t_interval
    from policies.oracle import profit_bound

    say = progress or (lambda _m: None)
    rows: list[dict[str, Any]] = []
    variants = VARIANTS if reviewed else VARIANTS[:2]
    reviewer = ScenarioReviewer(scenario) if reviewed else None
    with tempfile.TemporaryDirectory(prefix="shopops-kb-eval-") as tmp:
        for seed in seeds:
            bound = float(profit_bound(MarketSimulator.from_scenario(scenario, seed=seed)))
            row: dict[str, Any] = {"seed": int(seed), "bound": bound}
            for name in variants:
                db = Path(tmp) / f"{name}-{seed}.db"
                r = _run(scenario, seed, policy, name != "without_kb", db, adapter, llm,
                         reviewer if name == "with_kb_reviewed" else None)  # fmt: skip
                r["pct_of_bound"] = 100.0 * r["profit"] / bound if bound else float("nan")
                row[name] = r
                say(f"seed {seed} {name}: profit {r['profit']:,.0f} "
                    f"({r['pct_of_bound']:.1f}% of bound), {r['violations']} violations, "
                    f"{r['seconds']:.0f} s")  # fmt: skip
            rows.append(row)
    def paired(name: str) -> dict[str, Any]:
        ci = t_interval([r[name]["profit"] - r["without_kb"]["profit"] for r in rows])
        return {"mean": ci.mean, "low": ci.low, "high": ci.high, "n": ci.n}

    def med(name: str, key: str) -> float:
        return float(statistics.median(r[name][key] for r in rows))

    return {
        "scenario": scenario,
        "policy": policy,
        "seeds": [int(s) for s in seeds],
        "rows": rows,
        "summary": {
            name: {
                "profit_mean": float(statistics.fmean(r[name]["profit"] for r in rows)),
                "pct_of_bound_median": med(name, "pct_of_bound"),
                "violations_total": int(sum(r[name]["violations"] for r in rows)),
                "fines_total": float(sum(r[name]["fines"] for r in rows)),
            }
            for name in variants
        },
        "paired_difference": paired("with_kb"),
        "paired_difference_reviewed": paired("with_kb_reviewed") if reviewed else None,
    }
