"""Approvals: decision cards, the answer format, recording decisions, and approvers.

A day's risky actions wait in **one** interrupt (``interrupt(payload)`` in the ``approve``
node), whose payload carries a decision card per action; each action is answered on its
own. The answer given to ``Command(resume=answer)`` is plain JSON::

    {"by": "alice",
     "decisions": {"17": {"choice": "accept", "reason": "ok"},
                   "18": {"choice": "edit", "quantity": 30, "reason": "too much"},
                   "19": {"choice": "reject", "reason": "supplier issue"}}}
    {"expire": true, "reason": "deadline"}          # every open action expires

Keys are action ids (strings). ``edit`` takes ``quantity`` for a restock, ``discount`` and/or
``duration_days`` for a promotion; the edited line goes through the rules again (a value that
breaks one is clipped or refused, and recorded). Actions not named stay pending: the graph
asks again with the remaining cards. :func:`validate_answer` checks an answer against the
store before anyone resumes a thread, so a typo is an error for the person, not a lost answer.

Approvers answer inline (``shopops run`` / ``replay``): :class:`ScriptedApprover` (a
deterministic reviewer for demos and tests), :class:`AcceptAll`, :class:`RejectAll`,
:class:`TerminalApprover` (asks at the terminal; refuses to run without one).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from agent.errors import ApprovalError

__all__ = [
    "CHOICES",
    "AcceptAll",
    "Approver",
    "RejectAll",
    "ScriptedApprover",
    "TerminalApprover",
    "make_approver",
    "validate_answer",
]

CHOICES = ("accept", "edit", "reject")
_EDIT_FIELDS = {"restock": ("quantity",), "promotion": ("discount", "duration_days")}


def validate_answer(answer: Any, cards: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """The normalised answer, or :class:`ApprovalError` naming the bad part.

    Args:
        answer: the answer (see the module docstring).
        cards: the open cards by action id (what may be answered).
    """
    if not isinstance(answer, Mapping):
        raise ApprovalError(f"an answer must be a mapping, got {type(answer).__name__}")
    if answer.get("expire"):
        return {"expire": True, "reason": str(answer.get("reason") or "deadline passed")}
    decisions = answer.get("decisions")
    if not isinstance(decisions, Mapping) or not decisions:
        raise ApprovalError("an answer needs 'decisions': {action_id: {choice: ...}} or 'expire'")
    by = str(answer.get("by") or "unknown")
    out: dict[str, Any] = {}
    for key, d in decisions.items():
        try:
            aid = int(key)
        except (TypeError, ValueError):
            raise ApprovalError(f"decisions: {key!r} is not an action id") from None
        if aid not in cards:
            raise ApprovalError(
                f"decisions.{aid}: action {aid} is not waiting for a decision "
                f"(open: {', '.join(map(str, sorted(cards))) or 'none'})"
            )
        if not isinstance(d, Mapping) or d.get("choice") not in CHOICES:
            raise ApprovalError(f"decisions.{aid}.choice: must be one of {', '.join(CHOICES)}")
        item: dict[str, Any] = {
            "choice": d["choice"],
            "reason": str(d.get("reason") or ""),
            "by": str(d.get("by") or by),
        }
        if d["choice"] == "edit":
            kind = cards[aid]["kind"]
            edit = {k: d[k] for k in _EDIT_FIELDS[kind] if d.get(k) is not None}
            if not edit:
                raise ApprovalError(
                    f"decisions.{aid}: an edit of a {kind} needs "
                    f"{' and/or '.join(_EDIT_FIELDS[kind])}"
                )
            try:
                if "quantity" in edit:
                    edit["quantity"] = int(edit["quantity"])
                    if edit["quantity"] < 0:
                        raise ValueError
                if "discount" in edit:
                    edit["discount"] = float(edit["discount"])
                    if not 0 <= edit["discount"] < 1:
                        raise ValueError
                if "duration_days" in edit:
                    edit["duration_days"] = int(edit["duration_days"])
                    if edit["duration_days"] < 1:
                        raise ValueError
            except (TypeError, ValueError):
                raise ApprovalError(
                    f"decisions.{aid}: edit {edit} is invalid (quantity >= 0, discount in "
                    "[0, 1), duration_days >= 1)"
                ) from None
            item["edit"] = edit
        out[str(aid)] = item
    return {"by": by, "decisions": out}


class Approver(Protocol):
    """Answers a batch of decision cards inline."""

    name: str

    def decide(self, cards: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        """An answer (module docstring format) or ``None`` to leave the cards pending."""
        ...


class AcceptAll:
    """Accepts every card."""

    name = "accept-all"

    def decide(self, cards: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {
            "by": self.name,
            "decisions": {
                str(c["action_id"]): {"choice": "accept", "reason": "accept-all"} for c in cards
            },
        }


class RejectAll:
    """Rejects every card."""

    name = "reject-all"

    def decide(self, cards: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return {
            "by": self.name,
            "decisions": {
                str(c["action_id"]): {"choice": "reject", "reason": "reject-all"} for c in cards
            },
        }


class ScriptedApprover:
    """A deterministic reviewer (for demos, replays and tests).

    * an order more than ``max_over`` times the need at the forecast band's upper edge is
      edited down to that need; an order where even the upper edge needs nothing beyond one
      minimum order quantity is rejected;
    * a promotion whose what-if effect is negative is rejected;
    * everything else is accepted. Every decision carries a reason.
    """

    name = "scripted"

    def __init__(self, max_over: float = 1.5) -> None:
        self.max_over = max_over

    def decide(self, cards: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c in cards:
            aid, line, why = str(c["action_id"]), c["line"], c.get("why", {})
            effect = c.get("effect", {}).get("profit_delta")
            if c["kind"] == "restock":
                need = float(why.get("need_upper_units", why.get("need_units", 0.0)))
                moq = float(why.get("moq", 0.0))
                qty = float(line["quantity"])
                if need <= moq and qty > need:
                    out[aid] = {
                        "choice": "reject",
                        "reason": "even the forecast's upper band needs no order",
                    }
                elif qty > self.max_over * need:
                    q = max(int(-(-need // 1)), int(moq))
                    out[aid] = {
                        "choice": "edit",
                        "quantity": q,
                        "reason": f"cut to the upper-band need ({need:.0f} units)",
                    }
                else:
                    out[aid] = {"choice": "accept", "reason": "within the forecast need"}
            elif effect is not None and effect < 0:
                out[aid] = {
                    "choice": "reject",
                    "reason": f"what-if says it loses {-effect:.2f} over the horizon",
                }
            else:
                out[aid] = {"choice": "accept", "reason": "what-if effect is not negative"}
        return {"by": self.name, "decisions": out}


class TerminalApprover:
    """Asks at the terminal, card by card (accept / edit / reject / skip).

    Raises :class:`ApprovalError` when stdin is not a terminal, so unattended runs stop
    cleanly instead of hanging; use ``--approver scripted`` or leave approvals pending.
    """

    name = "terminal"

    def __init__(self, console: Any = None) -> None:
        if not sys.stdin.isatty():
            raise ApprovalError(
                "the terminal approver needs an interactive terminal; unattended runs should "
                "use --approver scripted or --approver none (answer later with `shopops chat`)"
            )
        from rich.console import Console

        self.console = console or Console()

    def decide(self, cards: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
        from rich.prompt import Prompt

        from agent.cards import render_card

        out: dict[str, Any] = {}
        for c in cards:
            self.console.print(render_card(c))
            choice = Prompt.ask(
                "accept / edit / reject / skip",
                default="accept",
                choices=["accept", "edit", "reject", "skip"],
            )
            if choice == "skip":
                continue
            d: dict[str, Any] = {"choice": choice, "reason": Prompt.ask("reason", default="")}
            if choice == "edit":
                for f in _EDIT_FIELDS[c["kind"]]:
                    v = Prompt.ask(f"{f} (blank: keep)", default="")
                    if v:
                        d[f] = v
            out[str(c["action_id"])] = d
        return {"by": "terminal", "decisions": out} if out else None


def make_approver(name: str | None) -> Approver | None:
    """``scripted`` | ``accept`` | ``reject`` | ``terminal`` | ``none`` (leave pending)."""
    if name in (None, "none"):
        return None
    table = {
        "scripted": ScriptedApprover,
        "accept": AcceptAll,
        "reject": RejectAll,
        "terminal": TerminalApprover,
    }
    if name not in table:
        from agent.errors import AgentConfigError

        raise AgentConfigError(
            f"approver: unknown {name!r}; use one of scripted, accept, reject, terminal, none"
        )
    return table[name]()
