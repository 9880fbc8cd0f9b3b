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

__all__ = ["training_variant"]

_LAUNCH_PROBABILITY = 0.35
_PROMO_STREAM = 1  # the promotion-response draws' own random stream


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
