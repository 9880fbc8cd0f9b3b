"""Does the RL reward see what a departure from the team's rule is worth over the episode?

RL moves the policy towards completions the simulator reward scores above the greedy one.
Where the tuned heuristic (the prompt's ``hr=`` / ``hd=``) is near-optimal, a departure is
worth little, and a reward that is off by a little there teaches the policy to drift. This
check measures that, on the policy's own mornings:

* it rolls out a checkpoint on training scenarios and seeds and saves SKU-mornings exactly
  as RL does (:func:`policies.lm.rl.collect_states`);
* for each saved morning where the heuristic advises no promotion, it scores departures
  from the advised decision: ``up`` (one restock level more), ``down`` (one level less),
  ``promo`` and ``deep_promo`` (the advised restock with a 10 % or a 20 % promotion for 7
  days);
* **estimate**: what RL's :class:`~policies.lm.rewards.SimulatorReward` gives the departure
  minus the advised decision, with the reward settings given;
* **truth**: the same difference over the rest of the episode (to its last day, so nothing
  is left to a carry cost), the tuned heuristic running the SKU after day 0 and the rest of
  the shop following the rolled-out policy's decisions, averaged over ``truth_futures``
  seeded futures (the whole-episode one-step advantage of the departure under a policy
  that keeps the rule, which is what the imitation checkpoint does on the tuned scenarios).

Both in days of the SKU's revenue. Each row also names the SKU's ``category`` and its
``group``: ``scenario``, ``variant`` (a randomised shop), ``launched`` (the launched
category of a launch shop, :func:`policies.lm.variants.launch_variant`) or
``launch-other`` (its other categories). :func:`summarise` gives, per kind (or per group
and kind), the mean estimate, the mean truth and the mean error, each with a 95 %
t-interval, and the share of mornings the departure pays: an error interval away from
zero is a bias RL will learn; a truth interval around zero with an estimate spread much
wider is noise RL will learn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from policies.lm import recipe

__all__ = ["DEPARTURES", "GROUPS", "departure_values", "summarise"]

#: Departures from the advised decision that the check scores.
DEPARTURES = ("up", "down", "promo", "deep_promo")
#: Groups of rows, by the shop and category a morning comes from.
GROUPS = ("scenario", "variant", "launched", "launch-other")


def _group(shop: str, launched: bool) -> str:
    """A row's group from its shop's name (``<scenario>-v<k>``, ``-l<k>``) and whether its
    SKU's category is the one a launch variant launched (restocked by ``<category>-import``)."""
    kind = re.search(r"-([vl])\d+$", shop)
    if kind is None:
        return "scenario"
    if kind.group(1) == "v":
        return "variant"
    return "launched" if launched else "launch-other"


def departure_values(
    scenarios: tuple[str, ...] = ("steady", "festival"),
    seeds: tuple[int, ...] = (1010,),
    path: str | None = None,
    horizon: int = recipe.HORIZON,
    tail_days: int = recipe.TAIL_DAYS,
    n_futures: int = recipe.N_FUTURES,
    truth_futures: int = 16,
    variants: int = 0,
    launch_variants: int = 0,
    day_stride: int = 7,
    skus_per_day: int = 3,
    min_days_left: int = 30,
    seed: int = 5,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per (saved morning, departure): ``scenario``, ``day``, ``kind``,
    ``category``, ``group``, ``advice``, ``estimate`` and ``truth`` (days of revenue).

    Args:
        scenarios, seeds, variants, launch_variants: the shops rolled out (training seeds
            only; see :func:`policies.lm.variants.training_shops`).
        path: the checkpoint that rolls out (default: the shipped one).
        horizon, tail_days, n_futures: the RL reward's settings (``continuation="expert"``:
            the heuristic runs the SKU after day 0, as in the truth, so only the reward's
            truncation, carry cost and futures differ).
        truth_futures: seeded futures of the whole-episode truth.
        min_days_left: mornings closer than this to the episode's end are skipped.
    """
    from policies.lm.codec import LMCodec
    from policies.lm.demos import check_training_seeds
    from policies.lm.grammar import RESTOCK_LEVELS, Decision
    from policies.lm.model import load_lm
    from policies.lm.policy import DEFAULT_CHECKPOINT
    from policies.lm.rewards import SimulatorReward, StateBank
    from policies.lm.rl import collect_states

    check_training_seeds(seeds)
    model, tokenizer = load_lm(path or DEFAULT_CHECKPOINT)
    bank = StateBank()
    prompts, ids, _ = collect_states(
        model, tokenizer, scenarios, seeds, bank, day_stride, skus_per_day,
        np.random.default_rng(seed), progress=progress, variants=variants,
        launch_variants=launch_variants,
    )
    estimate = SimulatorReward(bank, horizon=horizon, tail_days=tail_days,
                               n_futures=n_futures, continuation="expert")
    truth = SimulatorReward(bank, horizon=10_000, n_futures=truth_futures,
                            continuation="expert")
    levels = list(RESTOCK_LEVELS)
    rows: list[dict[str, Any]] = []
    for n, (prompt, sid) in enumerate(zip(prompts, ids, strict=True)):
        st = bank[sid]
        words = LMCodec.advice_of(prompt)  # hr= is always a grammar level
        if words is None or words[1] != 0:
            continue
        if st.sim.spec.horizon_days - st.sim.day < min_days_left:
            continue
        hr = words[0]
        cat = st.sim.catalog
        name = cat.category_names[int(cat.category[st.sku])]
        spec_cat = next(c for c in st.sim.spec.categories if c.name == name)
        k = levels.index(hr)
        departures = {
            "up": Decision(levels[k + 1], 0, 0) if k + 1 < len(levels) else None,
            "down": Decision(levels[k - 1], 0, 0) if k > 0 else None,
            "promo": Decision(hr, 10, 7),
            "deep_promo": Decision(hr, 20, 7),
        }
        departures = {kind: d for kind, d in departures.items() if d is not None}
        # the advised decision first, then every departure: one lockstep pass per reward
        items = [(sid, Decision(hr, 0, 0)), *((sid, d) for d in departures.values())]
        est, true = estimate.profits(items), truth.profits(items)
        for j, kind in enumerate(departures, start=1):
            rows.append({
                "scenario": st.sim.spec.name, "day": st.sim.day, "kind": kind,
                "category": name,
                "group": _group(st.sim.spec.name, spec_cat.supplier == f"{name}-import"),
                "advice": f"{hr:g}", "estimate": (est[j] - est[0]) / st.scale,
                "truth": (true[j] - true[0]) / st.scale,
            })
        if progress is not None:
            progress(f"morning {n + 1}/{len(prompts)}: {len(rows)} departures scored")
    return rows


def summarise(rows: list[dict[str, Any]], by_group: bool = False) -> dict[str, dict[str, Any]]:
    """Per departure kind (``by_group``: per ``"<group> <kind>"``, see :data:`GROUPS`):
    ``n``, ``pays`` (the share of mornings whose truth is above zero) and ``estimate``,
    ``truth``, ``error`` (estimate - truth), each as ``[mean, low, high]`` (95 %
    t-interval, days of revenue)."""
    from eval.stats import t_interval

    out: dict[str, dict[str, Any]] = {}
    for group in GROUPS if by_group else (None,):
        for kind in DEPARTURES:
            rs = [r for r in rows
                  if r["kind"] == kind and (group is None or r.get("group") == group)]
            if not rs:
                continue
            figures: dict[str, Any] = {
                "n": len(rs), "pays": sum(r["truth"] > 0 for r in rs) / len(rs),
            }
            for key, values in (("estimate", [r["estimate"] for r in rs]),
                                ("truth", [r["truth"] for r in rs]),
                                ("error", [r["estimate"] - r["truth"] for r in rs])):
                ci = t_interval(values)
                figures[key] = [ci.mean, ci.low, ci.high]
            out[kind if group is None else f"{group} {kind}"] = figures
    return out
