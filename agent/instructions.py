"""A person's free-form instruction ("don't discount the pantry range this month") becomes a
knowledge-base document, after they confirm the reading.

The chat reads the line with the reader (:mod:`policies.llm.reader`), shows the directives
it made of it, and files nothing until the person says so (:func:`file_instruction`). The
filed document is an ``instruction`` by that person, and its directives are confirmed by
them in the same transaction, so they are in force from the next decision whatever the
reader's confidence was. The reading is typed and validated like any other: an instruction
can ask for nothing a directive cannot express, and the guardrails still hold.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from sqlalchemy import select

from agent.errors import ApprovalError

__all__ = ["Instruction", "RunShop", "file_instruction", "looks_like_question", "run_shop"]

_QUESTION_START = re.compile(
    r"^(why|what|whats|what's|how|when|where|which|who|is|are|was|were|do|does|did|can|could|"
    r"should|would|will|tell|explain|show)\b",
    re.I,
)


def looks_like_question(line: str) -> bool:
    """A question (or a request to explain), not an instruction."""
    return line.rstrip().endswith("?") or bool(_QUESTION_START.match(line.strip()))


@dataclasses.dataclass(frozen=True)
class RunShop:
    """The shop a chat is about: its knowledge-base key, scenario, today's date and names."""

    shop_id: str
    run_id: str
    scenario: str | None
    today: dt.date | None
    uses_knowledge: bool


def run_shop(store: Any, run_id: str | None) -> RunShop | None:
    """The shop of ``run_id`` (default: the latest run), or ``None`` when there is no run."""
    from agent.store.models import Run

    with store.session() as s:
        q = select(Run) if run_id else select(Run).order_by(Run.created_at.desc()).limit(1)
        if run_id:
            q = q.where(Run.id == run_id)
        run = s.scalars(q).first()
        if run is None:
            return None
        today = None
        if run.scenario:
            from envs.scenario import load_scenario

            try:
                start = load_scenario(run.scenario).start_date
                today = start + dt.timedelta(days=int(run.current_day))
            except Exception:  # a scenario file moved away: no date, no reading
                today = None
        return RunShop(run.shop_id, run.id, run.scenario, today,
                       bool((run.config or {}).get("knowledge")))  # fmt: skip


@dataclasses.dataclass
class Instruction:
    """A line read as directives, waiting for its author's confirmation."""

    text: str
    reading: Any
    shop: RunShop

    def describe(self) -> str:
        from envs.directives import directive_summary

        lines = [f"I read this as {len(self.reading.directives)} directive(s) for shop "
                 f"{self.shop.shop_id} on {self.shop.today}:"]  # fmt: skip
        lines += [f"  - {directive_summary(d)}" for d in self.reading.directives]
        lines.append("Say `file it` to add it to the knowledge base (in force from the next "
                     "decision), or `drop it`.")  # fmt: skip
        if not self.shop.uses_knowledge:
            lines.append(f"Note: run {self.shop.run_id} does not use the knowledge base "
                         "(`shopops run --kb`), so it will not steer that run.")  # fmt: skip
        return "\n".join(lines)


def read_instruction(reader: Any, text: str, shop: RunShop) -> Instruction | None:
    """Read ``text``; an :class:`Instruction` when it asks for something, else ``None``.

    Raises:
        ApprovalError: the run's shop has no scenario date or catalogue to read against.
    """
    from agent.kb import shop_names

    if shop.scenario is None or shop.today is None:
        raise ApprovalError(
            f"run {shop.run_id} is not a simulated shop with a scenario; file instructions "
            "with `shopops kb add` instead"
        )
    reading = reader.read(text, shop.today, shop_names(shop.scenario))
    if all(d.kind == "none" for d in reading.directives):
        return None
    return Instruction(text, reading, shop)


def file_instruction(store: Any, instruction: Instruction, by: str) -> int:
    """File the instruction as a document by ``by`` with its directives confirmed by them;
    returns the document id."""
    from agent.kb import add_and_read
    from agent.store import kb as store_kb

    shop = instruction.shop
    with store.session() as s:
        doc, rows = add_and_read(
            s, shop.shop_id, text=instruction.text, doc_date=shop.today, reader=None,
            names=None, reading=instruction.reading, kind="instruction",
            title=" ".join(instruction.text.split())[:120], source="chat", author=by,
        )  # fmt: skip
        for row in rows:
            if row.status in ("proposed", "pending_review"):
                store_kb.review_directive(
                    s, row.id, verdict="confirm", by=by, reason="confirmed in the chat"
                )
        return int(doc.id)
