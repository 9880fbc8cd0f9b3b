"""The daily decision graph (LangGraph ``StateGraph``, core API)::

    START -> sense -> plan -> check -> route -> act --(pending?)--> approve -> act ...
                                                  \\--(none left)--> learn -> END

* ``sense``: stock, pipeline, sales, forecast bands, drift alerts, anomalies, events.
* ``plan``: the policy's plan, recorded, and carried as tool calls in one message.
* ``check``: hard rules; one action row per surviving line, every repair/refusal recorded.
* ``route``: risk per action; the approval mode marks each ``auto`` or ``pending`` (card).
* ``act``: executes ``auto`` and approved actions once each (idempotency keys).
* ``approve``: one ``interrupt()`` carrying the cards of all pending actions of the day;
  answered per action with ``Command(resume=...)`` from any process. Unanswered actions stay
  pending (the node asks again); an ``{"expire": true}`` answer closes them.
* ``learn``: decisions and outcomes recorded as feedback events.

``act`` runs *before* ``approve`` so that waiting for a person never holds back the actions
that need no approval; approved actions run in the second pass. One thread per run and day
(:func:`agent.state.thread_id`); the state holds ids and counts, never the catalogue.
Run with ``durability="sync"`` (the runner does) so every step is on disk before the next
starts: a killed process resumes from the last finished node.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.context import AgentContext
from agent.nodes import act, after_act, approve, check, learn, plan, route, sense
from agent.state import DayState

__all__ = ["NODES", "build_graph"]

#: Node names in the order a day passes them.
NODES = ("sense", "plan", "check", "route", "act", "approve", "learn")


def build_graph(checkpointer: Any) -> Any:
    """The compiled daily graph using ``checkpointer`` (required: approvals interrupt)."""
    g = StateGraph(DayState, context_schema=AgentContext)
    for name, fn in (
        ("sense", sense),
        ("plan", plan),
        ("check", check),
        ("route", route),
        ("act", act),
        ("approve", approve),
        ("learn", learn),
    ):
        g.add_node(name, fn)
    g.add_edge(START, "sense")
    g.add_edge("sense", "plan")
    g.add_edge("plan", "check")
    g.add_edge("check", "route")
    g.add_edge("route", "act")
    g.add_conditional_edges("act", after_act, {"approve": "approve", "learn": "learn"})
    g.add_edge("approve", "act")
    g.add_edge("learn", END)
    return g.compile(checkpointer=checkpointer)
