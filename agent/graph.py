"""The daily decision graph (LangGraph ``StateGraph``, core API)::

    START -> sense -> plan -> check -> route -> act -> learn -> END

* ``sense``: stock, pipeline, sales, forecast bands, drift alerts, anomalies, events.
* ``plan``: the policy's plan, recorded (a ``plans`` row; the next nodes act on it).
* ``check``: hard rules; one action row per surviving line, every repair/refusal recorded;
  older pending decisions for the same SKU and kind are superseded.
* ``route``: risk per action; the approval mode marks each ``auto`` or ``pending`` (card);
  a risky order's safe part executes and only the excess waits; a proposal whose own
  what-if loses money is not put to a person.
* ``act``: executes the ``auto`` actions once each (idempotency keys), re-checked by the
  rules at execution.
* ``learn``: the day's decision summary as a feedback event.

Nothing waits inside the graph. Pending decisions live in the store and are answered from
any process, any day, by :func:`agent.answers.apply_answer` in one transaction; a day's
thread is never resumed with an answer, so a failed answer can never be replayed into it.
One thread per run and day (:func:`agent.state.thread_id`); the state holds ids and counts,
never the catalogue. Run with ``durability="sync"`` (the runner does) so every step is on
disk before the next starts: a killed process resumes from the last finished node.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.context import AgentContext
from agent.nodes import act, check, learn, plan, route, sense
from agent.state import DayState

__all__ = ["NODES", "build_graph"]

#: Node names in the order a day passes them.
NODES = ("sense", "plan", "check", "route", "act", "learn")


def build_graph(checkpointer: Any) -> Any:
    """The compiled daily graph using ``checkpointer`` (a crashed day resumes from it)."""
    g = StateGraph(DayState, context_schema=AgentContext)
    for name, fn in (
        ("sense", sense),
        ("plan", plan),
        ("check", check),
        ("route", route),
        ("act", act),
        ("learn", learn),
    ):
        g.add_node(name, fn)
    g.add_edge(START, "sense")
    g.add_edge("sense", "plan")
    g.add_edge("plan", "check")
    g.add_edge("check", "route")
    g.add_edge("route", "act")
    g.add_edge("act", "learn")
    g.add_edge("learn", END)
    return g.compile(checkpointer=checkpointer)
