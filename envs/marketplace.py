"""``MarketplaceEnv``: the Gymnasium face of :class:`~envs.simulator.MarketSimulator`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs import kernel as K
from envs.plan import Plan, PlanArrays
from envs.scenario import ScenarioSpec, load_scenario
from envs.simulator import COST_TERMS, DayResult, MarketSimulator, ShopView

#: Per-SKU observation features, in order (see the class docstring for scales).
SKU_FEATURES = (
    "on_hand",
    "on_order",
    "backlog",
    "sales_ema7",
    "sales_ema28",
    "last_sales",
    "cover_days",
    "price_ratio",
    "discount",
    "promo_left",
    "promo_streak",
    "lead_time",
    "days_to_festival",
    "expiring_soon",
    "margin",
)
#: Calendar features appended after the per-SKU block.
CALENDAR_FEATURES = (
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "year_sin",
    "year_cos",
    "progress",
)


class MarketplaceEnv(gym.Env):
    """A shop selling ``n`` SKUs, one step per day.

    ## Description
    Each day the agent decides, per SKU, how much stock to order from the supplier and which
    discount to run. Demand responds to price (own-price elasticity), promotions (a lift that
    fades under constant promotion, a dip after, cannibalisation and halo in the category),
    weekly and yearly seasonality, trend, festivals and scheduled drift, with negative-binomial
    noise. Orders arrive after a supplier lead time that varies and stretches during
    disruptions, sometimes only partly; perishables expire first-in-first-out. The scenario
    file (``scenarios/*.yaml``) sets every parameter; see :mod:`envs.simulator` for the exact
    order of events within a day.

    ## Action Space
    ``MultiDiscrete([R] * n + [D] * n)``: the first ``n`` entries pick, per SKU, an
    *order-up-to* cover level from ``restock_cover_days`` (default
    ``[0, 3, 5, 7, 10, 14, 21, 28, 42]``): level ``k > 0`` orders
    ``max(0, cover_k * sales_ema28 - (on_hand + on_order - backlog))`` units, level 0 orders
    nothing. The next ``n`` pick a discount from ``discount_levels`` (default
    ``[0, 0.1, 0.2, 0.3, 0.5]``) for today (clipped to the category's cap). Order-up-to levels
    in days of recent demand keep the encoding meaningful across SKUs of any size. A typed
    :class:`~envs.plan.Plan` can be passed to ``step`` instead of a vector.

    ## Observation Space
    ``Box(low, high, (n * 15 + 10,), float32)``: 15 features per SKU, SKU-major
    (``obs[i*15 + j]`` is feature ``j`` of SKU ``i``), then 10 calendar features.

    | j  | feature          | scale                                        | min | max |
    |----|------------------|----------------------------------------------|-----|-----|
    | 0  | on_hand          | log1p(units)                                 | 0   | 30  |
    | 1  | on_order         | log1p(units)                                 | 0   | 30  |
    | 2  | backlog          | log1p(units)                                 | 0   | 30  |
    | 3  | sales_ema7       | log1p(units/day)                             | 0   | 30  |
    | 4  | sales_ema28      | log1p(units/day)                             | 0   | 30  |
    | 5  | last_sales       | log1p(units)                                 | 0   | 30  |
    | 6  | cover_days       | (on_hand + on_order) / ema28, capped, / 30   | 0   | 12  |
    | 7  | price_ratio      | today's price / list price                   | 0   | 1   |
    | 8  | discount         | running discount                             | 0   | 1   |
    | 9  | promo_left       | days / 30, capped at 365 days                | 0   | 13  |
    | 10 | promo_streak     | days / 30, capped at 365 days                | 0   | 13  |
    | 11 | lead_time        | days / 30 (with known disruptions), capped   | 0   | 13  |
    | 12 | days_to_festival | days / 365                                   | 0   | 1   |
    | 13 | expiring_soon    | log1p(units within 2 days of shelf life)     | 0   | 30  |
    | 14 | margin           | (price - unit cost) / price                  | 0   | 1   |

    Calendar: day-of-week one-hot (7), sin and cos of the day of year, episode progress.
    :meth:`view` returns the same information unscaled as a :class:`~envs.simulator.ShopView`.

    ## Rewards
    The day's profit: revenue minus cost of goods sold, holding, ordering (per purchase order),
    promotion (per start and per promoted SKU-day), lost-sales goodwill penalty, backorder and
    waste costs. ``info["breakdown"]`` has each term; ``info["result"]`` the per-SKU arrays.

    ## Starting State
    ``initial_stock_days`` of mean demand on hand (half the shelf life at most for
    perishables), nothing on order, no promotions.

    ## Episode End
    * Truncation: the scenario's ``horizon_days`` have been simulated (also enforced by the
      ``max_episode_steps`` of the registration). There is no terminal state: a shop does not
      end, so value should be bootstrapped at the horizon.

    ## Arguments
    * ``scenario``: a shipped scenario name, a YAML path, or a :class:`ScenarioSpec`
      (default ``"steady"``).

    ## Version History
    * v0: initial release.
    """

    metadata: ClassVar[dict] = {"render_modes": ["ansi"]}

    def __init__(
        self, scenario: str | Path | ScenarioSpec = "steady", render_mode: str | None = None
    ):
        spec = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(scenario)
        self.scenario = spec
        self.sim = MarketSimulator(spec, seed=0)
        n = self.sim.n
        self.n = n
        self._cover = np.asarray(spec.restock_cover_days, dtype=float)
        self._disc = np.asarray(spec.discount_levels, dtype=float)
        self.action_space = spaces.MultiDiscrete(
            np.array([len(self._cover)] * n + [len(self._disc)] * n, dtype=np.int64)
        )
        dim = n * len(SKU_FEATURES) + len(CALENDAR_FEATURES)
        sku_high = np.array(
            [30, 30, 30, 30, 30, 30, 12, 1, 1, 13, 13, 13, 1, 30, 1], dtype=np.float32
        )
        low = np.zeros(dim, dtype=np.float32)
        high = np.concatenate([np.tile(sku_high, n), np.ones(len(CALENDAR_FEATURES), np.float32)])
        low[n * len(SKU_FEATURES) + 7 : n * len(SKU_FEATURES) + 9] = -1.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.render_mode = render_mode
        c = self.sim.catalog
        self._margin = (c.price - c.unit_cost) / c.price
        self._zeros = np.zeros(n)
        self._sku_dim = n * len(SKU_FEATURES)
        self._obs = np.zeros(dim)
        self._perishable = bool(c.perishable.any())
        self._all_true = np.ones(n, dtype=bool)
        self._ones = np.ones(n, dtype=np.int64)
        self._last: DayResult | None = None

    # --------------------------------------------------------------- encodings
    def decode_action(self, action: np.ndarray) -> PlanArrays:
        """The :class:`PlanArrays` a ``MultiDiscrete`` action stands for, today."""
        a = np.asarray(action, dtype=np.int64)
        n, m = self.n, self.sim.state.m
        cover = self._cover[a[:n]]
        position = m[K.ON_HAND] + m[K.ON_ORDER] - m[K.BACKLOG]
        qty = np.maximum(np.ceil(cover * m[K.EMA28] - position), 0.0)
        qty[cover == 0] = 0.0
        return PlanArrays(
            order_qty=qty,
            promo_set=self._all_true,
            discount=self._disc[a[n:]],
            duration=self._ones,
        )

    def _observe(self) -> np.ndarray:
        sim = self.sim
        c, cal = sim.catalog, sim.calendar
        day = sim.state.day
        t = min(day, self.scenario.horizon_days - 1)
        soon = sim.view().expiring_soon if self._perishable else self._zeros
        obs = self._obs
        K.observe_into(
            sim.state.m,
            self._margin,
            (c.sup_lead + cal.extra_lead[t])[c.supplier],
            cal.days_to_festival[t][c.category],
            soon,
            obs,
        )
        tail = obs[self._sku_dim :]
        tail[:7] = 0.0
        tail[cal.dow[t]] = 1.0
        doy = cal.doy[t]
        tail[7] = np.sin(2 * np.pi * doy / 365.0)
        tail[8] = np.cos(2 * np.pi * doy / 365.0)
        tail[9] = day / self.scenario.horizon_days
        return obs.astype(np.float32)

    # ----------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode. The episode's randomness comes from ``seed`` only."""
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(0, 2**63 - 1))
        self.sim.reset(episode_seed)
        self._last = None
        return self._observe(), {"day": 0, "seed": episode_seed}

    def step(self, action: np.ndarray | Plan | PlanArrays):
        """Simulate one day. ``action`` is a ``MultiDiscrete`` vector or a typed plan."""
        if isinstance(action, Plan | PlanArrays):
            result = self.sim.step(action)
        else:  # the decoder builds valid arrays; skip re-validation on the hot path
            result = self.sim.step(self.decode_action(action), validate=False)
        self._last = result
        truncated = self.sim.done
        info = {
            "day": result.day,
            "breakdown": result.breakdown,
            "result": result,
        }
        return self._observe(), float(result.profit), False, truncated, info

    # --------------------------------------------------------------- extras
    def view(self) -> ShopView:
        """The structured observation (raw units) of the current morning."""
        return self.sim.view()

    def fork(self, seed: int | None = None) -> MarketplaceEnv:
        """An independent copy sharing the future random draws (see ``MarketSimulator.fork``)."""
        import copy

        other = MarketplaceEnv.__new__(MarketplaceEnv)
        for k, v in self.__dict__.items():  # own buffers and random generator, never shared
            if k not in ("sim", "scenario"):
                other.__dict__[k] = copy.deepcopy(v)
        other.scenario = self.scenario  # immutable: shared
        other.sim = self.sim.fork(seed)
        return other

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        r = self._last
        if r is None:
            return f"day {self.sim.day}: no step yet"
        terms = ", ".join(f"{k}={r.breakdown[k]:.0f}" for k in ("revenue", *COST_TERMS))
        return f"day {r.day}: profit={r.profit:.2f} ({terms})"
