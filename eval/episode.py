"""One episode of one policy on one scenario and seed: :func:`run_episode`.

This is the unit every evaluation, the agent's dry runs and replays build on. It resets the
simulator with the seed (common random numbers: the same seed gives every policy the same
demand draws), runs the policy to the horizon, accumulates :class:`~eval.kpis.Kpis` and,
when asked, records per-day per-SKU traces for plots.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from envs.plan import PlanArrays
from envs.scenario import ScenarioSpec
from envs.simulator import DayResult, MarketSimulator, ShopView
from eval.errors import EvalConfigError
from eval.kpis import KpiAccumulator, Kpis
from policies.base import Policy

__all__ = [
    "TRACE_FIELDS",
    "EpisodeResult",
    "EpisodeTrace",
    "make_named_policy",
    "policy_names",
    "run_episode",
]

#: Per-day per-SKU series an :class:`EpisodeTrace` holds.
TRACE_FIELDS = (
    "on_hand", "on_order", "ordered", "receipts", "price", "discount", "demand", "sales", "lost",
)

#: Called after each day with the morning's view, the plan and the day's result.
DayCallback = Callable[[ShopView, PlanArrays, DayResult], None]


@dataclasses.dataclass
class EpisodeTrace:
    """Per-day series of the recorded SKUs; every array has shape ``(days, len(sku_ids))``.

    ``on_hand`` and ``on_order`` are as seen in the morning; ``ordered`` the units actually
    ordered that day (after minimum order quantities and budgets); ``receipts`` the units
    arriving the next morning; ``price`` the price paid (after discount). ``profit`` is the
    shop's whole daily profit, shape ``(days,)``.
    """

    sku_ids: tuple[str, ...]
    on_hand: np.ndarray
    on_order: np.ndarray
    ordered: np.ndarray
    receipts: np.ndarray
    price: np.ndarray
    discount: np.ndarray
    demand: np.ndarray
    sales: np.ndarray
    lost: np.ndarray
    profit: np.ndarray

    @property
    def days(self) -> int:
        """Number of recorded days."""
        return int(self.profit.shape[0])

    def series(self, sku: str) -> dict[str, np.ndarray]:
        """Every :data:`TRACE_FIELDS` series of one recorded SKU.

        Raises:
            EvalConfigError: ``sku`` was not recorded.
        """
        if sku not in self.sku_ids:
            raise EvalConfigError(
                f"SKU {sku!r} was not recorded; recorded: {', '.join(self.sku_ids[:10])}"
                + (" ..." if len(self.sku_ids) > 10 else "")
            )
        j = self.sku_ids.index(sku)
        return {f: getattr(self, f)[:, j] for f in TRACE_FIELDS}


class _TraceRecorder:
    def __init__(self, columns: np.ndarray, sku_ids: tuple[str, ...]) -> None:
        self.columns = columns
        self.sku_ids = sku_ids
        self.rows: dict[str, list[np.ndarray]] = {f: [] for f in TRACE_FIELDS}
        self.profit: list[float] = []

    def add(self, view: ShopView, result: DayResult) -> None:
        c = self.columns
        self.rows["on_hand"].append(view.on_hand[c])
        self.rows["on_order"].append(view.on_order[c])
        for f in TRACE_FIELDS[2:]:
            self.rows[f].append(np.asarray(getattr(result, f))[c])
        self.profit.append(result.profit)

    def trace(self) -> EpisodeTrace:
        k = len(self.sku_ids)
        arrays = {
            f: np.vstack(v).astype(float) if v else np.zeros((0, k)) for f, v in self.rows.items()
        }
        return EpisodeTrace(sku_ids=self.sku_ids, profit=np.asarray(self.profit), **arrays)


@dataclasses.dataclass
class EpisodeResult:
    """The outcome of :func:`run_episode`.

    Attributes:
        policy: the policy's name.
        scenario: the scenario's name.
        seed: the episode seed.
        kpis: the episode's KPIs.
        wall_s: seconds the episode took (policy decisions and simulation).
        cpu_s: CPU seconds of this process during the episode (independent of machine load).
        trace: per-day series when recording was asked for, else ``None``.
    """

    policy: str
    scenario: str
    seed: int
    kpis: Kpis
    wall_s: float
    cpu_s: float = 0.0
    trace: EpisodeTrace | None = None

    def row(self) -> dict[str, Any]:
        """A flat record for a runs table: identifiers, every KPI, ``wall_s`` and ``cpu_s``."""
        return {
            "policy": self.policy,
            "scenario": self.scenario,
            "seed": self.seed,
            **self.kpis.as_dict(),
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
        }


def policy_names() -> tuple[str, ...]:
    """Every policy name :func:`make_named_policy` accepts."""
    from policies.registry import POLICY_NAMES

    return tuple(POLICY_NAMES)


def make_named_policy(name: str, **kwargs: Any) -> Policy:
    """A fresh policy from the registry.

    Raises:
        EvalConfigError: ``name`` is not a registered policy (the message lists them).
    """
    names = policy_names()
    if name not in names:
        raise EvalConfigError(f"unknown policy {name!r}; known policies: {', '.join(names)}")
    from policies.registry import make_policy

    return make_policy(name, **kwargs)


def _resolve_records(record: bool | Sequence[str], sim: MarketSimulator) -> np.ndarray | None:
    if record is False:
        return None
    if record is True:
        return np.arange(sim.n)
    if isinstance(record, str):
        record = [record]
    unknown = [s for s in record if s not in sim.sku_index]
    if unknown:
        raise EvalConfigError(
            f"record: unknown SKU(s) {', '.join(map(repr, unknown))} in scenario "
            f"{sim.spec.name!r}; its SKUs are {sim.sku_ids[0]} ... {sim.sku_ids[-1]}"
        )
    return np.array([sim.sku_index[s] for s in record], dtype=np.int64)


def run_episode(
    policy: Policy | str,
    scenario: str | Path | ScenarioSpec | MarketSimulator,
    seed: int,
    record: bool | Sequence[str] = False,
    on_day: DayCallback | None = None,
) -> EpisodeResult:
    """Run ``policy`` on ``scenario`` from day 0 to the horizon with episode seed ``seed``.

    Args:
        policy: a policy object, or a registered name (a fresh instance is made).
        scenario: a shipped scenario name, a YAML path, a parsed spec, or a simulator (which
            is reset with ``seed`` and run in place).
        seed: the episode seed; every policy run with the same seed sees the same demand.
        record: ``False`` for KPIs only, ``True`` to record every SKU's daily series, or
            SKU ids to record just those (cheap enough for any catalogue).
        on_day: called after each day with the morning's view, the plan and the result.

    Raises:
        EvalConfigError: unknown policy name or recorded SKU.
        ScenarioError: the scenario cannot be loaded.
        PlanError: the policy returned an invalid plan.
    """
    if isinstance(policy, str):
        policy = make_named_policy(policy)
    if isinstance(scenario, MarketSimulator):
        sim = scenario
        sim.reset(seed)
    else:
        sim = MarketSimulator.from_scenario(scenario, seed=seed)
    columns = _resolve_records(record, sim)
    recorder = None if columns is None else _TraceRecorder(
        columns, tuple(sim.sku_ids[i] for i in columns)
    )
    acc = KpiAccumulator(sim.catalog.price, sim.catalog.unit_cost)
    start, cpu_start = time.perf_counter(), time.process_time()
    policy.reset(sim)
    while not sim.done:
        view = sim.view()
        plan = policy.act(view, sim)
        result = sim.step(plan)
        acc.add(view, result)
        if recorder is not None:
            recorder.add(view, result)
        if on_day is not None:
            on_day(view, plan, result)
    return EpisodeResult(
        policy=str(getattr(policy, "name", type(policy).__name__)),
        scenario=sim.spec.name,
        seed=int(seed),
        kpis=acc.result(),
        wall_s=time.perf_counter() - start,
        cpu_s=time.process_time() - cpu_start,
        trace=None if recorder is None else recorder.trace(),
    )
