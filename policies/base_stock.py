"""The base-stock heuristic an operations team runs: periodic review, order up to, markdowns.

Per SKU and day, with the parameters of the SKU's category (:class:`BaseStockParams`):

* **Forecast.** A daily level ``w * sales_ema7 + (1 - w) * sales_ema28`` (``w`` is
  ``recent_weight``), times the calendar's festival multiplier for each future day (the
  team knows its promotion calendar). For a SKU still in its launch phase the buyer's launch
  forecast (catalogue ``base_demand`` times the ramp) is used where it is larger.
* **Demand over the protection window.** The window is the lead time ``L`` (from the view,
  with known disruptions) plus the review period ``R`` (``review_days``; for perishables at
  most ``shelf_life - 1``), cut at the horizon. Its demand is modelled as a sum of
  independent daily negative-binomial draws (Poisson for ``demand_noise: poisson``) with the
  catalogue's dispersion, plus lead-time jitter, and matched to one negative binomial.
* **Order up to** ``S`` = that distribution's ``service_level`` quantile. The default
  service level is the newsvendor critical ratio from the scenario's costs
  (``b / (b + h)`` with backorders, ``(margin + penalty) / (margin + penalty + h R)`` with
  lost sales, with unit cost plus disposal as the overage for perishables), clipped to
  ``[0.5, 0.995]``. A SKU orders ``S - position`` (position = on hand + on order x expected
  fill rate - backlog) on its category's review days (``day % R == 0``), any day its
  position falls below the reorder point ``s`` (the same quantile over ``L + 1`` days), and,
  when its supplier is ordering anyway that day, if it is below ``can_order * S`` (joint
  replenishment saves the supplier's fixed order cost).
* **Markdowns.** A SKU whose stock covers more than ``overstock_days`` days of forecast runs
  ``markdown_depth`` off for ``markdown_days`` days; a perishable SKU with more units near
  expiry than two days of forecast runs ``clearance_depth`` for two days. Discounts are
  capped at the category's maximum. No promotions otherwise.

Everything is vectorised over SKUs (a 1,000-SKU day takes a few milliseconds). Parameters
are validated by pydantic; :class:`TunedBaseStockPolicy` loads per-category parameters
written by :mod:`policies.tuning` from ``policies/tuned/<scenario>.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from envs.config_files import validation_problem
from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView
from policies.errors import PolicyArtifactError, PolicyConfigError

__all__ = [
    "TUNED_DIR",
    "BaseStockParams",
    "BaseStockPolicy",
    "TunedBaseStockPolicy",
    "load_tuned",
]

#: Where tuned parameter files live (one JSON per scenario, committed).
TUNED_DIR = Path(__file__).resolve().parent / "tuned"
_MAX_DEFAULT_SL = 0.995


class BaseStockParams(BaseModel):
    """Parameters of the heuristic for one category (every field has a working default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service_level: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="Target probability of no stock-out over the protection window; "
        "None derives it from the costs (newsvendor critical ratio).",
    )
    review_days: int = Field(default=7, ge=1, le=120, description="Review period R in days.")
    recent_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Weight of sales_ema7 (vs sales_ema28)."
    )
    can_order: float = Field(
        default=0.6,
        ge=0.0,
        le=1.0,
        description="Top up when the supplier orders anyway and position < can_order * S "
        "(0 disables joint replenishment).",
    )
    overstock_days: float | None = Field(
        default=90.0, gt=0, description="Markdown above this many days of cover; None: never."
    )
    markdown_depth: float = Field(default=0.2, ge=0.0, lt=1.0, description="Overstock discount.")
    markdown_days: int = Field(default=7, ge=1, le=90, description="Overstock promotion length.")
    clearance_depth: float = Field(
        default=0.3, ge=0.0, lt=1.0, description="Discount on perishables close to expiry."
    )

    @classmethod
    def parse(cls, data: Any, where: str) -> BaseStockParams:
        """Validate ``data`` (a mapping or params); errors name ``where`` and the field."""
        if isinstance(data, cls):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            field, msg = validation_problem(exc)
            raise PolicyConfigError(
                f"{where}.{field}: {msg}; valid fields: {', '.join(cls.model_fields)}"
            ) from None


class BaseStockPolicy:
    """Periodic-review order-up-to with reorder point, joint replenishment and markdowns.

    Args:
        per_category: parameters for named categories (category name to a mapping or
            :class:`BaseStockParams`); categories not named use ``default``.
        default: parameters for every other category.
        **overrides: fields of :class:`BaseStockParams` applied to ``default``
            (``BaseStockPolicy(service_level=0.9, review_days=1)``).

    Raises:
        PolicyConfigError: a field is unknown or out of range (the message names it).
    """

    name = "base_stock"

    def __init__(
        self,
        per_category: dict[str, Any] | None = None,
        default: BaseStockParams | dict[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        base = BaseStockParams.parse(default or {}, "default")
        if overrides:
            base = BaseStockParams.parse({**base.model_dump(), **overrides}, "options")
        self.default = base
        self.per_category = {
            str(k): BaseStockParams.parse(v, f"per_category.{k}")
            for k, v in (per_category or {}).items()
        }
        self._ready_for: int | None = None

    # ------------------------------------------------------------------ set-up
    def params_for(self, category: str) -> BaseStockParams:
        """The parameters that apply to ``category``."""
        return self.per_category.get(category, self.default)

    def reset(self, sim: MarketSimulator) -> None:
        c, spec = sim.catalog, sim.spec
        n = sim.n
        self._ready_for = id(sim.catalog)
        params = [self.params_for(name) for name in c.category_names]
        per_sku = [params[k] for k in c.category]

        def vec(field: str, none: float = math.inf) -> np.ndarray:
            vals = [getattr(p, field) for p in per_sku]
            return np.array([none if v is None else v for v in vals], dtype=float)

        self._review = vec("review_days").astype(np.int64)
        perishable = c.shelf_life > 0
        self._review_cover = np.where(
            perishable, np.minimum(self._review, np.maximum(c.shelf_life - 1, 1)), self._review
        )
        self._w = vec("recent_weight")
        self._can = vec("can_order")
        self._over = vec("overstock_days")
        self._md_depth = np.minimum(vec("markdown_depth"), c.max_discount)
        self._md_days = vec("markdown_days").astype(np.int64)
        self._cl_depth = np.minimum(vec("clearance_depth"), c.max_discount)
        self._perishable = perishable
        self._sl = self._service_levels(sim, [p.service_level for p in per_sku])
        # Static facts the team knows: supplier, expected fill rate, jitter, dispersion.
        self._supplier = c.supplier
        self._n_sup = len(c.supplier_names)
        mid_fill = 0.5 * (c.sup_fill_low + c.sup_fill_high)
        fill = c.sup_reliability + (1 - c.sup_reliability) * mid_fill
        self._fill = fill[c.supplier]
        self._jitter = c.sup_jitter[c.supplier]
        if spec.demand_noise == "negbin":
            self._inv_k = 1.0 / c.dispersion
        elif spec.demand_noise == "normal":
            self._inv_k = np.full(n, spec.normal_cv**2)
        else:
            self._inv_k = np.zeros(n)
        self._festival = sim.calendar.festival
        self._cat = c.category
        self._horizon = spec.horizon_days
        self._launch = c.launch_day
        self._ramp = np.maximum(c.ramp_days, 1)
        self._launch_forecast = c.base_demand
        self._has_launch = bool(np.any(c.launch_day > 0))
        self._sim_n = n

    def _service_levels(self, sim: MarketSimulator, given: list[float | None]) -> np.ndarray:
        c, costs = sim.catalog, sim.spec.costs
        h = c.unit_cost * costs.holding_rate_per_day
        if sim.spec.backorders:
            under = c.price * costs.backorder_rate_per_day
            over = h
        else:
            under = c.price - c.unit_cost + c.price * costs.lost_sale_penalty_rate
            over = np.where(
                c.shelf_life > 0,
                c.unit_cost + costs.waste_disposal_cost,
                h * np.maximum(self._review, 1),
            )
        ratio = np.clip(under / np.maximum(under + over, 1e-12), 0.5, _MAX_DEFAULT_SL)
        out = np.array([np.nan if g is None else g for g in given], dtype=float)
        return np.where(np.isnan(out), ratio, out)

    # ------------------------------------------------------------------ forecast
    def _daily_means(self, view: ShopView, days: int) -> np.ndarray:
        """Forecast mean demand per SKU for days ``t .. t + days - 1`` (shape ``(days, n)``)."""
        t = view.day
        level = self._w * view.sales_ema7 + (1 - self._w) * view.sales_ema28
        idx = np.minimum(np.arange(t, t + days), self._horizon - 1)
        fest = self._festival[idx][:, self._cat]  # (days, n)
        means = level[None, :] * fest
        if self._has_launch:
            since = np.arange(t, t + days)[:, None] - self._launch[None, :] + 1
            ramp = np.clip(since / self._ramp[None, :], 0.0, 1.0)
            launching = (t < self._launch + self._ramp + 28)[None, :]
            buyer = self._launch_forecast[None, :] * ramp * fest
            means = np.where(launching, np.maximum(means, buyer), means)
        return means

    def _quantile(
        self, means: np.ndarray, window: np.ndarray, extra_var: np.ndarray, sl: np.ndarray
    ) -> np.ndarray:
        """The ``sl`` quantile of demand summed over the first ``window[i]`` days."""
        from scipy.stats import nbinom, poisson

        mask = np.arange(means.shape[0])[:, None] < window[None, :]
        m = np.where(mask, means, 0.0)
        mean = m.sum(axis=0)
        var = (m + m * m * self._inv_k[None, :]).sum(axis=0) + extra_var
        out = np.zeros_like(mean)
        pos = mean > 1e-9
        over = pos & (var > mean * (1 + 1e-9))
        if over.any():
            r = mean[over] ** 2 / (var[over] - mean[over])
            p = mean[over] / var[over]
            out[over] = nbinom.ppf(sl[over], r, p)
        pois = pos & ~over
        if pois.any():
            out[pois] = poisson.ppf(sl[pois], mean[pois])
        return out

    def levels(self, view: ShopView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Order-up-to level ``S``, reorder point ``s`` and daily forecast, per SKU."""
        lead = np.maximum(np.rint(view.lead_time), 0).astype(np.int64)
        remaining = max(self._horizon - view.day, 1)
        window_S = np.minimum(lead + self._review_cover, remaining)
        window_s = np.minimum(lead + 1, remaining)
        days = int(max(window_S.max(), window_s.max(), 1))
        means = self._daily_means(view, days)
        daily = means[0]
        jitter_var = (daily * self._jitter) ** 2
        S = self._quantile(means, window_S, jitter_var, self._sl)
        s = self._quantile(means, window_s, jitter_var, self._sl)
        return S, np.minimum(s, S), daily

    def order_up_to(self, view: ShopView) -> np.ndarray:
        """The order-up-to level ``S`` per SKU today (units)."""
        return self.levels(view)[0]

    # ------------------------------------------------------------------ act
    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        if self._ready_for != id(sim.catalog):  # forks share the catalogue: no reset needed
            self.reset(sim)
        n = self._sim_n
        S, s, daily = self.levels(view)
        position = view.on_hand + view.on_order * self._fill - view.backlog
        review_day = (view.day % self._review) == 0
        must = np.where(review_day, position < S, position < s)
        # Orders that would arrive after the horizon are wasted fixed costs.
        must &= view.day + view.lead_time < self._horizon
        sup_active = np.bincount(self._supplier[must], minlength=self._n_sup) > 0
        can = sup_active[self._supplier] & (position < self._can * S)
        order = must | can
        plan = PlanArrays.empty(n)
        plan.order_qty = np.where(order, np.maximum(np.ceil(S - position), 0.0), 0.0)

        # Markdowns: overstock and perishables about to expire. Running ones finish.
        idle = view.promo_left <= 0
        cover = view.on_hand / np.maximum(daily, 1e-6)
        over = idle & (cover > self._over) & (self._md_depth > 0)
        clear = idle & self._perishable & (view.expiring_soon > 2.0 * daily) & (self._cl_depth > 0)
        promo = over | clear
        if promo.any():
            plan.promo_set = promo
            plan.discount = np.where(clear, self._cl_depth, np.where(over, self._md_depth, 0.0))
            plan.duration = np.where(clear, 2, self._md_days).astype(np.int64)
        return plan


def tuned_path(scenario: str) -> Path:
    """Where the tuned parameters of ``scenario`` live."""
    return TUNED_DIR / f"{scenario}.json"


def load_tuned(path: str | Path) -> dict[str, Any]:
    """Read a tuned-parameters file and validate its parameters.

    Returns the file's mapping with ``default`` and ``per_category`` as parsed params.

    Raises:
        PolicyArtifactError: the file is missing or not JSON.
        PolicyConfigError: a parameter in it is invalid.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyArtifactError(
            f"{p}: no tuned parameters; run `shopops train base-stock --scenario {p.stem}`"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise PolicyArtifactError(f"{p}: cannot read tuned parameters: {exc}") from None
    if not isinstance(data, dict) or "default" not in data:
        raise PolicyConfigError(f"{p}: expected a JSON object with 'default' and 'per_category'")
    data["default"] = BaseStockParams.parse(data["default"], f"{p}: default")
    data["per_category"] = {
        k: BaseStockParams.parse(v, f"{p}: per_category.{k}")
        for k, v in (data.get("per_category") or {}).items()
    }
    return data


class TunedBaseStockPolicy(BaseStockPolicy):
    """The base-stock heuristic with parameters tuned per category on training seeds.

    Parameters come from ``path`` if given, else ``policies/tuned/<scenario>.json`` for the
    scenario the policy is reset on. A scenario without its own file (a held-out one, which
    must not be tuned on) uses ``policies/tuned/default.json`` when ``fallback`` is true;
    :attr:`params_source` records which file was used.

    Raises (at ``reset``):
        PolicyArtifactError: no file for the scenario and no usable fallback.
    """

    name = "base_stock_tuned"

    def __init__(self, path: str | Path | None = None, fallback: bool = True) -> None:
        super().__init__()
        self.path = None if path is None else Path(path)
        self.fallback = fallback
        self.params_source: Path | None = None
        self._loaded_for: str | None = None
        if self.path is not None:
            self._load(self.path)

    def _load(self, path: Path) -> None:
        data = load_tuned(path)
        self.default = data["default"]
        self.per_category = data["per_category"]
        self.params_source = path

    def reset(self, sim: MarketSimulator) -> None:
        if self.path is None and self._loaded_for != sim.spec.name:
            own, fallback = tuned_path(sim.spec.name), tuned_path("default")
            if own.exists() or not self.fallback:
                self._load(own)
            elif fallback.exists():
                self._load(fallback)
            else:
                raise PolicyArtifactError(
                    f"no tuned parameters for scenario {sim.spec.name!r} ({own}) and no "
                    f"fallback ({fallback}); run `shopops train base-stock --scenario "
                    f"{sim.spec.name}` or create the fallback with `shopops train base-stock "
                    "--scenario steady,festival,disruption,drift,fresh --seeds 1000,1001 "
                    "--shared --out policies/tuned/default.json`"
                )
            self._loaded_for = sim.spec.name
        super().reset(sim)
