"""Approvals: the answer format, its strict validation, and approvers.

A risky action waits as a *pending decision* in the store, with a card (:mod:`agent.cards`).
An answer is plain JSON, given to :func:`agent.answers.apply_answer` from any process::

    {"by": "alice",
     "decisions": {"17": {"choice": "accept", "reason": "ok"},
                   "18": {"choice": "edit", "quantity": 30, "reason": "too much"},
                   "19": {"choice": "reject", "reason": "supplier issue"}}}

Keys are action ids (strings). ``edit`` takes ``quantity`` for a restock, ``discount`` and/or
``duration_days`` for a promotion (:data:`EDIT_FIELDS`, the one home of the edit rules).
Numbers must be written plainly (``40``, ``0.15`` or ``15%``): ``1e12``, ``1,000``, ``1.2.3``,
``NaN``, booleans and numbers past the limits are refused with the allowed form, as are NUL
and control characters in reasons. An answer is an intent: the accepted or edited line goes
through the rules again when it executes, and what was clipped or refused is told back.
Actions not named stay pending until they are answered, superseded or expire.

Approvers answer inline (``shopops run`` / ``replay``): :class:`ScriptedApprover` (a
deterministic reviewer for demos and tests), :class:`AcceptAll`, :class:`RejectAll`,
:class:`TerminalApprover` (asks at the terminal; refuses to run without one).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from agent.errors import ApprovalError

__all__ = [
    "CHOICES",
    "EDIT_FIELDS",
    "AcceptAll",
    "Approver",
    "RejectAll",
    "ScriptedApprover",
    "TerminalApprover",
    "clean_text",
    "make_approver",
    "parse_action_id",
    "parse_discount",
    "parse_quantity",
    "validate_answer",
]

CHOICES = ("accept", "edit", "reject")
#: What an edit may change, per action kind: the one home of the edit rules (chat, API,
#: terminal and inline approvers all go through :func:`validate_answer`).
EDIT_FIELDS: dict[str, tuple[str, ...]] = {
    "restock": ("quantity",),
    "promotion": ("discount", "duration_days"),
}
#: Largest order quantity an edit may ask for (the rules then clip it to the shop's limits).
MAX_QUANTITY = 10_000_000
#: Largest action id (fits a PostgreSQL ``integer`` column).
MAX_ACTION_ID = 2**31 - 1
MAX_REASON = 2000
_INT = re.compile(r"[0-9]{1,9}")
_DEC = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def parse_action_id(value: Any, field: str = "id") -> int:
    """A decision id from an int or a string of digits, within ``1..2**31-1``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ApprovalError(f"{field}: {value!r} is not a decision id (a whole number)")
    text = str(value).strip().lstrip("#")
    if not _INT.fullmatch(text) or not 1 <= int(text) <= MAX_ACTION_ID:
        raise ApprovalError(
            f"{field}: {str(value)[:40]!r} is not a decision id (a whole number from 1 to "
            f"{MAX_ACTION_ID})"
        )
    return int(text)


def parse_quantity(value: Any, field: str = "quantity") -> int:
    """A whole number of units in ``0..MAX_QUANTITY``, written plainly (``40``, not ``4e1``,
    ``1,000`` or ``40.5``)."""
    if isinstance(value, bool):
        raise ApprovalError(f"{field}: true/false is not a quantity; write whole units, e.g. 40")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        ok = 0 <= value <= MAX_QUANTITY
    else:
        text = str(value).strip()
        ok = bool(_INT.fullmatch(text)) and int(text) <= MAX_QUANTITY
        value = int(text) if ok else value
    if not ok:
        raise ApprovalError(
            f"{field}: {str(value)[:40]!r} is not a quantity; write whole units from 0 to "
            f"{MAX_QUANTITY:,} as plain digits, e.g. 40"
        )
    return int(value)


def parse_discount(value: Any, field: str = "discount") -> float:
    """A discount depth in ``[0, 1)``: ``0.15`` or ``15%`` (finite, plainly written)."""
    if isinstance(value, bool):
        raise ApprovalError(f"{field}: true/false is not a discount; write 0.15 or 15%")
    if isinstance(value, int | float):
        d = float(value)
    else:
        text = str(value).strip()
        pct = text.endswith("%")
        text = text[:-1] if pct else text
        if not _DEC.fullmatch(text):
            raise ApprovalError(
                f"{field}: {str(value)[:40]!r} is not a discount; write a depth like 0.15 or 15%"
            )
        d = float(text) / (100 if pct else 1)
    if not (d == d and 0 <= d < 1):  # d == d: not NaN
        raise ApprovalError(f"{field}: {str(value)[:40]!r} is outside [0, 1); e.g. 0.15 or 15%")
    return d


def parse_days(value: Any, field: str = "duration_days") -> int:
    """A promotion length in whole days, ``1..365``."""
    if isinstance(value, bool):
        raise ApprovalError(f"{field}: true/false is not a number of days; e.g. 7")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not _INT.fullmatch(text) or not 1 <= int(text) <= 365:
        raise ApprovalError(f"{field}: {text[:40]!r} is not a number of days from 1 to 365")
    return int(text)


def clean_text(value: Any, field: str, max_len: int = MAX_REASON) -> str:
    """Free text from outside (a reason, a name): refuses NUL and control characters."""
    text = "" if value is None else str(value)
    if _CONTROL.search(text):
        raise ApprovalError(
            f"{field}: contains a control character (such as NUL); write plain text"
        )
    if len(text) > max_len:
        raise ApprovalError(f"{field}: {len(text)} characters; at most {max_len}")
    return text


_PARSE = {"quantity": parse_quantity, "discount": parse_discount, "duration_days": parse_days}


def validate_answer(answer: Any, cards: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """The normalised answer, or :class:`ApprovalError` naming the bad part.

    Args:
        answer: the answer (see the module docstring).
        cards: the open cards by action id (what may be answered).
    """
    if not isinstance(answer, Mapping):
        raise ApprovalError(f"an answer must be a mapping, got {type(answer).__name__}")
    decisions = answer.get("decisions")
    if not isinstance(decisions, Mapping) or not decisions:
        raise ApprovalError("an answer needs 'decisions': {action_id: {choice: ...}}")
    by = clean_text(answer.get("by") or "unknown", "by", 128)
    out: dict[str, Any] = {}
    for key, d in decisions.items():
        aid = parse_action_id(key, "decisions")
        if aid not in cards:
            raise ApprovalError(
                f"decisions.{aid}: action {aid} is not waiting for a decision "
                f"(open: {', '.join(map(str, sorted(cards))) or 'none'})"
            )
        if not isinstance(d, Mapping) or d.get("choice") not in CHOICES:
            raise ApprovalError(f"decisions.{aid}.choice: must be one of {', '.join(CHOICES)}")
        item: dict[str, Any] = {
            "choice": d["choice"],
            "reason": clean_text(d.get("reason") or "", f"decisions.{aid}.reason"),
            "by": clean_text(d.get("by") or by, f"decisions.{aid}.by", 128),
        }
        kind = cards[aid].get("kind", "restock")
        allowed = EDIT_FIELDS.get(kind, ())
        given = [f for f in _PARSE if d.get(f) is not None]
        if d["choice"] == "edit":
            wrong = [f for f in given if f not in allowed]
            if wrong or not given:
                raise ApprovalError(
                    f"decisions.{aid}: an edit of a {kind} takes {' and/or '.join(allowed)}"
                    + (f", not {', '.join(wrong)}" if wrong else "")
                )
            item["edit"] = {f: _PARSE[f](d[f], f"decisions.{aid}.{f}") for f in given}
        elif given:
            raise ApprovalError(
                f"decisions.{aid}: {', '.join(given)} only go with choice 'edit'"
            )
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
                for f in EDIT_FIELDS[c["kind"]]:
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
