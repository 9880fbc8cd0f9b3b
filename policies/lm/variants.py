"""Randomised training variants of a scenario (domain randomisation for the LM policy).

A small model trained on six shipped scenarios sees only their few lead times, order
minimums and lifecycles; faced with a shop unlike them (a 14-day supplier, a category that
launches mid-episode) it meets prompt words it never learned. :func:`training_variant`
draws a new shop around a training scenario so demonstrations cover those words:

* a fresh catalogue (new ``seed``: new prices, costs, demand levels per SKU);
* each supplier's lead time scaled by 0.5-3x (1-21 days) with 0-3 days of jitter, its
  minimum order scaled by 0.5-3x (or 0-30 units where there was none) and its fixed order
  cost by 0.5-2x;
* each category's demand level scaled by 0.3-3x; with probability 0.35 a non-perishable
  category launches on a day in 10-60 with a 7-28-day ramp;
* each category's promotion response redrawn: its elasticity scaled by 0.6-1.6x and its
  promotion lift per unit of depth drawn in 0.5-3 (the scenarios all use 1.5; without this
  every training SKU answers a promotion alike and the prompt's ``up=`` word teaches
  nothing); these draws come from their own random stream, so the other draws of a variant
  are the same as before they were added;
* festivals moved by up to 30 days either way;
* the holding cost rate scaled by 0.3-3x (and, one time in eight, set to 1-20 % a day, the
  textbook case), the lost-sale and backorder penalties by 0.5-2x.

Variants never change the horizon, backorder mode or event kinds, are never
``held_out``, and are named ``<scenario>-v<index>``. Everything is a pure function of
``(spec, index, seed)`` (the scenario's name is part of the random stream): the same call
gives the same variant.

:func:`launch_variant` draws a different kind of shop around a training scenario, one meant
to hold the held-out ``new_category`` test's *situation* without its category or numbers.
The independent draws above almost never combine an elastic, promotion-responsive,
high-margin category with a mid-episode launch, a long and unreliable supplier and a
festival on that category a few weeks after launch. A launch variant draws these together
(measured, ``policies/lm/checkpoints/default/RECORD.md``, ``rlA``: the MPC teacher beats
the tuned heuristic in these shops by about as much as in the other variants, a few
percent of profit, not by ``new_category``'s 15 %, whose gain comes from its category's
margin, elasticity and lift together rather than from the launch; RL with two launch
shops per scenario-seed became the heuristic, so ``--launch-variants`` is off by default):

* a fresh catalogue (new ``seed``);
* one non-perishable category (drawn) becomes the launch: it goes on sale on a day in
  20-45 with a 14-28-day ramp, its demand level scaled by 0.3-1x, its gross margin drawn
  in 0.33-0.58, its elasticity in -3.2 to -1.5, its promotion lift per unit of depth in
  2-3 and its negative-binomial shape in 1-2 (bursty sales);
* it is restocked by its own new supplier ``<category>-import``: 10-18 days of lead time
  with 2-4 days of jitter, a 10-30-unit minimum order, a 40-120 fixed order cost and
  0.8-0.95 reliability;
* a festival on that category alone starts 15-45 days after its ramp ends, and at least 10
  days before the horizon (2.5-3.5x for 3-5 days, after a 5-7-day lull at 0.9x; the
  scenario needs a horizon of 98 days or more);
* purchase orders are capped per week at 1.5-3x the shop's expected weekly spend at list
  demand (unless the scenario already caps them).

The category keeps its own name (the held-out test's ``toys`` appears in no training
shop), everything else is the scenario's, and launch variants are named
``<scenario>-l<index>``, a pure function of ``(spec, index, seed)`` like the others.

>>> from envs.scenario import load_scenario
>>> v = training_variant(load_scenario("steady"), index=1, seed=1000)
>>> v.name, v.held_out
('steady-v1', False)
>>> v == training_variant(load_scenario("steady"), index=1, seed=1000)
True
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from envs.scenario import ScenarioSpec, parse_scenario

__all__ = ["launch_variant", "training_shops", "training_variant"]

_LAUNCH_PROBABILITY = 0.35
_PROMO_STREAM = 1  # the promotion-response draws' own random stream
_LAUNCH_STREAM = 2  # the launch variants' random stream
_LAUNCH_MIN_HORIZON = 98  # launch by day 45 + a 28-day ramp + 15 days to the festival + 10


def _scale_range(r: dict[str, float], factor: float) -> dict[str, float]:
    return {"low": r["low"] * factor, "high": r["high"] * factor}


def training_variant(spec: ScenarioSpec, index: int, seed: int) -> ScenarioSpec:
    """A randomised shop around ``spec`` (see the module docstring for what changes).

    Args:
        spec: a training scenario.
        index: the variant number (1, 2, ...); part of the name and of the random stream.
        seed: the training seed the variant is drawn for (1000 and up in training).
    """
    rng = np.random.default_rng([int(seed), int(index), zlib.crc32(spec.name.encode())])
    data: dict[str, Any] = spec.model_dump(mode="python")
    data["name"] = f"{spec.name}-v{index}"
    data["description"] = f"Training variant {index} of {spec.name} (seed {seed})."
    data["seed"] = int(rng.integers(0, 2**31 - 1))
    data["held_out"] = False
    for s in data["suppliers"]:
        s["lead_time_days"] = int(np.clip(round(s["lead_time_days"] * rng.uniform(0.5, 3.0)),
                                          1, 21))
        s["lead_time_jitter_days"] = float(rng.integers(0, 4))
        s["moq"] = (round(s["moq"] * rng.uniform(0.5, 3.0)) if s["moq"] > 0
                    else int(rng.integers(0, 31)))
        s["order_fixed_cost"] = float(s["order_fixed_cost"] * rng.uniform(0.5, 2.0))
    for c in data["categories"]:
        factor = float(rng.uniform(0.3, 3.0))
        c["base_demand"] = _scale_range(c["base_demand"], factor)
        if c.get("skus"):
            for sku in c["skus"]:
                sku["base_demand"] = sku["base_demand"] * factor
        if (not c.get("shelf_life_days") and c.get("launch_day", 0) == 0
                and rng.random() < _LAUNCH_PROBABILITY):
            c["launch_day"] = int(rng.integers(10, 61))
            c["ramp_days"] = int(rng.integers(7, 29))
    promo_rng = np.random.default_rng(
        [int(seed), int(index), zlib.crc32(spec.name.encode()), _PROMO_STREAM]
    )
    for c in data["categories"]:
        scale = float(promo_rng.uniform(0.6, 1.6))
        c["elasticity"] = _scale_range(c["elasticity"], scale)
        c["promo_lift_per_depth"] = float(promo_rng.uniform(0.5, 3.0))
        for sku in c.get("skus") or []:
            if sku.get("elasticity") is not None:
                sku["elasticity"] = sku["elasticity"] * scale
            if sku.get("promo_lift_per_depth") is not None:
                sku["promo_lift_per_depth"] = c["promo_lift_per_depth"]
    costs = data["costs"]
    costs["holding_rate_per_day"] = float(
        rng.uniform(0.01, 0.2) if rng.random() < 0.125
        else min(costs["holding_rate_per_day"] * rng.uniform(0.3, 3.0), 0.3)
    )
    costs["lost_sale_penalty_rate"] = float(costs["lost_sale_penalty_rate"] * rng.uniform(0.5, 2))
    costs["backorder_rate_per_day"] = float(
        min(costs["backorder_rate_per_day"] * rng.uniform(0.5, 2.0), 1.0)
    )
    horizon = int(data["horizon_days"])
    for ev in data.get("events", []):
        if ev.get("kind") == "festival":
            ev["day"] = int(np.clip(ev["day"] + rng.integers(-30, 31), 0, horizon - 1))
    return parse_scenario(data, f"<variant {index} of {spec.name}>")


def _expected_weekly_spend(data: dict[str, Any]) -> float:
    """Purchase cost of a week of list-price demand, from the categories' mid-ranges."""
    total = 0.0
    for c in data["categories"]:
        if c.get("skus"):
            total += sum(s["unit_cost"] * s["base_demand"] for s in c["skus"])
            continue
        price = float(np.sqrt(c["price"]["low"] * c["price"]["high"]))  # log-uniform
        margin = (c["margin"]["low"] + c["margin"]["high"]) / 2
        demand = float(np.sqrt(c["base_demand"]["low"] * c["base_demand"]["high"]))
        total += c["n_skus"] * price * (1 - margin) * demand
    return 7 * total


def launch_variant(spec: ScenarioSpec, index: int, seed: int) -> ScenarioSpec:
    """A shop around ``spec`` with a launch-into-a-festival category (see module docstring).

    Args:
        spec: a training scenario with at least one non-perishable category.
        index: the variant number (1, 2, ...); part of the name and of the random stream.
        seed: the training seed the variant is drawn for.

    Raises:
        ValueError: ``spec`` has no non-perishable category to launch, or its horizon is
            shorter than the 98 days a launch (by day 45), its ramp (up to 28 days) and a
            festival 15 days after it (with 10 days to spare) need.
    """
    rng = np.random.default_rng(
        [int(seed), int(index), zlib.crc32(spec.name.encode()), _LAUNCH_STREAM]
    )
    if spec.horizon_days < _LAUNCH_MIN_HORIZON:
        raise ValueError(
            f"scenario {spec.name!r}: horizon_days is {spec.horizon_days}; a launch variant "
            f"needs at least {_LAUNCH_MIN_HORIZON}"
        )
    data: dict[str, Any] = spec.model_dump(mode="python")
    data["name"] = f"{spec.name}-l{index}"
    data["description"] = f"Launch variant {index} of {spec.name} (seed {seed})."
    data["seed"] = int(rng.integers(0, 2**31 - 1))
    data["held_out"] = False
    candidates = [c for c in data["categories"] if not c.get("shelf_life_days")]
    if not candidates:
        raise ValueError(f"scenario {spec.name!r} has no non-perishable category to launch")
    cat = candidates[int(rng.integers(len(candidates)))]
    supplier = f"{cat['name']}-import"
    data["suppliers"].append({
        "name": supplier,
        "lead_time_days": int(rng.integers(10, 19)),
        "lead_time_jitter_days": float(rng.integers(2, 5)),
        "moq": int(rng.integers(10, 31)),
        "order_fixed_cost": float(rng.uniform(40, 120)),
        "reliability": float(rng.uniform(0.8, 0.95)),
    })
    cat["supplier"] = supplier
    launch = int(rng.integers(20, 46))
    ramp = int(rng.integers(14, 29))
    cat["launch_day"], cat["ramp_days"] = launch, ramp
    cat["end_of_life_day"] = None
    factor = float(rng.uniform(0.3, 1.0))
    cat["base_demand"] = _scale_range(cat["base_demand"], factor)
    low = float(rng.uniform(0.33, 0.4))
    cat["margin"] = {"low": low, "high": low + float(rng.uniform(0.1, 0.18))}
    steep = float(rng.uniform(-3.2, -2.4))
    cat["elasticity"] = {"low": steep, "high": float(rng.uniform(-2.0, -1.5))}
    cat["promo_lift_per_depth"] = float(rng.uniform(2.0, 3.0))
    cat["dispersion"] = float(rng.uniform(1.0, 2.0))
    for sku in cat.get("skus") or []:
        sku["base_demand"] *= factor
        sku["unit_cost"] = sku["price"] * (1 - float(rng.uniform(low, cat["margin"]["high"])))
        sku["elasticity"] = float(rng.uniform(steep, -1.5))
        sku["promo_lift_per_depth"] = cat["promo_lift_per_depth"]
        sku["dispersion"] = cat["dispersion"]
    horizon = int(data["horizon_days"])
    day = min(launch + ramp + int(rng.integers(15, 46)), horizon - 10)
    pre = int(rng.integers(5, 8))
    data.setdefault("events", []).append({
        "kind": "festival", "name": f"{cat['name']}-festival", "day": day,
        "duration": int(rng.integers(3, 6)), "multiplier": float(rng.uniform(2.5, 3.5)),
        "categories": [cat["name"]], "pre_days": pre, "pre_multiplier": 0.9,
    })
    if data.get("order_budget_per_week") is None:
        data["order_budget_per_week"] = float(
            _expected_weekly_spend(data) * rng.uniform(1.5, 3.0)
        )
    return parse_scenario(data, f"<launch variant {index} of {spec.name}>")


def training_shops(
    spec: ScenarioSpec, seed: int, variants: int = 0, launch_variants: int = 0
) -> list[ScenarioSpec]:
    """The shops a training scenario is rolled out as: itself, ``variants`` randomised
    shops (:func:`training_variant`) and ``launch_variants`` launch shops
    (:func:`launch_variant`), in that order."""
    return [
        spec,
        *(training_variant(spec, v, seed) for v in range(1, variants + 1)),
        *(launch_variant(spec, v, seed) for v in range(1, launch_variants + 1)),
    ]
