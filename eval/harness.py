"""The evaluation harness: every policy on every scenario and seed, with common random numbers.

``shopops eval`` is a thin shell around :func:`run_evaluation`:

1. :class:`EvalConfig` validates the request (known policies and scenarios, seed count,
   jobs) and the train/test split (:mod:`eval.splits`): seeds default to the held-out test
   split and training seeds are refused unless ``allow_train_seeds`` is set.
2. Each policy is built and reset once on every scenario up front, so a missing tuned
   file or model fails before any work is spent.
3. One task per ``(policy, scenario, seed)`` runs :func:`eval.episode.run_episode`, in
   ``jobs`` worker processes (``spawn``, one BLAS/torch thread each) or in this process when
   ``jobs == 1``; the slowest policies go first so the pool finishes evenly. Every policy
   sees the same seeds, hence the same demand draws. Results do not depend on ``jobs``.
   With ``bound`` on, one more task per ``(scenario, seed)`` computes the oracle's provable
   profit bound (:func:`policies.oracle.profit_bound`): no policy, anticipating or not, can
   earn more on that seed, so "percent of the oracle bound" is the headline figure.
   Slow policies can run on only the first few seeds (``policy_seeds``, none by default); paired
   comparisons then use the seeds both sides ran, and tables show each cell's seed count.
4. The first seed of every ``(policy, scenario)`` also records the daily series of one SKU
   per scenario (``plot_sku``, default the SKU with the highest list-price revenue rate
   ``base_demand x price``) for the report's plots.

The returned :class:`Evaluation` turns the runs into tables (:meth:`Evaluation.runs_frame`,
:meth:`Evaluation.summary_frame`, :meth:`Evaluation.paired_frame`); :mod:`eval.report`
writes them out.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from envs.config_files import validation_problem
from eval.errors import EpisodeFailedError, EvalConfigError
from eval.splits import TEST_SEEDS, check_report_seeds

if TYPE_CHECKING:
    import pandas as pd

    from eval.episode import EpisodeResult, EpisodeTrace

__all__ = [
    "DEFAULT_POLICIES",
    "DEFAULT_POLICY_SEEDS",
    "DEFAULT_SEEDS",
    "SUMMARY_METRICS",
    "EvalConfig",
    "Evaluation",
    "output_dir",
    "run_evaluation",
]

#: Policies ``shopops eval`` compares by default (the oracle is the 100% reference).
DEFAULT_POLICIES: tuple[str, ...] = (
    "do_nothing", "naive", "base_stock", "base_stock_tuned", "mpc", "oracle",
)
#: Held-out seeds per scenario by default (chosen so the default run fits 10 minutes on 2 cores).
DEFAULT_SEEDS = 5
#: Slow policies run on only their first N seeds by default (MPC: ~1 minute per episode).
DEFAULT_POLICY_SEEDS: dict[str, int] = {}
#: KPIs summarised with confidence intervals in tables and reports.
SUMMARY_METRICS: tuple[str, ...] = (
    "profit", "revenue", "gross_margin", "fill_rate", "stockout_rate", "lost_units",
    "lost_value", "waste_units", "avg_inventory_value", "inventory_turns", "promo_spend",
)
#: Relative cost of one episode per policy, used only to start the slowest tasks first.
_COST_HINT = {"mpc": 500.0, "ppo": 5.0, "base_stock": 2.0, "base_stock_tuned": 2.0}
_BASELINE_PREFERENCE = ("base_stock_tuned", "base_stock")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class EvalConfig(BaseModel):
    """What to evaluate. Every field is validated; errors name the field and the fix."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    policies: tuple[str, ...] = Field(
        default=DEFAULT_POLICIES, description="Registered policy names, each at most once."
    )
    scenarios: tuple[str, ...] = Field(
        default=(), description="Scenario names or YAML paths (empty: DEFAULT_EVAL_SCENARIOS)."
    )
    seeds: int = Field(default=DEFAULT_SEEDS, description="Episode seeds per scenario (>= 1).")
    policy_seeds: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_POLICY_SEEDS),
        description="Slow policies run on only their first N seeds, e.g. {'mpc': 2}; "
        "paired comparisons use the seeds both policies ran. Entries for policies not "
        "evaluated are ignored.",
    )
    seed_offset: int = Field(
        default=TEST_SEEDS.start,
        description="First episode seed; seeds are seed_offset .. seed_offset + seeds - 1.",
    )
    allow_train_seeds: bool = Field(
        default=False, description="Allow reporting on training seeds (>= 1000); labelled so."
    )
    jobs: int = Field(default_factory=_default_jobs, description="Worker processes (1: inline).")
    bound: bool = Field(
        default=True,
        description="Compute the oracle's profit bound per scenario and seed; report percent "
        "of it (column pct_of_bound).",
    )
    reference: str = Field(
        default="oracle",
        description="Policy whose played profit is 100% in column pct_of_<reference> "
        "(NaN when it is not evaluated).",
    )
    baseline: str | None = Field(
        default=None,
        description="Policy the paired differences compare against (None: base_stock_tuned, "
        "else base_stock, else the first policy evaluated).",
    )
    plot_sku: str | None = Field(
        default=None,
        description="SKU id whose daily series are plotted in the scenarios that have it "
        "(others, and None: the SKU with the highest base_demand x price).",
    )
    confidence: float = Field(default=0.95, description="Confidence level of the t-intervals.")

    @field_validator("policies")
    @classmethod
    def _policies(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from eval.episode import policy_names

        if not v:
            raise ValueError("give at least one policy")
        known = policy_names()
        unknown = [p for p in v if p not in known]
        if unknown:
            shown = ", ".join(map(repr, unknown))
            raise ValueError(f"unknown policy {shown}; known policies: {', '.join(known)}")
        dup = sorted({p for p in v if v.count(p) > 1})
        if dup:
            raise ValueError(f"policy {', '.join(dup)} is listed twice; list each policy once")
        return v

    @field_validator("scenarios")
    @classmethod
    def _scenarios(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from envs.scenario import resolve_scenario_path
        from scenarios import DEFAULT_EVAL_SCENARIOS

        v = v or tuple(DEFAULT_EVAL_SCENARIOS)
        for name in v:
            resolve_scenario_path(name)  # ScenarioError (a ValueError) names what exists
        if len(set(v)) != len(v):
            dup = sorted({s for s in v if v.count(s) > 1})
            raise ValueError(f"scenario {', '.join(dup)} is listed twice; list each once")
        return v

    @field_validator("reference")
    @classmethod
    def _reference(cls, v: str) -> str:
        from eval.episode import policy_names

        if v not in policy_names():
            raise ValueError(f"unknown policy {v!r}; known policies: {', '.join(policy_names())}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"need at least 1 seed per scenario; got {v}")
        return v

    @field_validator("policy_seeds")
    @classmethod
    def _policy_seeds(cls, v: dict[str, int]) -> dict[str, int]:
        from eval.episode import policy_names

        for name, n in v.items():
            if name not in policy_names():
                raise ValueError(
                    f"unknown policy {name!r}; known policies: {', '.join(policy_names())}"
                )
            if n < 1:
                raise ValueError(f"{name}: need at least 1 seed; got {n}")
        return v

    @field_validator("seed_offset")
    @classmethod
    def _offset(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"seeds are >= 0; got a first seed of {v}")
        return v

    @field_validator("jobs")
    @classmethod
    def _jobs(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"need at least 1 worker process; got {v}")
        return v

    @field_validator("confidence")
    @classmethod
    def _confidence(cls, v: float) -> float:
        if not 0.0 < v < 1.0:
            raise ValueError(f"must be strictly between 0 and 1 (e.g. 0.95); got {v}")
        return v

    @model_validator(mode="after")
    def _baseline(self) -> EvalConfig:
        if self.baseline is not None and self.baseline not in self.policies:
            raise ValueError(
                f"baseline {self.baseline!r} is not among the evaluated policies "
                f"({', '.join(self.policies)}); add it to the policies or pick one of them"
            )
        return self

    @classmethod
    def build(cls, **fields: Any) -> EvalConfig:
        """Validate ``fields``; raise :class:`EvalConfigError` naming the first bad field."""
        try:
            return cls(**fields)
        except ValidationError as exc:
            field, msg = validation_problem(exc)
            raise EvalConfigError(f"{field}: {msg}") from None

    @property
    def seed_list(self) -> list[int]:
        """The episode seeds, in order."""
        return list(range(self.seed_offset, self.seed_offset + self.seeds))

    def seeds_for(self, policy: str) -> list[int]:
        """The seeds ``policy`` runs on: the first ``policy_seeds[policy]`` of :attr:`seed_list`."""
        return self.seed_list[: self.policy_seeds.get(policy, self.seeds)]

    @property
    def effective_baseline(self) -> str:
        """The policy paired differences are taken against."""
        if self.baseline is not None:
            return self.baseline
        for name in _BASELINE_PREFERENCE:
            if name in self.policies:
                return name
        return self.policies[0]


@dataclasses.dataclass(frozen=True)
class _Task:
    policy: str
    scenario: str  # as given (name or path)
    seed: int
    record: tuple[str, ...] | bool


def _run_task(task: _Task) -> EpisodeResult:
    """Worker entry point: one episode, errors re-raised with the run named."""
    from eval.episode import run_episode

    try:
        return run_episode(task.policy, task.scenario, task.seed, record=task.record)
    except Exception as exc:
        raise EpisodeFailedError(
            task.policy, task.scenario, task.seed, f"{type(exc).__name__}: {exc}",
            traceback.format_exc(),
        ) from exc


def _bound_task(scenario: str, seed: int) -> float:
    """Worker entry point: the oracle's profit bound on ``scenario`` with ``seed``."""
    from envs.simulator import MarketSimulator
    from policies.oracle import profit_bound

    try:
        return float(profit_bound(MarketSimulator.from_scenario(scenario, seed=seed)))
    except Exception as exc:
        raise EpisodeFailedError(
            "oracle bound", scenario, seed, f"{type(exc).__name__}: {exc}", traceback.format_exc()
        ) from exc


def _init_worker() -> None:
    try:  # torch is only present in a worker that runs a torch policy; keep it single-threaded
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


@dataclasses.dataclass
class Evaluation:
    """The outcome of :func:`run_evaluation`.

    Attributes:
        config: the validated request.
        seeds: the episode seeds every policy ran on.
        split: ``"test"`` (held-out seeds), or ``"train"``/``"mixed"`` when allowed.
        scenario_names: scenario argument -> the scenario's name in results.
        held_out: scenario name -> whether it is a held-out scenario.
        plot_skus: scenario name -> the SKU whose series were recorded.
        runs: one result per (policy, scenario, seed), ordered policy-major as configured.
        bounds: (scenario name, seed) -> the oracle's profit bound (empty without ``bound``).
        elapsed_s: wall-clock seconds of the whole evaluation.
    """

    config: EvalConfig
    seeds: list[int]
    split: str
    scenario_names: dict[str, str]
    held_out: dict[str, bool]
    plot_skus: dict[str, str]
    runs: list[EpisodeResult]
    bounds: dict[tuple[str, int], float]
    elapsed_s: float

    @property
    def pct_column(self) -> str:
        """The name of the percent-of-reference-policy column."""
        return f"pct_of_{self.config.reference}"

    @property
    def pct_columns(self) -> tuple[str, ...]:
        """Percent columns of the runs table: ``pct_of_bound`` (with bounds), the reference's."""
        return (("pct_of_bound",) if self.bounds else ()) + (self.pct_column,)

    def runs_frame(self) -> pd.DataFrame:
        """One row per run: identifiers, split labels, every KPI, the oracle bound and percents.

        ``pct_of_bound`` is 100 x profit / the oracle's profit bound on the same scenario and
        seed; ``pct_of_<reference>`` is 100 x profit / the reference policy's played profit
        on the same seed. Both are NaN where the denominator is missing or not positive.
        """
        import pandas as pd

        from eval.splits import seed_split
        from eval.stats import percent_of_reference

        df = pd.DataFrame([r.row() for r in self.runs])
        df.insert(3, "seed_split", [seed_split(int(s)) for s in df["seed"]])
        df.insert(4, "scenario_held_out", [self.held_out[s] for s in df["scenario"]])
        if self.bounds:
            keys = zip(df["scenario"], df["seed"].astype(int), strict=True)
            df["oracle_bound"] = [self.bounds[k] for k in keys]
            df["pct_of_bound"] = percent_of_reference(df, None, self.bounds).to_numpy()
        df[self.pct_column] = percent_of_reference(df, self.config.reference).to_numpy()
        return df

    def summary_frame(self) -> pd.DataFrame:
        """Per (scenario, policy): every summary metric's mean and t-interval over seeds."""
        from eval.stats import summarise

        return summarise(
            self.runs_frame(), (*SUMMARY_METRICS, *self.pct_columns), self.config.confidence
        )

    def paired_frame(self) -> pd.DataFrame:
        """Per scenario, each policy's profit minus the baseline's, paired over seeds."""
        from eval.stats import paired_differences

        return paired_differences(
            self.runs_frame(), "profit", self.config.effective_baseline, self.config.confidence
        )

    def traces(self) -> dict[tuple[str, str], EpisodeTrace]:
        """(scenario, policy) -> the recorded daily series of the first seed."""
        return {(r.scenario, r.policy): r.trace for r in self.runs if r.trace is not None}


def _default_plot_sku(sim: Any) -> str:
    c = sim.catalog
    return sim.sku_ids[int((c.base_demand * c.price).argmax())]


def _prepare(config: EvalConfig) -> tuple[dict[str, str], dict[str, bool], dict[str, str]]:
    from envs.simulator import MarketSimulator
    from eval.episode import make_named_policy

    names: dict[str, str] = {}
    held: dict[str, bool] = {}
    skus: dict[str, str] = {}
    for arg in config.scenarios:
        sim = MarketSimulator.from_scenario(arg, seed=0)
        name = sim.spec.name
        if name in held:
            raise EvalConfigError(
                f"scenarios: {arg!r} and another argument are both scenario {name!r}; list it once"
            )
        names[arg], held[name] = name, sim.spec.held_out
        if config.plot_sku is not None and config.plot_sku in sim.sku_index:
            skus[name] = config.plot_sku
        else:
            skus[name] = _default_plot_sku(sim)
    if config.plot_sku is not None and config.plot_sku not in skus.values():
        raise EvalConfigError(
            f"plot_sku: SKU {config.plot_sku!r} is in none of the scenarios "
            f"({', '.join(held)}); e.g. {next(iter(skus.values()))!r}"
        )
    for policy in config.policies:  # fail before any work if a policy cannot be built/reset
        for arg in config.scenarios:
            make_named_policy(policy).reset(
                MarketSimulator.from_scenario(arg, seed=config.seed_offset)
            )
    return names, held, skus


def run_evaluation(
    config: EvalConfig,
    progress: bool = True,
    on_result: Callable[[EpisodeResult], None] | None = None,
) -> Evaluation:
    """Run every policy on every scenario and seed of ``config``; see the module docstring.

    Args:
        config: the validated request.
        progress: show a rich progress bar (on stderr).
        on_result: called in this process with each finished episode, in completion order.

    Raises:
        SplitError: the seeds include training seeds and ``allow_train_seeds`` is off.
        EvalConfigError: a scenario repeats under two arguments, or ``plot_sku`` is unknown.
        ScenarioError: a scenario cannot be loaded.
        PolicyError: a policy cannot be built (unknown option, missing tuned file or model).
        EpisodeFailedError: an episode raised; the message names policy, scenario and seed.
    """
    split = check_report_seeds(config.seed_list, config.allow_train_seeds)
    start = time.perf_counter()
    names, held, skus = _prepare(config)
    first = config.seed_list[0]
    tasks = [
        _Task(p, arg, seed, (skus[names[arg]],) if seed == first else False)
        for p in config.policies
        for arg in config.scenarios
        for seed in config.seeds_for(p)
    ]
    bound_keys = (
        [(arg, seed) for arg in config.scenarios for seed in config.seed_list]
        if config.bound else []
    )
    jobs: list[tuple[Callable[..., Any], tuple[Any, ...], float]] = [
        (_run_task, (t,), _COST_HINT.get(t.policy, 1.0)) for t in tasks
    ] + [(_bound_task, key, 1.0) for key in bound_keys]
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i][2])
    results: dict[int, Any] = {}

    def done(i: int, res: Any) -> None:
        results[i] = res
        if on_result is not None and i < len(tasks):
            on_result(res)

    bar = _progress_bar(progress)
    with bar:
        task_id = bar.add_task("evaluating", total=len(jobs))
        if config.jobs == 1 or len(jobs) == 1:
            for i in order:
                fn, args, _ = jobs[i]
                label = (
                    f"{args[0].policy} · {names[args[0].scenario]} · {args[0].seed}"
                    if i < len(tasks) else f"oracle bound · {names[args[0]]} · {args[1]}"
                )
                bar.update(task_id, description=label)
                done(i, fn(*args))
                bar.advance(task_id)
        else:
            _run_pool(jobs, order, config.jobs, done, lambda: bar.advance(task_id))
    runs = [results[i] for i in range(len(tasks))]
    bounds = {
        (names[arg], seed): float(results[len(tasks) + k])
        for k, (arg, seed) in enumerate(bound_keys)
    }
    return Evaluation(
        config=config,
        seeds=config.seed_list,
        split=split,
        scenario_names=names,
        held_out=held,
        plot_skus=skus,
        runs=runs,
        bounds=bounds,
        elapsed_s=time.perf_counter() - start,
    )


def _run_pool(
    jobs: list[tuple[Callable[..., Any], tuple[Any, ...], float]],
    order: list[int],
    workers: int,
    done: Callable[[int, Any], None],
    advance: Callable[[], None],
) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))  # inherited by the spawned workers
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=mp.get_context("spawn"),
        initializer=_init_worker,
    )
    try:
        futures = {pool.submit(jobs[i][0], *jobs[i][1]): i for i in order}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for fut in finished:
                exc = fut.exception()
                if exc is not None:
                    raise exc
                done(futures[fut], fut.result())
                advance()
    except BaseException:  # a failed episode or Ctrl-C: drop queued work, do not wait for it
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _progress_bar(enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def output_dir(base: str | Path | None = None) -> Path:
    """``base``, or ``runs/eval/<UTC timestamp>`` when ``base`` is ``None``."""
    if base is not None:
        return Path(base)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path("runs") / "eval" / stamp
