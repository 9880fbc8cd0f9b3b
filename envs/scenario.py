"""Scenario files: the validated description of a simulated shop.

A scenario is a YAML file (see ``scenarios/*.yaml``) describing the catalogue (categories
and, optionally, explicit SKUs), suppliers, costs, an events timeline (festivals, supplier
disruptions, demand drift), notices (texts the shop receives, with the effects the simulated
world really applies), the horizon and the catalogue seed. :func:`load_scenario`
validates it with pydantic and raises :class:`ScenarioError` naming the file, the field path
and what is allowed, so a user never sees a stack trace from inside numpy.

Notices (:class:`NoticeSpec`): a text arrives on an episode ``day`` (supplier emails,
recalls, brand rules, marketing notes) and carries ``effects``, a list of
:data:`~envs.directives.Directive` that the simulator applies from the dates they name,
whenever the text arrives (a notice read on day 20 about a recall "from day 12" is fined from
day 12: this is the truth of the world, not what the agent knows). Effects name the
scenario's own suppliers, categories and SKU ids (generated ids are
``<category>-<5-digit index>`` over the whole catalogue, ``pantry-00000``; explicit SKUs keep
theirs), and their dates lie inside the scenario (``start_date`` to ``start_date +
horizon_days - 1``). What the agent may see of a notice is its text, author and source, never
its effects.

Randomness: ``seed`` here only fixes the *catalogue* (which SKUs exist and their
parameters when they are drawn from ranges). The day-to-day randomness of an episode comes
from ``MarketplaceEnv.reset(seed=...)`` alone.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from envs.config_files import validation_problems
from envs.directives import Directive
from envs.errors import ScenarioError

__all__ = [
    "CategorySpec",
    "CostSpec",
    "DisruptionEvent",
    "DriftEvent",
    "FestivalEvent",
    "NoticeSpec",
    "Range",
    "ScenarioSpec",
    "SkuSpec",
    "SupplierSpec",
    "load_scenario",
    "parse_scenario",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Strict):
    """A closed interval ``[low, high]`` from which a per-SKU value is drawn.

    Written in YAML either as ``{low: 1, high: 2}``, as a two-element list ``[1, 2]`` or as a
    single number (a fixed value).
    """

    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"low": value, "high": value}
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError(f"a range is [low, high]; got {len(value)} values")
            return {"low": value[0], "high": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


def _range_within(r: Range, lo: float, hi: float, what: str) -> Range:
    if r.low < lo or r.high > hi:
        raise ValueError(f"{what} must lie in [{lo}, {hi}]; got [{r.low}, {r.high}]")
    return r


class SkuSpec(_Strict):
    """One explicit SKU (used by calibrated scenarios). Unset fields take the category's."""

    id: str = Field(min_length=1, description="SKU identifier, unique in the scenario.")
    price: float = Field(gt=0, description="List (reference) price.")
    unit_cost: float = Field(gt=0, description="Purchase cost per unit.")
    base_demand: float = Field(ge=0, description="Mean daily units at list price, no events.")
    elasticity: float | None = Field(default=None, le=0, description="Own-price elasticity.")
    trend: float | None = Field(default=None, gt=-1, description="Annual growth rate.")
    yearly_amplitude: float | None = Field(default=None, ge=0, lt=1)
    yearly_peak_day: int | None = Field(default=None, ge=0, le=365)
    dispersion: float | None = Field(default=None, gt=0)
    promo_lift_per_depth: float | None = Field(default=None, ge=0)
    weekly: list[float] | None = Field(default=None, description="Seven day-of-week weights.")

    @field_validator("weekly")
    @classmethod
    def _seven(cls, v: list[float] | None) -> list[float] | None:
        return _check_weekly(v)


def _check_weekly(v: list[float] | None) -> list[float] | None:
    if v is None:
        return v
    if len(v) != 7 or any(x < 0 for x in v) or sum(v) <= 0:
        raise ValueError("weekly needs seven non-negative weights (Monday first), not all zero")
    return v


class CategorySpec(_Strict):
    """A product category: SKUs drawn from ranges (or listed) and shared behaviour."""

    name: str = Field(min_length=1)
    supplier: str = Field(description="Name of the supplier that restocks this category.")
    n_skus: int = Field(default=10, ge=1, le=1_000_000, description="SKUs drawn from ranges.")
    skus: list[SkuSpec] | None = Field(
        default=None, description="Explicit SKUs (overrides n_skus)."
    )
    price: Range = Field(default=Range(low=5, high=50), description="List price, log-uniform.")
    margin: Range = Field(default=Range(low=0.25, high=0.5), description="Gross margin fraction.")
    base_demand: Range = Field(
        default=Range(low=1, high=20), description="Daily units, log-uniform."
    )
    elasticity: Range = Field(
        default=Range(low=-2.5, high=-1.0), description="Own-price elasticity."
    )
    trend: Range = Field(default=Range(low=0.0, high=0.0), description="Annual growth rate.")
    yearly_amplitude: Range = Field(default=Range(low=0.0, high=0.0))
    yearly_peak_day: int = Field(default=0, ge=0, le=365, description="Day of year of the peak.")
    weekly: list[float] | None = Field(default=None, description="Seven day-of-week weights.")
    dispersion: float = Field(
        default=3.0, gt=0, description="Negative-binomial shape k: variance = mu + mu^2/k."
    )
    promo_lift_per_depth: float = Field(
        default=1.5, ge=0, description="Visibility lift: demand x (1 + lift * discount)."
    )
    post_promo_dip: float = Field(
        default=0.3, ge=0, lt=1, description="Dip after a promotion, per unit of discount depth."
    )
    dip_days: int = Field(default=7, ge=1, description="Days for the dip to fade (to ~5%).")
    fatigue_days: float = Field(
        default=21.0, gt=0, description="E-folding days of the promotion lift under promotion."
    )
    cannibalisation: float = Field(
        default=0.15, ge=0, le=1, description="Demand lost per unit of promo depth of siblings."
    )
    halo: float = Field(default=0.03, ge=0, le=1, description="Demand gained likewise.")
    shelf_life_days: int | None = Field(default=None, ge=1, le=120, description="Perishables.")
    max_discount: float = Field(default=0.5, ge=0, le=0.9, description="Discount cap.")
    launch_day: int = Field(default=0, ge=0, description="Day the category goes on sale.")
    ramp_days: int = Field(default=0, ge=0, description="Days from launch to full demand.")
    end_of_life_day: int | None = Field(
        default=None, ge=0, description="Day demand starts to decline (product end of life)."
    )
    decline_days: int = Field(default=30, ge=1, description="Days from end of life to zero.")

    @field_validator("weekly")
    @classmethod
    def _seven(cls, v: list[float] | None) -> list[float] | None:
        return _check_weekly(v)

    @field_validator("margin")
    @classmethod
    def _margin(cls, v: Range) -> Range:
        return _range_within(v, 0.0, 0.95, "margin")

    @field_validator("price", "base_demand")
    @classmethod
    def _positive(cls, v: Range, info: ValidationInfo) -> Range:
        return _range_within(v, 1e-6, 1e9, str(info.field_name))

    @field_validator("elasticity")
    @classmethod
    def _elasticity(cls, v: Range) -> Range:
        return _range_within(v, -10.0, 0.0, "elasticity")

    @field_validator("yearly_amplitude")
    @classmethod
    def _amplitude(cls, v: Range) -> Range:
        return _range_within(v, 0.0, 0.99, "yearly_amplitude")

    @field_validator("trend")
    @classmethod
    def _trend(cls, v: Range) -> Range:
        return _range_within(v, -0.99, 10.0, "trend")

    @property
    def size(self) -> int:
        """Number of SKUs in the category."""
        return len(self.skus) if self.skus is not None else self.n_skus


class SupplierSpec(_Strict):
    """A supplier: lead time, minimum order, fixed order cost and reliability."""

    name: str = Field(min_length=1)
    lead_time_days: int = Field(default=5, ge=0, le=120, description="Mean lead time.")
    lead_time_jitter_days: float = Field(
        default=1.0, ge=0, le=30, description="Std of the normal lead-time jitter (rounded)."
    )
    moq: int = Field(default=0, ge=0, description="Minimum order quantity per SKU order line.")
    order_fixed_cost: float = Field(default=20.0, ge=0, description="Cost per purchase order.")
    reliability: float = Field(
        default=0.97, ge=0, le=1, description="Probability an order line is delivered in full."
    )
    partial_fill: Range = Field(
        default=Range(low=0.5, high=0.9), description="Fraction delivered when not in full."
    )

    @field_validator("partial_fill")
    @classmethod
    def _fill(cls, v: Range) -> Range:
        return _range_within(v, 0.0, 1.0, "partial_fill")


class FestivalEvent(_Strict):
    """A demand surge (Double-11, Black Friday) with optional lull before and dip after."""

    kind: Literal["festival"]
    name: str = "festival"
    day: int = Field(ge=0, description="First day of the surge (0-based episode day).")
    duration: int = Field(default=1, ge=1)
    multiplier: float = Field(default=3.0, gt=0, description="Demand multiplier on the days.")
    categories: list[str] | None = Field(default=None, description="Affected; None means all.")
    pre_days: int = Field(default=0, ge=0, description="Days of lull before (people wait).")
    pre_multiplier: float = Field(default=1.0, gt=0)
    post_days: int = Field(default=0, ge=0, description="Days of dip after.")
    post_multiplier: float = Field(default=1.0, gt=0)


class DisruptionEvent(_Strict):
    """A supplier disruption: lead times stretch and deliveries become less reliable."""

    kind: Literal["disruption"]
    supplier: str
    day: int = Field(ge=0)
    duration: int = Field(default=14, ge=1, description="Days during which orders are affected.")
    extra_lead_days: int = Field(default=7, ge=0, le=120)
    reliability: float | None = Field(default=None, ge=0, le=1, description="Override.")


class DriftEvent(_Strict):
    """A regime change from ``day`` on: base demand, elasticity or trend shift."""

    kind: Literal["drift"]
    day: int = Field(ge=0)
    categories: list[str] | None = None
    base_demand_factor: float = Field(default=1.0, gt=0)
    elasticity_shift: float = Field(default=0.0, description="Added to elasticity (<=0 kept).")
    trend_shift: float = Field(default=0.0)


Event = Annotated[FestivalEvent | DisruptionEvent | DriftEvent, Field(discriminator="kind")]


class NoticeSpec(_Strict):
    """A text the shop receives on ``day``, and what it truly changes (``effects``).

    ``effects`` are what a careful reader would conclude, with absolute dates; the simulator
    applies them from their own dates whatever ``day`` the text arrives. An empty list, or
    ``[{kind: none}]``, is a text that asks nothing (chatter, a thank-you, an injection).
    """

    day: int = Field(ge=0, description="Episode day (0-based) the text arrives, in the morning.")
    text: str = Field(min_length=1, max_length=4000, description="The text as received.")
    author: str | None = Field(
        default=None, max_length=200, description="Who wrote it ('supplier: dry-goods')."
    )
    source: str | None = Field(
        default=None, max_length=200, description="Where it came from ('email', 'compliance')."
    )
    effects: list[Directive] = Field(
        default_factory=list, max_length=50, description="True effects the world applies."
    )


class CostSpec(_Strict):
    """Costs beyond the unit cost. Rates are fractions of the SKU's unit cost or price; the
    two notice costs are in currency."""

    holding_rate_per_day: float = Field(
        default=0.0008, ge=0, description="Holding cost per unit-day, fraction of unit cost."
    )
    lost_sale_penalty_rate: float = Field(
        default=0.25, ge=0, description="Goodwill penalty per lost unit, fraction of price."
    )
    backorder_rate_per_day: float = Field(
        default=0.05, ge=0, description="Backorder cost per unit-day, fraction of price."
    )
    promo_fixed_cost: float = Field(default=5.0, ge=0, description="Cost to start a promotion.")
    promo_daily_cost: float = Field(default=0.5, ge=0, description="Per promoted SKU-day.")
    waste_disposal_cost: float = Field(default=0.1, ge=0, description="Per expired unit.")
    compliance_fine_per_unit: float = Field(
        default=25.0,
        ge=0,
        description="Fine per unit sold while a stop_sale notice is in force for the SKU.",
    )
    policy_breach_penalty: float = Field(
        default=40.0,
        ge=0,
        description=(
            "Per SKU-day sold at a discount while a promotion_ban is in force for it, or at a "
            "discount deeper than a discount_cap in force (one penalty per SKU-day)."
        ),
    )


class ScenarioSpec(_Strict):
    """The whole scenario file. See ``scenarios/steady.yaml`` for an annotated example."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    seed: int = Field(default=0, ge=0, description="Catalogue seed (not the episode seed).")
    horizon_days: int = Field(default=365, ge=1, le=100000)
    start_date: dt.date = dt.date(2025, 1, 1)
    demand_noise: Literal["negbin", "poisson", "normal"] = "negbin"
    normal_cv: float = Field(default=0.3, gt=0, description="Std/mean when demand_noise=normal.")
    backorders: bool = Field(default=False, description="Unmet demand waits instead of lost.")
    initial_stock_days: float = Field(default=10.0, ge=0, description="Opening stock in days.")
    warehouse_capacity: float | None = Field(default=None, gt=0, description="Total units.")
    order_budget_per_week: float | None = Field(default=None, gt=0, description="PO spend cap.")
    held_out: bool = Field(default=False, description="Reserved for transfer tests.")
    restock_cover_days: list[float] = Field(
        default=[0, 3, 5, 7, 10, 14, 21, 28, 42],
        description="Action levels: order up to this many days of recent mean demand (0: none).",
    )
    discount_levels: list[float] = Field(
        default=[0.0, 0.1, 0.2, 0.3, 0.5], description="Action levels: discount depth."
    )
    categories: list[CategorySpec] = Field(min_length=1)
    suppliers: list[SupplierSpec] = Field(min_length=1)
    costs: CostSpec = CostSpec()
    events: list[Event] = Field(default_factory=list)
    notices: list[NoticeSpec] = Field(
        default_factory=list, description="Texts the shop receives, with their true effects."
    )

    @field_validator("restock_cover_days")
    @classmethod
    def _cover(cls, v: list[float]) -> list[float]:
        if not v or v[0] != 0 or any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("restock_cover_days must start at 0 and increase strictly")
        return v

    @field_validator("discount_levels")
    @classmethod
    def _discounts(cls, v: list[float]) -> list[float]:
        if not v or v[0] != 0 or any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("discount_levels must start at 0 and increase strictly")
        if v[-1] >= 1:
            raise ValueError(f"discounts are fractions below 1; got {v[-1]}")
        return v

    @model_validator(mode="after")
    def _references(self) -> ScenarioSpec:
        cats = [c.name for c in self.categories]
        dup = {c for c in cats if cats.count(c) > 1}
        if dup:
            raise ValueError(f"categories: names must be unique; repeated: {sorted(dup)}")
        sups = [s.name for s in self.suppliers]
        for i, c in enumerate(self.categories):
            if c.supplier not in sups:
                raise ValueError(
                    f"categories.{i}.supplier: unknown supplier {c.supplier!r}; "
                    f"defined suppliers: {sups}"
                )
        cells = self.n_skus * self.horizon_days
        if cells > MAX_SKU_DAYS:
            gib = cells * _BYTES_PER_SKU_DAY / 2**30
            raise ValueError(
                f"categories: {self.n_skus:,} SKUs x horizon_days {self.horizon_days:,} = "
                f"{cells:,} SKU-days, past the limit of {MAX_SKU_DAYS:,} (the simulator keeps "
                f"about {_BYTES_PER_SKU_DAY} bytes per SKU-day: {gib:,.0f} GiB here); use "
                "fewer SKUs or a shorter horizon"
            )
        ids = [s.id for c in self.categories for s in (c.skus or [])]
        if len(set(ids)) != len(ids):
            raise ValueError("categories: explicit SKU ids must be unique across categories")
        for i, ev in enumerate(self.events):
            where = f"events.{i}"
            if ev.day >= self.horizon_days:
                raise ValueError(
                    f"{where}.day: {ev.day} is not inside the horizon (0..{self.horizon_days - 1})"
                )
            if isinstance(ev, DisruptionEvent) and ev.supplier not in sups:
                raise ValueError(
                    f"{where}.supplier: unknown supplier {ev.supplier!r}; defined: {sups}"
                )
            named = getattr(ev, "categories", None) or []
            unknown = [c for c in named if c not in cats]
            if unknown:
                raise ValueError(
                    f"{where}.categories: unknown {unknown}; defined categories: {cats}"
                )
        self._check_notices(cats, sups)
        return self

    def _check_notices(self, cats: list[str], sups: list[str]) -> None:
        first = self.start_date
        last = first + dt.timedelta(days=self.horizon_days - 1)
        known_sku = _sku_id_checker(self.categories)
        for i, notice in enumerate(self.notices):
            where = f"notices.{i}"
            if notice.day >= self.horizon_days:
                raise ValueError(
                    f"{where}.day: {notice.day} is not inside the horizon "
                    f"(0..{self.horizon_days - 1})"
                )
            for j, effect in enumerate(notice.effects):
                at = f"{where}.effects.{j}"
                if effect.kind == "none":
                    continue
                if effect.kind == "supplier_delay":
                    if effect.supplier not in sups:
                        raise ValueError(
                            f"{at}.supplier: unknown supplier {effect.supplier!r}; "
                            f"defined suppliers: {sups}"
                        )
                elif effect.category is not None:
                    if effect.category not in cats:
                        raise ValueError(
                            f"{at}.category: unknown category {effect.category!r}; "
                            f"defined categories: {cats}"
                        )
                else:
                    unknown = [s for s in effect.skus if not known_sku(s)]
                    if unknown:
                        raise ValueError(
                            f"{at}.skus: unknown SKU ids {unknown}; this catalogue's ids are "
                            f"{_describe_ids(self.categories)}"
                        )
                for name in ("start", "end"):
                    when = getattr(effect, name)
                    if when is not None and not first <= when <= last:
                        raise ValueError(
                            f"{at}.{name}: {when} is outside the scenario's dates "
                            f"({first} .. {last}, days 0..{self.horizon_days - 1})"
                        )

    @property
    def n_skus(self) -> int:
        """Total SKUs over all categories."""
        return sum(c.size for c in self.categories)

    def summary(self) -> str:
        """One line for ``shopops scenarios``."""
        kinds: dict[str, int] = {}
        for ev in self.events:
            kinds[ev.kind] = kinds.get(ev.kind, 0) + 1
        ev_txt = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no events"
        fresh = sum(1 for c in self.categories if c.shelf_life_days)
        extra = f", {fresh} perishable categories" if fresh else ""
        if self.notices:
            extra += f", {len(self.notices)} notices"
        return (
            f"{self.n_skus} SKUs in {len(self.categories)} categories, "
            f"{self.horizon_days} days, {ev_txt}{extra}"
        )


def _generated_ranges(categories: list[CategorySpec]) -> list[tuple[str, int, int]]:
    """``(category, first, size)`` of each category whose SKU ids are generated."""
    out, first = [], 0
    for c in categories:
        if c.skus is None:
            out.append((c.name, first, c.size))
        first += c.size
    return out


def _sku_id_checker(categories: list[CategorySpec]) -> Callable[[str], bool]:
    """A predicate: is this a SKU id of the catalogue (as :func:`envs.catalog.build_catalog`
    names them), without listing a million ids."""
    explicit = {s.id for c in categories for s in (c.skus or [])}
    ranges = {name: (first, size) for name, first, size in _generated_ranges(categories)}

    def known(sku: str) -> bool:
        if sku in explicit:
            return True
        prefix, _, digits = sku.rpartition("-")
        if prefix not in ranges or not digits.isdigit():
            return False
        first, size = ranges[prefix]
        k = int(digits)
        return f"{k:05d}" == digits and first <= k < first + size

    return known


def _describe_ids(categories: list[CategorySpec]) -> str:
    parts = [
        f"{name}-{first:05d}..{name}-{first + size - 1:05d}"
        for name, first, size in _generated_ranges(categories)
    ]
    n_explicit = sum(len(c.skus or []) for c in categories)
    if n_explicit:
        parts.append(f"{n_explicit} explicit ids from categories.*.skus")
    return ", ".join(parts)


def parse_scenario(data: object, source: str = "<scenario>") -> ScenarioSpec:
    """Validate a parsed mapping; raise :class:`ScenarioError` naming source and field."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "<root>", f"expected a mapping, got {type(data).__name__}")
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc)
        field, message = problems[0]
        if len(problems) > 1:
            rest = "; ".join(f"{f}: {m}" for f, m in problems[1:4])
            message = f"{message} (also: {rest})"
        raise ScenarioError(source, field, message) from None


#: Largest scenario (SKUs x days) validated before anything is allocated.
MAX_SKU_DAYS = 200_000_000
_BYTES_PER_SKU_DAY = 40


def load_scenario(path_or_name: str | Path) -> ScenarioSpec:
    """Load a scenario by path, or by name from the shipped ``scenarios/`` folder.

    Raises:
        ScenarioError: the file is missing, is not YAML, or does not validate. The message
            names the file, the field path (``categories.0.price``) and what is allowed.
    """
    path = resolve_scenario_path(path_or_name)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), "<file>", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            str(path), "<file>", f"not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<yaml>"
        raise ScenarioError(str(path), where, f"not valid YAML: {exc}") from None
    return parse_scenario(data, str(path))


def resolve_scenario_path(path_or_name: str | Path) -> Path:
    """A file path as given, or ``scenarios/<name>.yaml`` for a shipped scenario name."""
    p = Path(path_or_name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ScenarioError(str(p), "<file>", "no such file")
        return p
    from scenarios import SCENARIO_DIR, scenario_names

    candidate = SCENARIO_DIR / f"{p.name}.yaml"
    if not candidate.exists():
        raise ScenarioError(
            str(path_or_name), "<name>", f"no such scenario; shipped: {', '.join(scenario_names())}"
        )
    return candidate
