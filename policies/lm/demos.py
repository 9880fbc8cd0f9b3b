"""Expert demonstrations: (prompt, completion) rows from an expert's episodes.

The expert (by default the ``mpc`` lookahead planner, see :data:`DEFAULT_EXPERT`) runs
whole episodes of training
scenarios on training seeds. Every ``day_stride``-th morning, every SKU's prompt is paired
with the expert's plan encoded as the nearest decision
(:meth:`~policies.lm.codec.LMCodec.encode`).

* **Drivers (DAgger).** With a driver (``"lm"``, ``"lm:<checkpoint>"`` or any registered
  policy name), that policy runs the episodes and the expert only labels the kept mornings:
  the data then covers the states the student itself reaches, including its own mistakes
  (a stock-out the expert would never have let happen), which is what imitation needs to
  stop errors from compounding. Several drivers can be listed; each runs every episode.
* **Variants.** ``variants=k`` adds ``k`` randomised shops per scenario and seed
  (:func:`policies.lm.variants.training_variant`: other lead times, order minimums, demand
  levels, launches), so the model meets the whole range of prompt words.
* **Starved starts.** ``starve_days=n`` runs every episode once more with nobody ordering
  for its first ``n`` days (the expert still labels those mornings), then the driver takes
  over: the shelves empty out and refill, states no driver reaches on its own but a real
  shop can be in (an outage, a paused agent). Without them a student learns that empty
  shelves with nothing on order mean "no order": in its own data that happens only at the
  end of the horizon.
* **Name dropout.** A share of rows get a never-seen category and product name (one random
  word per row, so the tokenizer maps it to ``<unk>``), so the model learns to decide from
  the numbers when it meets a category it has never seen.

Episodes run in parallel worker processes with ``jobs > 1`` (each worker one torch thread).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from envs.simulator import MarketSimulator
from policies.lm import recipe
from policies.lm.codec import LMCodec
from policies.lm.errors import LMConfigError, TrainingDataError

__all__ = [
    "DEFAULT_TRAIN_SCENARIOS",
    "TRAIN_SEED_START",
    "DemoSet",
    "check_training_seeds",
    "collect_demonstrations",
    "default_expert",
    "drop_names",
    "make_driver",
]

#: Shipped scenarios the LM trains on (``policies.lm.recipe.TRAIN_SCENARIOS``).
DEFAULT_TRAIN_SCENARIOS: tuple[str, ...] = recipe.TRAIN_SCENARIOS


#: Episode seeds training may use: 1000 and up. Seeds 0-999 are reserved for reported
#: evaluations (the project's split, ``eval.splits``, shared with ``policies/tuning.py``).
TRAIN_SEED_START = 1000


def check_training_seeds(seeds: Sequence[int]) -> None:
    """Raise :class:`LMConfigError` unless every seed is a training seed (1000 and up)."""
    bad = [s for s in seeds if s < TRAIN_SEED_START]
    if bad:
        raise LMConfigError(
            f"seeds {bad} are reporting seeds (0-999) or negative; train on seeds "
            f"{TRAIN_SEED_START} and up"
        )


#: The default teacher: the ``mpc`` lookahead planner. It ties the tuned heuristic on the
#: familiar scenarios and beats it where lookahead matters (held-out ``new_category``: 75.1
#: versus 65.0 % of the oracle bound, ``runs/eval/default``), and it needs no per-scenario
#: tuning, so it can label the randomised variants. It costs about 13 CPU-seconds per
#: episode, against 0.07 s for ``base_stock_tuned`` (``--expert base_stock_tuned`` for a
#: quick run).
DEFAULT_EXPERT = "mpc"


def default_expert() -> str:
    """The teacher used when none is named: :data:`DEFAULT_EXPERT`."""
    return DEFAULT_EXPERT


@dataclasses.dataclass
class DemoSet:
    """Demonstrations and where they came from (recorded next to checkpoints)."""

    prompts: list[str]
    completions: list[str]
    expert: str
    scenarios: tuple[str, ...]
    seeds: tuple[int, ...]
    expert_profit: dict[str, float]
    driver: str | None = None
    variants: int = 0
    name_dropout: float = 0.0
    starve_days: int = 0

    def __len__(self) -> int:
        return len(self.prompts)

    def to_dataset(self) -> Any:
        """A ``datasets.Dataset`` with ``prompt`` and ``completion`` columns."""
        from datasets import Dataset

        return Dataset.from_dict({"prompt": self.prompts, "completion": self.completions})

    def record(self) -> dict[str, Any]:
        """Provenance for ``train_record.json``."""
        return {
            "expert": self.expert,
            "scenarios": list(self.scenarios),
            "seeds": list(self.seeds),
            "variants_per_scenario_seed": self.variants,
            "name_dropout": self.name_dropout,
            "starve_days": self.starve_days,
            "rows": len(self),
            "driver": self.driver or self.expert,
            "episode_mean_profit": self.expert_profit,
        }


@dataclasses.dataclass(frozen=True)
class _Episode:
    scenario: str
    seed: int
    variant: int
    expert: str
    driver: str | None
    day_stride: int
    starve_days: int = 0


def make_driver(spec: str) -> Any:
    """The policy named by a driver spec: ``"lm"`` (shipped checkpoint), ``"lm:<folder>"``
    or any registered policy name.

    Raises:
        UnknownPolicyError / PolicyArtifactError: no such policy or checkpoint.
    """
    from policies.registry import make_policy

    if spec.startswith("lm:"):
        return make_policy("lm", path=spec[3:], threads=1)
    if spec == "lm":
        return make_policy("lm", threads=1)
    return make_policy(spec)


def _run_episode(task: _Episode) -> tuple[list[str], list[str], float, str]:
    """Rows and profit of one demonstration episode (runs in a worker with ``jobs > 1``)."""
    from envs.scenario import load_scenario
    from policies.lm.variants import training_variant
    from policies.registry import make_policy

    spec = load_scenario(task.scenario)
    if task.variant > 0:
        spec = training_variant(spec, task.variant, task.seed)
    sim = MarketSimulator.from_scenario(spec, seed=task.seed)
    teacher = make_policy(task.expert)
    teacher.reset(sim)
    driver = teacher if task.driver is None else make_driver(task.driver)
    if driver is not teacher:
        driver.reset(sim)
    codec = LMCodec(sim)
    prompts: list[str] = []
    completions: list[str] = []
    total = 0.0
    while not sim.done:
        view = sim.view()
        label_day = sim.day % task.day_stride == 0
        idle = sim.day < task.starve_days
        plan = teacher.act(view, sim) if label_day or driver is teacher else None
        if label_day and plan is not None:
            prompts.extend(codec.prompts(view))
            completions.extend(codec.completion(d) for d in codec.encode(plan, view))
        if idle:
            plan = None  # a starved start: nobody orders (the teacher's state still advances)
        elif driver is not teacher:
            plan = driver.act(view, sim)
        total += sim.step(plan).profit
    return prompts, completions, total, spec.name


def _init_worker() -> None:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def drop_names(prompts: list[str], share: float, seed: int) -> list[str]:
    """``prompts`` with the category and product words of a ``share`` of rows replaced by
    one-off random words (``<unk>`` to any tokenizer trained with ``min_frequency >= 2``).

    >>> drop_names(["cat=a name=b dow=1 ->"], 1.0, 0)[0].split(" ")[2:]
    ['dow=1', '->']
    """
    if share <= 0:
        return list(prompts)
    rng = np.random.default_rng(seed)
    hit = rng.random(len(prompts)) < share
    tags = rng.integers(0, 2**62, size=len(prompts))
    out = []
    for p, h, tag in zip(prompts, hit, tags, strict=True):
        if h:
            words = p.split(" ")
            words[0], words[1] = f"cat=u{tag:x}", f"name=u{tag:x}"
            p = " ".join(words)
        out.append(p)
    return out


def collect_demonstrations(
    scenarios: Sequence[str] = DEFAULT_TRAIN_SCENARIOS,
    seeds: Sequence[int] = (TRAIN_SEED_START, TRAIN_SEED_START + 1),
    expert: str | None = None,
    day_stride: int = 1,
    drivers: Sequence[str | None] = (None,),
    progress: Callable[[str], None] | None = None,
    *,
    variants: int = 0,
    name_dropout: float = 0.0,
    seed: int = 0,
    jobs: int = 1,
    starve_days: int = 0,
) -> DemoSet:
    """Run the episodes and record the expert's decisions (see the module docstring).

    Args:
        scenarios: training scenarios (held-out ones are refused).
        seeds: training seeds (1000 and up).
        expert: a registered policy name (default :func:`default_expert`).
        day_stride: keep every ``day_stride``-th day (1: all days).
        drivers: who runs the episodes, one full pass each: ``None`` (the expert itself),
            ``"lm"``, ``"lm:<checkpoint>"`` or a registered policy name (DAgger).
        progress: called with a short status line per episode.
        variants: randomised shops per scenario and seed, next to the scenario itself.
        name_dropout: share of rows whose category and product names are made unknown.
        seed: the name-dropout seed.
        jobs: worker processes.
        starve_days: with ``n > 0`` every episode also runs as a starved start (nobody
            orders on its first ``n`` days, see the module docstring).

    Raises:
        LMConfigError: a held-out scenario or reporting seed was asked for, or a bad option.
        TrainingDataError: no rows were produced.
    """
    from envs.scenario import load_scenario

    expert = expert or default_expert()
    if (day_stride < 1 or variants < 0 or jobs < 1 or not 0.0 <= name_dropout <= 1.0
            or starve_days < 0):
        raise LMConfigError(
            f"day_stride and jobs must be >= 1, variants and starve_days >= 0 and name_dropout "
            f"in [0, 1]; got {day_stride}, {jobs}, {variants}, {starve_days} and {name_dropout}"
        )
    check_training_seeds(seeds)
    for scenario in scenarios:
        if load_scenario(scenario).held_out:
            raise LMConfigError(
                f"scenario {scenario!r} is held out (held_out: true); train on "
                f"{', '.join(DEFAULT_TRAIN_SCENARIOS)} instead"
            )
    tasks = [
        _Episode(sc, int(sd), v, expert, drv, day_stride, starve)
        for drv in drivers for sc in scenarios for sd in seeds for v in range(variants + 1)
        for starve in ((0, starve_days) if starve_days > 0 else (0,))
    ]
    prompts: list[str] = []
    completions: list[str] = []
    sums: dict[str, list[float]] = {}

    def take(task: _Episode, res: tuple[list[str], list[str], float, str]) -> None:
        p, c, total, name = res
        prompts.extend(p)
        completions.extend(c)
        if task.driver is None and task.variant == 0 and task.starve_days == 0:
            sums.setdefault(task.scenario, []).append(total)
        if progress is not None:
            who = task.driver or expert
            starved = f", starved {task.starve_days} days" if task.starve_days else ""
            progress(f"demonstrations: {name} seed {task.seed} ({who}{starved}), "
                     f"{len(prompts):,} rows")

    if jobs == 1:
        for task in tasks:
            take(task, _run_episode(task))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_init_worker) as pool:
            for task, res in zip(tasks, pool.map(_run_episode, tasks), strict=True):
                take(task, res)
    if not prompts:
        raise TrainingDataError("no demonstrations were produced (no scenarios or seeds?)")
    prompts = drop_names(prompts, name_dropout, seed)
    named = [d for d in drivers if d is not None]
    return DemoSet(
        prompts, completions, expert, tuple(scenarios), tuple(int(s) for s in seeds),
        {k: sum(v) / len(v) for k, v in sums.items()},
        ",".join(d or "expert" for d in drivers) if named else None,
        variants, name_dropout, starve_days,
    )
