"""The graph's state for one shop-day: small, plain JSON, ids into the store.

One LangGraph thread per run and day (:func:`thread_id`). Large things never enter the
state: the sensed signals are a store blob (``sense_key``), the plan a ``plans`` row
(``plan_id``), the actions ``actions`` rows (found by run and day). ``messages`` carries the
readable story of the day (the morning brief, the plan as tool calls, the rules' and the
executions' summaries); ``timings`` sums each node's wall time in seconds.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

__all__ = ["DayState", "thread_id"]


def _sum_dicts(a: dict[str, float] | None, b: dict[str, float] | None) -> dict[str, float]:
    out = dict(a or {})
    for k, v in (b or {}).items():
        out[k] = round(out.get(k, 0.0) + float(v), 6)
    return out


def _merge(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any]:
    return {**(a or {}), **(b or {})}


class DayState(TypedDict, total=False):
    """State of one day's decision thread (see the module docstring)."""

    run_id: str
    day: int
    sense_key: str
    plan_id: int
    rounds: int
    counts: Annotated[dict[str, Any], _merge]
    timings: Annotated[dict[str, float], _sum_dicts]
    messages: Annotated[list[AnyMessage], add_messages]


def thread_id(run_id: str, day: int) -> str:
    """The LangGraph thread of ``run_id``'s decisions for ``day``."""
    return f"{run_id}:{int(day):05d}"
