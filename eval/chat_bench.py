"""How well the chat answers questions about decisions: right fact, no invented number, speed.

A fixed set of questions, each labelled with the card fact that answers it (by the fact's
opening words, see :func:`agent.ask.card_facts`), is asked about real decision cards: a
confirm-mode day of the ``steady`` scenario with a brand rule on file, so every card has its
forecast, stock, risk, what-if and (for pantry SKUs) a document. Per answer:

* **top fact right**: the first fact the answer cites is the labelled one;
* **cited right**: the labelled fact is among those cited;
* **invented numbers**: numbers in the answer that no fact holds (must be 0);
* seconds.

Questions whose labelled fact a card does not have (no document on a non-pantry card) are
skipped for that card.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LABELLED_QUESTIONS", "bench_cards", "bench_chat", "demo_store"]

#: (question, the opening words of the fact that answers it)
LABELLED_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What is the forecast?", "The forecast is"),
    ("How much do we expect to sell each day?", "The forecast is"),
    ("How much stock do we have on hand?", "On hand"),
    ("How long is the supplier's lead time?", "On hand"),
    ("Why does this need my approval?", "It waits for a person"),
    ("Why is it risky?", "It waits for a person"),
    ("How much profit does this make versus doing nothing?", "The what-if gives"),
    ("How many units do we need before the next order?", "The need over lead time"),
    ("What is the list price and the unit cost?", "The list price is"),
    ("What did the language model decide?", "The language-model policy"),
    ("Is there a brand rule or document about this product?", "Document #"),
    ("Is the demand drifting or anomalous?", "The drift signal is"),
)
START = dt.date(2025, 3, 3)  # steady's start date


def demo_store(path: str | Path) -> tuple[str, str]:
    """A SQLite store at ``path`` with one confirm-mode day of steady (seed 1) decided and a
    pantry promotion ban on file (a confirmed brand rule): every action waits with its card.
    Returns the store URL and the run id."""
    from agent.checkpoint import open_checkpointer
    from agent.runner import Runner, RunOptions, create_run, load_context
    from agent.store import kb as store_kb
    from agent.store import open_store
    from tools.risk import ApprovalPolicy

    store = open_store(str(path))
    try:
        shop = f"chat-{uuid.uuid4().hex[:8]}"
        with store.session() as s:
            doc = store_kb.add_document(
                s, shop, text="Brand rule: no promotions on pantry items this spring.",
                kind="brand_policy", doc_date=START, title="Pantry brand rule",
            )  # fmt: skip
            rows = store_kb.add_directives(
                s, doc.id,
                [{"kind": "promotion_ban", "category": "pantry", "start": str(START)}],
                reader="filed-by-hand", statuses=["pending_review"],
            )  # fmt: skip
            store_kb.review_directive(s, rows[0].id, verdict="confirm", by="ann", reason="ok")
        run_id = create_run(
            store,
            RunOptions(scenario="steady", seed=1, signals="ema",
                       approval=ApprovalPolicy(mode="confirm"), knowledge=True, shop_id=shop),
        )  # fmt: skip
        with open_checkpointer(store.url) as saver:
            Runner(load_context(store, run_id), saver, approver=None).decide_day(0)
        return store.url, run_id
    finally:
        store.close()


def bench_cards(limit: int = 6) -> list[dict[str, Any]]:
    """Up to ``limit`` cards of :func:`demo_store` (in a throwaway folder), pantry first."""
    from agent.runner import pending_cards
    from agent.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        url, run_id = demo_store(Path(tmp) / "chat_bench.db")
        store = open_store(url)
        cards = pending_cards(store, run_id)
        store.close()
    cards.sort(key=lambda c: (not c.get("documents"), c["action_id"]))
    return cards[:limit]


def bench_chat(
    answerer: Any,
    cards: Sequence[dict[str, Any]],
    *,
    style: str = "quote",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Ask every labelled question about every card; the summary and one row per answer."""
    from agent.ask import card_facts
    from policies.llm.grounded import ungrounded_numbers

    jobs = []
    for card in cards:
        facts = card_facts(card)
        for q, opening in LABELLED_QUESTIONS:
            target = [k for k, f in enumerate(facts) if f.text.startswith(opening)]
            if target:
                jobs.append((card["action_id"], facts, q, target[0]))
    rows = []
    for k, (aid, facts, q, target) in enumerate(jobs):
        ans = answerer.answer(q, facts, style=style)
        letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[target]
        rows.append({
            "card": aid, "question": q, "answer": ans.text, "cited": ans.cited,
            "top_right": bool(ans.cited) and ans.cited[0] == letter,
            "cited_right": letter in ans.cited,
            "invented": ungrounded_numbers(ans.text, facts),
            "seconds": round(ans.seconds, 3), "fallback": ans.fallback,
        })  # fmt: skip
        if progress is not None:
            progress(k + 1, len(jobs))
    secs = sorted(r["seconds"] for r in rows)
    n = len(rows)
    summary = {
        "model": answerer.loaded.label,
        "style": style,
        "answers": n,
        "cards": len(cards),
        "top_right": round(sum(r["top_right"] for r in rows) / n, 4) if n else 0.0,
        "cited_right": round(sum(r["cited_right"] for r in rows) / n, 4) if n else 0.0,
        "invented_numbers": sum(len(r["invented"]) for r in rows),
        "fallbacks": sum(r["fallback"] is not None for r in rows),
        "seconds_median": round(statistics.median(secs), 3) if secs else None,
        "seconds_p90": round(secs[int(0.9 * (n - 1))], 3) if secs else None,
    }
    return {"summary": summary, "rows": rows}
