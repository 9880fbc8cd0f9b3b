"""The approval chat: list pending decisions, show cards, explain, approve / edit / reject.

:class:`ChatSession` turns one line of text into an answer; the ``shopops chat`` command
loops over a terminal (or over ``--say`` lines when unattended). Commands and short phrases
work without any model::

    list | pending | what's pending            the open decisions
    show 12 | card 12                          a decision card
    why 12 | why is 12 risky?                  the card's reasons in words
    accept 12 [reason] | approve 12 | ok 12    approve (also: "accept all [reason]")
    edit 12 qty=30 [reason]                    change a restock's quantity
    edit 12 discount=0.1 days=5 [reason]       change a promotion
    reject 12 <reason> | no 12 <reason>        reject (a reason is required)
    executed [N] | what was executed           the last executions
    ask 12 why so much? | why is #12 so large?  a question about decision 12 (needs --llm)
    don't discount pantry items this month     an instruction: read, shown, filed on `file it`
    file it | drop it                          file the instruction just read, or forget it
    help | quit

With a local language model (``--llm default`` or a checkpoint path), free-form questions are
answered from the decision card, its signals and the knowledge base, citing them, and the
answer can contain no number that is not in them (:mod:`agent.ask`); a line that is not a
question is read as an instruction (:mod:`agent.instructions`). Where a LangChain chat model is
configured instead (``--model module:factory``, e.g. one pointing at a local
OpenAI-compatible server), other lines go to it with the shop's read-only tools. Without
either, the session says which commands exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rich.text import Text
from sqlalchemy import select

from agent.approvals import EDIT_FIELDS, parse_discount, parse_quantity
from agent.cards import card_brief, render_card
from agent.errors import AgentConfigError, ApprovalError, ShopOpsError
from agent.queries import count_pending, pending_cards
from agent.runner import answer_pending
from agent.store import Store
from agent.store.models import Execution

__all__ = ["ChatSession", "load_chat_model", "read_tools"]

_ID = r"#?(\d+)"
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("help", re.compile(r"^(help|\?|commands)$", re.I)),
    ("quit", re.compile(r"^(quit|exit|bye|q)$", re.I)),
    ("list", re.compile(r"^(list|ls|pending|what'?s pending\??|show pending|open)$", re.I)),
    ("executed", re.compile(r"^(executed|done|what was executed\??|history)(?:\s+(\d+))?$", re.I)),
    ("show", re.compile(rf"^(?:show|card|details?)\s+{_ID}$", re.I)),
    ("why", re.compile(rf"^why(?:\s+is)?\s+{_ID}(?:\s+risky)?\??$", re.I)),
    ("accept_all", re.compile(r"^(?:accept|approve)\s+all(?:\s+(.*))?$", re.I)),
    ("accept", re.compile(rf"^(?:accept|approve|ok|yes)\s+{_ID}(?:\s+(.*))?$", re.I)),
    ("reject", re.compile(rf"^(?:reject|no|decline)\s+{_ID}(?:\s+(.*))?$", re.I)),
    ("edit", re.compile(rf"^(?:edit|change)\s+{_ID}\s+(.*)$", re.I)),
    ("ask", re.compile(rf"^(?:ask|explain)\s+{_ID}\s*(.*)$", re.I)),
    ("file", re.compile(r"^(?:file it|file|yes,? file it|save it)\.?$", re.I)),
    ("drop", re.compile(r"^(?:drop it|drop|forget it)\.?$", re.I)),
]
_MENTION = re.compile(r"#(\d+)\b")
_EDIT_KV = re.compile(
    r"\b(qty|quantity|units|discount|days|duration|duration_days)\s*=\s*(\S*)", re.I
)


class ChatSession:
    """One person's approval conversation over a store.

    Replies are plain text (:class:`rich.text.Text`) or a card panel: nothing from the store
    or the person (product names, reasons) is read as Rich markup.

    Args:
        store: the open store.
        by: who is deciding (recorded with every approval).
        run_id: restrict to one run (default: all runs).
        model: an optional LangChain chat model for free-form questions.
        tools: LangChain tools given to the model.
        answerer: an optional :class:`~policies.llm.grounded.GroundedAnswerer` (local LLM).
        reader: an optional :class:`~policies.llm.reader.Reader` for instructions.
        about: the decision a free-form question is about when it names none (the
            console's open card).
        answer_style: ``quote`` (the best facts, word for word) or ``write`` (the model
            writes, with no number outside the facts); see :mod:`policies.llm.grounded`.
        memory: where an instruction waits for `file it` between lines, keyed by person and
            run (the web console passes the server's, since each request is a new session).
    """

    def __init__(
        self,
        store: Store,
        by: str,
        run_id: str | None = None,
        model: Any = None,
        tools: list[Any] | None = None,
        answerer: Any = None,
        reader: Any = None,
        about: int | None = None,
        answer_style: str = "quote",
        memory: dict[tuple[str, str | None], Any] | None = None,
    ) -> None:
        self.store, self.by, self.run_id = store, by, run_id
        self.model, self.tools = model, tools or []
        self.answerer, self.reader = answerer, reader
        self.about, self.answer_style = about, answer_style
        self._memory = memory if memory is not None else {}

    # ------------------------------------------------------------------ dispatch
    def handle(self, line: str) -> Any:
        """The reply to ``line`` (a string or a rich renderable); ``None`` means quit."""
        line = line.strip()
        if not line:
            return ""
        for name, pat in _PATTERNS:
            m = pat.match(line)
            if m:
                if name == "quit":
                    return None
                try:
                    return _plain(getattr(self, f"_do_{name}")(*m.groups()))
                except ShopOpsError as exc:
                    return Text(str(exc), style="red")
                except Exception as exc:  # the store failed: the person is told, not crashed
                    return Text(
                        f"That failed and nothing was changed ({type(exc).__name__}: "
                        f"{str(exc)[:300]}); try again.",
                        style="red",
                    )
        return _plain(self._free_form(line))

    def _cards(self) -> dict[int, dict]:
        return {c["action_id"]: c for c in pending_cards(self.store, self.run_id)}

    def _card(self, aid: str) -> dict:
        card = self._cards().get(int(aid))
        if card is None:
            raise ApprovalError(f"#{aid} is not waiting for a decision; `list` shows which are")
        return card

    def _do_help(self, *_: Any) -> str:
        return __doc__.split("::", 1)[1].split("Where a chat", 1)[0].rstrip()

    def _do_list(self, *_: Any) -> str:
        cards = self._cards()
        if not cards:
            return "Nothing is waiting for a decision."
        return "\n".join(
            [f"{len(cards)} decisions waiting:"] + [card_brief(c) for c in cards.values()]
        )

    def _do_show(self, aid: str) -> Any:
        return render_card(self._card(aid))

    def _do_why(self, aid: str) -> str:
        c = self._card(aid)
        why, risk, eff = c["why"], c["risk"], c.get("effect", {})
        parts = ", ".join(f"{k} {v:.2f}" for k, v in risk["parts"].items() if v > 0) or "none"
        text = [
            f"#{aid} {c['summary']} waits because its risk {risk['score']:.2f} is mostly "
            f"{risk['top']} ({parts})."
        ]
        text.append(
            f"Forecast {why['forecast_per_day']:.2f}/day, {why['band_days']}-day band "
            f"{why['band'][0]:.0f}..{why['band'][1]:.0f}; on hand {why['on_hand']:.0f}, "
            f"on order {why['on_order']:.0f}, cover "
            f"{why['cover_days'] if why['cover_days'] is not None else 'unbounded'} "
            f"days, lead time {why['lead_time']:.0f} days."
        )
        if c["kind"] == "restock":
            text.append(
                f"Need over lead time + review: {why['need_units']:.0f} units (up to "
                f"{why.get('need_upper_units', why['need_units']):.0f} at the upper "
                f"band); the order is worth {why['value']:.2f}."
            )
        if eff.get("unavailable"):
            text.append(f"What-if: unavailable ({eff['unavailable']}).")
        elif eff:
            text.append(
                f"What-if: {eff['profit_delta']:+.2f} profit on this SKU over "
                f"{eff['horizon_days']} days versus no action (whole plan "
                f"{eff['plan_profit_delta']:+.2f})."
            )
        for r in c.get("rules", []):
            text.append(f"Rule {r['rule']} {r['outcome']} it: {r['detail']}.")
        return " ".join(text)

    def _answer(self, decisions: dict[int, dict]) -> str:
        cards = self._cards()
        by_run: dict[str, dict[str, dict]] = {}
        for aid, d in decisions.items():
            c = cards.get(aid)
            if c is None:
                raise ApprovalError(f"#{aid} is not waiting for a decision; `list` shows which are")
            by_run.setdefault(c["run_id"], {})[str(aid)] = d
        out = []
        for run_id, ds in by_run.items():
            res = answer_pending(self.store, run_id, {"by": self.by, "decisions": ds})
            out.append(res.text())
        left = count_pending(self.store, self.run_id)
        out.append(f"{left} decision(s) still waiting." if left else "Nothing else is waiting.")
        return "\n".join(out)

    def _do_accept(self, aid: str, reason: str | None) -> str:
        return self._answer({int(aid): {"choice": "accept", "reason": reason or ""}})

    def _do_accept_all(self, reason: str | None) -> str:
        cards = self._cards()
        if not cards:
            return "Nothing is waiting for a decision."
        return self._answer(
            {a: {"choice": "accept", "reason": reason or "accepted all"} for a in cards}
        )

    def _do_reject(self, aid: str, reason: str | None) -> str:
        if not reason:
            return "A rejection needs a reason: `reject 12 supplier is unreliable`."
        return self._answer({int(aid): {"choice": "reject", "reason": reason}})

    def _do_edit(self, aid: str, rest: str) -> str:
        card = self._card(aid)
        d: dict[str, Any] = {"choice": "edit"}
        for key, val in _EDIT_KV.findall(rest):
            k = key.lower()
            if k in ("qty", "quantity", "units"):
                d["quantity"] = parse_quantity(val, "qty")
            elif k == "discount":
                d["discount"] = parse_discount(val, "discount")
            else:
                d["duration_days"] = val
        d["reason"] = _EDIT_KV.sub("", rest).strip(" ,;")
        if not any(f in d for f in EDIT_FIELDS[card["kind"]]):
            return f"#{aid} is a {card['kind']}: say " + (
                "`edit 12 qty=30 reason`"
                if card["kind"] == "restock"
                else "`edit 12 discount=0.1 days=5 reason`"
            )
        return self._answer({int(aid): d})

    def _do_executed(self, _word: str, n: str | None) -> str:
        limit = int(n or 10)
        with self.store.session() as s:
            q = select(Execution).order_by(Execution.id.desc()).limit(limit)
            if self.run_id:
                q = q.where(Execution.run_id == self.run_id)
            rows = s.scalars(q).all()
        if not rows:
            return "Nothing has been executed yet."
        from tools.actions import line_summary

        return "\n".join(
            f"run {e.run_id} day {e.day} (applied day {e.applied_day}): {line_summary(e.params)}"
            for e in rows
        )

    # ------------------------------------------------------------------ language model
    def _kb_shop(self) -> str | None:
        from agent.instructions import run_shop

        shop = run_shop(self.store, self.run_id)
        return None if shop is None else shop.shop_id

    def _do_ask(self, aid: str, question: str) -> str:
        if self.answerer is None:
            return "Questions need a local language model (--llm default); `why 12` works without."
        card = self._find_card(int(aid))
        from agent.ask import ask_card

        q = question.strip() or "Why this decision?"
        return ask_card(
            self.store, self.answerer, card, q, self._kb_shop(), style=self.answer_style
        ).render()

    def _find_card(self, aid: int) -> dict:
        """A decision's card, pending or not (a question may be about an answered one)."""
        from agent.store.models import Action

        with self.store.session() as s:
            row = s.get(Action, aid)
            if row is None or row.card is None or (self.run_id and row.run_id != self.run_id):
                raise ApprovalError(f"#{aid} has no decision card; `list` shows the open ones")
            return dict(row.card)

    def _do_file(self, *_: Any) -> str:
        ins = self._memory.pop((self.by, self.run_id), None)
        if ins is None:
            return "There is no instruction to file; write one first."
        from agent.instructions import file_instruction

        doc_id = file_instruction(self.store, ins, self.by)
        return (f"Filed as knowledge-base document #{doc_id} by {self.by} (kind instruction); "
                "its directives are confirmed and in force from the next decision.")

    def _do_drop(self, *_: Any) -> str:
        had = self._memory.pop((self.by, self.run_id), None) is not None
        return "Dropped; nothing was filed." if had else "There was nothing to drop."

    def _free_form(self, line: str) -> str:
        if self.model is not None:
            return self._langchain(line)
        if self.answerer is None and self.reader is None:
            return (
                "I did not understand that, and no language model is configured "
                "(--llm default, or --model module:factory). Type `help` for the commands."
            )
        from agent.instructions import looks_like_question, read_instruction, run_shop

        mention = _MENTION.search(line)
        about = mention.group(1) if mention else (str(self.about) if self.about else None)
        if about is not None and self.answerer is not None and looks_like_question(line):
            return self._do_ask(about, line)
        if self.reader is not None and not looks_like_question(line):
            shop = run_shop(self.store, self.run_id)
            if shop is None:
                return "There is no run yet, so no shop to file an instruction for."
            ins = read_instruction(self.reader, line, shop)
            if ins is not None:
                self._memory[(self.by, self.run_id)] = ins
                return ins.describe()
        if self.answerer is None:
            return "I read no instruction in that. Type `help` for the commands."
        from agent.ask import ask_general

        cards = list(self._cards().values())
        return ask_general(
            self.store, self.answerer, cards, line, self._kb_shop(), style=self.answer_style
        ).render()

    # ------------------------------------------------------------------ LangChain model
    def _langchain(self, line: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

        model = self.model.bind_tools(self.tools) if self.tools else self.model
        tools = {t.name: t for t in self.tools}
        msgs: list[Any] = [
            SystemMessage(
                content=(
                    "You help a shop owner review an operations agent's pending "
                    "decisions. Pending:\n" + self._do_list()
                )
            ),
            HumanMessage(content=line),
        ]
        for _ in range(5):
            reply = model.invoke(msgs)
            msgs.append(reply)
            calls = getattr(reply, "tool_calls", None) or []
            if not calls:
                return str(reply.content)
            for call in calls:
                tool = tools.get(call["name"])
                try:  # the model's arguments are untrusted: a bad call is an answer, not a crash
                    result = tool.invoke(call["args"]) if tool else f"unknown tool {call['name']}"
                except Exception as exc:
                    result = f"error: {type(exc).__name__}: {str(exc)[:300]}"
                msgs.append(ToolMessage(content=str(result), tool_call_id=call.get("id", "")))
        return "The model kept calling tools without answering; stopped after 5 rounds."


def load_chat_model(spec: str) -> Any:
    """Build a chat model from ``module:factory`` (the factory takes no arguments).

    Raises:
        AgentConfigError: the spec is malformed or the factory cannot be imported.
    """
    import importlib

    mod, _, attr = spec.partition(":")
    if not mod or not attr:
        raise AgentConfigError(f"--model: expected module:factory, got {spec!r}")
    try:
        factory: Callable[[], Any] = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise AgentConfigError(f"--model: cannot load {spec!r}: {exc}") from None
    return factory()


def _plain(reply: Any) -> Any:
    """Text replies as :class:`rich.text.Text`, so no product name is read as markup."""
    return Text(reply) if isinstance(reply, str) else reply


def read_tools(store: Store, run_id: str | None) -> list[Any]:
    """Read-only shop tools for the chat model, over the latest (or given) run's shop."""
    from agent.runner import load_context
    from agent.store.models import Run
    from tools.toolkit import ShopToolkit

    with store.session() as s:
        rid = run_id or s.scalar(select(Run.id).order_by(Run.created_at.desc()).limit(1))
    if rid is None:
        return []
    ctx = load_context(store, rid, with_policy=False)
    return ShopToolkit(ctx.shop, ctx.signals, ctx.rules, rid).as_langchain_tools(acting=False)
