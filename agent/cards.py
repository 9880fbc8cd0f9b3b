"""Decision cards: what a person sees about one risky action, and how it is drawn.

A card is plain JSON, stored on the pending action (the chat, the API and the console read it)::

    {"action_id": 17, "run_id": "...", "day": 12, "sku": "pantry-00003", "kind": "restock",
     "summary": "restock pantry-00003 x400",
     "line": {...}, "proposed": {...},           # after rules / as the policy proposed
     "lm_decision": "restock=7 discount=0 days=0",   # only when the LM policy decided
     "lm_advice": "restock=3 discount=0",            # the tuned heuristic's decision it read
     "risk": {"score": 0.8, "top": "spend", "parts": {"spend": 0.8, ...}},
     "why": {"forecast_per_day": 3.1, "band": [30.2, 57.9], "band_days": 14,
             "on_hand": 12, "on_order": 0, "cover_days": 3.9, "lead_time": 4,
             "need_units": 22.0, "moq": 10, "value": 812.0, "drift": 0.0, "anomaly": 0.0},
     "effect": {"horizon_days": 14, "profit_delta": 41.5, "plan_profit_delta": 812.3},
     "rules": [{"rule": "moq.minimum", "outcome": "clipped", "detail": "..."}],
     "documents": [{"document_id": 5, "version": 1, "title": "...", "kind": "compliance",
                    "directive": "stop_sale ...", "status": "proposed", "link": "/kb?doc=5"}],
     "expires_day": 14, "choices": ["accept", "edit", "reject"],
     "safe_part": {"action_id": 16, "quantity": 22},   # only for the excess of a split order
     "previous_answer": {"day": 11, "decision": "reject", "by": "alice", ...},  # if recent
     "outcome": {"status": "executed", "executed": {...}, "notes": [...], "message": "..."}}

``effect.profit_delta`` is the what-if difference attributed to this SKU (this plan versus no
action, on a simulator fork with a sampled future); ``plan_profit_delta`` the whole plan's.
``effect`` is ``{"unavailable": why}`` when the shop cannot simulate (a real shop without a
calibrated twin).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["card_brief", "policy_line", "render_card"]


def _num(x: Any, fmt: str = ".1f") -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    return "inf" if v == float("inf") else format(v, fmt)


def card_brief(card: Mapping[str, Any]) -> str:
    """One line: id, summary, risk, effect."""
    eff = card.get("effect", {}).get("profit_delta")
    eff_s = "" if eff is None else f", what-if {eff:+.2f}"
    return (
        f"#{card['action_id']} day {card['day']}: {card['summary']} "
        f"(risk {card['risk']['score']:.2f}: {card['risk']['top']}{eff_s})"
    )


def policy_line(card: Mapping[str, Any]) -> str:
    """What the language model wrote, next to the team's heuristic it read as advice."""
    wrote, advice = card.get("lm_decision", ""), card.get("lm_advice")
    if not advice:
        return f"the LM wrote {wrote}"
    keeps = wrote.startswith(advice)
    return (
        f"the LM wrote {wrote}; the tuned heuristic would {advice} "
        f"({'keeps' if keeps else 'departs from'} the team's rule)"
    )


def render_card(card: Mapping[str, Any]) -> Any:
    """A rich panel for ``card``; every value is plain text (a product name such as
    ``[red]FAKE[/red]`` shows as written, never as markup)."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    why, eff, risk = card.get("why", {}), card.get("effect", {}), card["risk"]
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()

    def row(label: str, value: str) -> None:
        t.add_row(label, Text(str(value)))
    row("action", f"{card['summary']}  (proposed: {card.get('proposed')})")
    if card.get("lm_decision"):
        row("policy", policy_line(card))
    row(
        "risk",
        f"{risk['score']:.2f}, mostly {risk['top']}: "
        + ", ".join(f"{k} {v:.2f}" for k, v in risk["parts"].items()),
    )
    row(
        "forecast",
        f"{_num(why.get('forecast_per_day'), '.2f')}/day; "
        f"{why.get('band_days')}-day band {_num(why.get('band', [0, 0])[0])}"
        f"..{_num(why.get('band', [0, 0])[1])}",
    )
    row(
        "stock",
        f"on hand {_num(why.get('on_hand'), '.0f')}, on order "
        f"{_num(why.get('on_order'), '.0f')}, cover {_num(why.get('cover_days'))} days, "
        f"lead time {_num(why.get('lead_time'), '.0f')} days",
    )
    if card["kind"] == "restock":
        row(
            "need",
            f"{_num(why.get('need_units'), '.0f')} units over lead time + "
            f"review (minimum order {_num(why.get('moq'), '.0f')}); "
            f"value {_num(why.get('value'), '.2f')}",
        )
    row(
        "signals",
        f"drift {_num(why.get('drift'), '.2f')}, anomaly {_num(why.get('anomaly'), '.2f')}",
    )
    if eff.get("unavailable"):
        row("what-if", f"unavailable: {eff['unavailable']}")
    elif eff:
        row(
            "what-if",
            f"{eff.get('profit_delta', 0):+.2f} profit for this SKU over "
            f"{eff.get('horizon_days')} days (whole plan "
            f"{eff.get('plan_profit_delta', 0):+.2f}) versus no action",
        )
    for r in card.get("rules", []):
        row("rule", f"{r['rule']} ({r['outcome']}): {r['detail']}")
    for d in card.get("documents", []):
        row("document", f"#{d['document_id']} v{d['version']} {d['title']} ({d['kind']}): "
            f"{d['directive']} [{d['status']}]")
    if card.get("safe_part"):
        sp = card["safe_part"]
        row("safe part", f"x{sp['quantity']} of this order executed automatically (#"
            f"{sp['action_id']}); this decision is about the rest")
    if card.get("previous_answer"):
        pa = card["previous_answer"]
        row("last answer", f"day {pa['day']}: {pa['by']} {pa['decision']}ed {pa['asked']}"
            + (f" to {pa['edit']}" if pa.get("edit") else "")
            + (f" ({pa['reason']})" if pa.get("reason") else ""))
    if card.get("outcome"):
        row("outcome", card["outcome"].get("message", ""))
    row("expires", f"at the close of day {card.get('expires_day')}")
    return Panel(
        t,
        title=f"decision #{card['action_id']} (day {card['day']})",
        subtitle="accept / edit / reject",
    )
