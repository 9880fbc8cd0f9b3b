"""Questions about decisions, answered from what the agent knew (grounded, cited).

:func:`card_facts` turns a decision card into facts (the action, forecast and band, stock,
need, risk, what-if, rules, signals, and the knowledge-base documents it used), and
:func:`document_facts` adds the documents the question itself retrieves from the shop's
knowledge base (full-text search on the question, scoped to the card's SKU). The language
model (:class:`policies.llm.grounded.GroundedAnswerer`) answers from those facts only and can
write no number that is not in them.

>>> facts = card_facts({"action_id": 7, "kind": "restock", "summary": "restock a x40",
...     "risk": {"score": 0.8, "top": "spend", "parts": {"spend": 0.8}},
...     "why": {"forecast_per_day": 3.1, "band": [30.2, 57.9], "band_days": 14}})
>>> print(facts[1].text)
The forecast is 3.10 units a day; the 14-day band is 30.2 to 57.9 units.
"""

from __future__ import annotations

from typing import Any

from policies.llm.grounded import Fact, GroundedAnswer

__all__ = ["ask_card", "ask_general", "card_facts", "document_facts"]

MAX_DOCUMENTS = 4
DOC_SNIPPET_CHARS = 300


def _f(x: Any, fmt: str) -> str:
    try:
        return format(float(x), fmt)
    except (TypeError, ValueError):
        return "unknown"


def card_facts(card: dict[str, Any]) -> list[Fact]:
    """The facts of one decision card, in the card's order."""
    src = f"card #{card['action_id']}"
    link = f"/api/decisions/{card['action_id']}"
    why, risk, eff = card.get("why", {}), card.get("risk", {}), card.get("effect", {})
    out = [Fact(f"The action is {card['summary']}.", src, link)]
    if card.get("lm_decision"):
        out.append(Fact(f"The language-model policy wrote {card['lm_decision']}"
                        + (f"; the tuned heuristic would {card['lm_advice']}."
                           if card.get("lm_advice") else "."), src, link))  # fmt: skip
    if "forecast_per_day" in why:
        band = why.get("band") or [None, None]
        out.append(Fact(
            f"The forecast is {_f(why['forecast_per_day'], '.2f')} units a day; the "
            f"{why.get('band_days')}-day band is {_f(band[0], '.1f')} to {_f(band[1], '.1f')} "
            "units.", src, link))  # fmt: skip
    if "on_hand" in why:
        cover = why.get("cover_days")
        out.append(Fact(
            f"On hand {_f(why['on_hand'], '.0f')} units, on order {_f(why.get('on_order'), '.0f')}"
            f", cover {'unbounded' if cover is None else _f(cover, '.1f') + ' days'}, lead time "
            f"{_f(why.get('lead_time'), '.0f')} days.", src, link))  # fmt: skip
    if card.get("kind") == "restock" and "need_units" in why:
        out.append(Fact(
            f"The need over lead time and review is {_f(why['need_units'], '.1f')} units (up "
            f"to {_f(why.get('need_upper_units', why['need_units']), '.1f')} at the upper "
            f"band); the minimum order is {_f(why.get('moq'), '.0f')}; the order is worth "
            f"{_f(why.get('value'), '.2f')}.", src, link))  # fmt: skip
    if "price" in why:
        out.append(Fact(f"The list price is {_f(why['price'], '.2f')} and the unit cost "
                        f"{_f(why.get('unit_cost'), '.2f')}.", src, link))  # fmt: skip
    if risk:
        parts = ", ".join(f"{k} {_f(v, '.2f')}" for k, v in risk.get("parts", {}).items())
        out.append(Fact(f"It waits for a person because its risk is {_f(risk.get('score'), '.2f')}"
                        f", mostly {risk.get('top')} ({parts}).", src, link))  # fmt: skip
    if eff.get("unavailable"):
        out.append(Fact(f"No what-if is available: {eff['unavailable']}.", src, link))
    elif eff:
        out.append(Fact(
            f"The what-if gives {_f(eff.get('profit_delta'), '+.2f')} profit on this SKU over "
            f"{eff.get('horizon_days')} days versus no action (whole plan "
            f"{_f(eff.get('plan_profit_delta'), '+.2f')}).", src, link))  # fmt: skip
    if "drift" in why:
        out.append(Fact(f"The drift signal is {_f(why['drift'], '.2f')} and the anomaly score "
                        f"{_f(why.get('anomaly'), '.2f')}.", src, link))  # fmt: skip
    for r in card.get("rules", []):
        out.append(Fact(f"The rule {r['rule']} {r['outcome']} it: {r['detail']}.", src, link))
    for d in card.get("documents", []):
        out.append(Fact(
            f"Document #{d['document_id']} ({d['kind']}, version {d['version']}) \"{d['title']}\" "
            f"is in force: {d['directive']}.", f"document #{d['document_id']}", d.get("link")))
    return out


def document_facts(
    store: Any, shop_id: str | None, question: str, *, skus: tuple[str, ...] = (),
    exclude: set[int] | None = None, limit: int = MAX_DOCUMENTS,
) -> list[Fact]:
    """Documents of ``shop_id``'s knowledge base the question retrieves (full-text search,
    scoped to ``skus`` when given), as quoted facts; none without a knowledge base."""
    if not shop_id:
        return []
    from agent.store import kb as store_kb

    exclude = exclude or set()
    with store.session() as s:
        hits = store_kb.search(s, shop_id, question, skus=skus, limit=limit + len(exclude))
        out = []
        for h in hits:
            doc = h.document
            if int(doc.id) in exclude:
                continue
            snippet = " ".join(doc.text.split())[:DOC_SNIPPET_CHARS]
            out.append(Fact(f"Document #{doc.id} ({doc.kind}, version {doc.version}) "
                            f"\"{doc.title or doc.doc_key}\" says: {snippet}",
                            f"document #{doc.id}", f"/kb?doc={doc.id}"))  # fmt: skip
    return out[:limit]


def ask_card(
    store: Any, answerer: Any, card: dict[str, Any], question: str, kb_shop: str | None = None,
    *, style: str = "quote",
) -> GroundedAnswer:
    """Answer ``question`` about one decision from its card and the knowledge base."""
    facts = card_facts(card)
    used = {int(d["document_id"]) for d in card.get("documents", [])}
    facts += document_facts(store, kb_shop, question, skus=(card["sku"],), exclude=used)
    return answerer.answer(question, facts[:26], style=style)


def ask_general(
    store: Any, answerer: Any, cards: list[dict[str, Any]], question: str,
    kb_shop: str | None = None, *, style: str = "quote",
) -> GroundedAnswer:
    """Answer a question about no decision in particular: from the pending decisions' one-line
    summaries and the knowledge base."""
    from agent.cards import card_brief

    facts = [Fact(card_brief(c) + ".", f"card #{c['action_id']}",
                  f"/api/decisions/{c['action_id']}") for c in cards[:12]]  # fmt: skip
    facts += document_facts(store, kb_shop, question)
    if not facts:
        facts = [Fact("Nothing is waiting for a decision and the knowledge base has no "
                      "document about this.", "the store")]  # fmt: skip
    return answerer.answer(question, facts, style=style)
