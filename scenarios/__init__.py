"""The shipped scenario files (``scenarios/*.yaml``) and helpers to find them."""

from __future__ import annotations

from pathlib import Path

SCENARIO_DIR = Path(__file__).resolve().parent

#: Scenarios used by default in evaluations (the 10,000-SKU one is for speed only).
DEFAULT_EVAL_SCENARIOS = (
    "steady",
    "festival",
    "disruption",
    "drift",
    "fresh",
    "new_category",
)


def scenario_names() -> list[str]:
    """Names of every shipped scenario, sorted."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
