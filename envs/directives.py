"""Directives: what a text (a notice, a rule, an instruction) asks of the shop, typed.

A directive is the only form in which text reaches decisions. The language-model reader
(:mod:`policies.llm.reader`) turns a document into a list of directives; a scenario's notices
carry the directives the simulated world really applies (:mod:`envs.scenario`); the
guardrails (:mod:`tools.guardrails`) enforce the hard kinds and the planner's view takes in
the soft ones. Whatever a text says, it can only ever become one of these shapes, validated.

Kinds (fields in the order they are written, ``kind`` first):

==================  ===========================================  =====================
kind                fields                                       effect
==================  ===========================================  =====================
``supplier_delay``  supplier, extra_days, start, end             soft: lead time grows
``stop_sale``       skus | category, start, end, reason          hard: no sale at all
``promotion_ban``   skus | category, start, end                  hard: no promotion
``discount_cap``    skus | category, max_percent, start, end     hard: discount capped
``demand_shift``    skus | category, factor, start, end          soft: demand x factor
``none``            (nothing)                                    the text asks nothing
==================  ===========================================  =====================

Dates are ISO calendar dates, inclusive; ``end`` is ``None`` for "until further notice".
``supplier_delay`` applies to purchase orders *placed* between ``start`` and ``end``. A
target is either a list of SKU ids or one category name (exactly one of the two), both in the
shop's own catalogue names: resolving "Dry Goods Co." to ``dry-goods`` happens before a
directive is built.

:func:`compile_directives` turns the directives in force on a date into per-SKU arrays
(:class:`DirectiveArrays`), the one place that decides what "in force" and "targets" mean.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

__all__ = [
    "DIRECTIVE_KINDS",
    "HARD_KINDS",
    "SOFT_KINDS",
    "DemandShift",
    "Directive",
    "DirectiveArrays",
    "DiscountCap",
    "NoDirective",
    "PromotionBan",
    "StopSale",
    "SupplierDelay",
    "compile_directives",
    "directive_adapter",
    "in_force",
    "parse_directives",
]

#: Every kind, in the order of the module table.
DIRECTIVE_KINDS = (
    "supplier_delay",
    "stop_sale",
    "promotion_ban",
    "discount_cap",
    "demand_shift",
    "none",
)
#: Kinds the guardrails enforce whatever a policy or a person proposes.
HARD_KINDS = frozenset({"stop_sale", "promotion_ban", "discount_cap"})
#: Kinds that change what the planners see (lead times, demand), not what they may do.
SOFT_KINDS = frozenset({"supplier_delay", "demand_shift"})


class _Directive(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def in_force(self, day: dt.date) -> bool:
        """True when ``day`` lies between ``start`` and ``end`` (inclusive)."""
        start = getattr(self, "start", None)
        if start is None:
            return False
        end = getattr(self, "end", None)
        return start <= day and (end is None or day <= end)


class _Window(_Directive):
    @model_validator(mode="after")
    def _ordered(self):
        end = getattr(self, "end", None)
        if end is not None and end < self.start:  # type: ignore[attr-defined]
            raise ValueError(
                f"end ({end}) is before start ({self.start}); "  # type: ignore[attr-defined]
                "a window's end must be on or after its start"
            )
        return self


class _Targeted(_Window):
    @model_validator(mode="after")
    def _one_target(self):
        skus = self.skus  # type: ignore[attr-defined]
        category = self.category  # type: ignore[attr-defined]
        if bool(skus) == (category is not None):
            raise ValueError(
                "a directive targets either skus (a non-empty list) or one category, "
                f"not {'both' if skus else 'neither'}"
            )
        if len(set(skus)) != len(skus):
            raise ValueError("skus: a SKU is listed twice")
        return self

    def targets(self) -> str:
        """The target as one readable string: ``category electronics`` or the SKU list."""
        if self.category is not None:  # type: ignore[attr-defined]
            return f"category {self.category}"  # type: ignore[attr-defined]
        return "SKU " + ", ".join(self.skus)  # type: ignore[attr-defined]


_Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][\w.-]*$")]


class SupplierDelay(_Window):
    """Orders placed with ``supplier`` between ``start`` and ``end`` arrive later."""

    kind: Literal["supplier_delay"] = "supplier_delay"
    supplier: _Name
    extra_days: int = Field(ge=1, le=120, description="Days added to the lead time.")
    start: dt.date
    end: dt.date | None = None


class StopSale(_Targeted):
    """The targeted products may not be sold from ``start`` to ``end`` (recall, compliance)."""

    kind: Literal["stop_sale"] = "stop_sale"
    skus: list[_Name] = Field(default_factory=list, max_length=500)
    category: _Name | None = None
    start: dt.date
    end: dt.date | None = None
    reason: Literal["recall", "compliance", "other"] = "other"


class PromotionBan(_Targeted):
    """The targeted products may not be promoted (any discount) from ``start`` to ``end``."""

    kind: Literal["promotion_ban"] = "promotion_ban"
    skus: list[_Name] = Field(default_factory=list, max_length=500)
    category: _Name | None = None
    start: dt.date
    end: dt.date | None = None


class DiscountCap(_Targeted):
    """Discounts on the targeted products may not exceed ``max_percent`` percent."""

    kind: Literal["discount_cap"] = "discount_cap"
    skus: list[_Name] = Field(default_factory=list, max_length=500)
    category: _Name | None = None
    max_percent: float = Field(ge=0, le=95, description="Largest discount, in percent.")
    start: dt.date
    end: dt.date | None = None


class DemandShift(_Targeted):
    """Demand for the targeted products is multiplied by ``factor`` from ``start`` to ``end``."""

    kind: Literal["demand_shift"] = "demand_shift"
    skus: list[_Name] = Field(default_factory=list, max_length=500)
    category: _Name | None = None
    factor: float = Field(ge=0.1, le=10.0, description="Demand multiplier (2.0: doubles).")
    start: dt.date
    end: dt.date | None = None


class NoDirective(_Directive):
    """The text asks nothing of the shop (chatter, a thank-you, a question answered)."""

    kind: Literal["none"] = "none"


Directive = Annotated[
    SupplierDelay | StopSale | PromotionBan | DiscountCap | DemandShift | NoDirective,
    Field(discriminator="kind"),
]

_LIST_ADAPTER: TypeAdapter[list[Any]] = TypeAdapter(list[Directive])
_ONE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Directive)


def directive_adapter() -> TypeAdapter[Any]:
    """The pydantic adapter of one :data:`Directive` (for JSON schema and validation)."""
    return _ONE_ADAPTER


def parse_directives(data: Any) -> list[Any]:
    """Validate a list of directive mappings (raises pydantic's ``ValidationError``)."""
    return list(_LIST_ADAPTER.validate_python(data))


def in_force(directives: Iterable[Any], day: dt.date) -> list[Any]:
    """The directives (``none`` excluded) in force on ``day``."""
    return [d for d in directives if d.kind != "none" and d.in_force(day)]


@dataclasses.dataclass
class DirectiveArrays:
    """The directives in force on one date, as per-SKU vectors over a catalogue.

    Attributes:
        stop_sale: True where the SKU may not be sold.
        promotion_ban: True where the SKU may not be promoted.
        discount_cap: largest allowed discount as a fraction (``inf`` where uncapped).
        demand_factor: product of the demand shifts in force (1.0 where none).
        extra_lead_days: days added to the lead time of an order placed today (largest of
            the supplier delays in force for the SKU's supplier).
        sources: for each kind, the indices (into the compiled list) of the directives that
            set some SKU, for explanations.
    """

    stop_sale: np.ndarray
    promotion_ban: np.ndarray
    discount_cap: np.ndarray
    demand_factor: np.ndarray
    extra_lead_days: np.ndarray
    sources: dict[str, list[int]]

    @classmethod
    def empty(cls, n: int) -> DirectiveArrays:
        """No directive in force."""
        return cls(
            stop_sale=np.zeros(n, dtype=bool),
            promotion_ban=np.zeros(n, dtype=bool),
            discount_cap=np.full(n, np.inf),
            demand_factor=np.ones(n),
            extra_lead_days=np.zeros(n),
            sources={},
        )

    @property
    def any_hard(self) -> bool:
        """True when some hard directive binds some SKU."""
        return bool(
            self.stop_sale.any() or self.promotion_ban.any() or np.isfinite(self.discount_cap).any()
        )


def target_mask(directive: Any, sku_ids: Sequence[str], sku_category: Sequence[str]) -> np.ndarray:
    """Boolean mask of the catalogue positions a targeted directive names.

    Unknown SKU ids or categories target nothing (the reader resolves names against the
    catalogue before a directive exists; a scenario validates its own names).
    """
    if getattr(directive, "category", None) is not None:
        return np.asarray(sku_category, dtype=object) == directive.category
    wanted = set(directive.skus)
    return np.fromiter((s in wanted for s in sku_ids), dtype=bool, count=len(sku_ids))


def compile_directives(
    directives: Iterable[Any],
    day: dt.date,
    sku_ids: Sequence[str],
    sku_category: Sequence[str],
    sku_supplier: Sequence[str],
    *,
    demand_day: dt.date | None = None,
) -> DirectiveArrays:
    """The directives in force on ``day`` as per-SKU arrays.

    Args:
        directives: any directives (those not in force on ``day`` are ignored).
        day: the date decisions are made for.
        sku_ids, sku_category, sku_supplier: the catalogue: SKU id, category name and
            supplier name per position.
        demand_day: the date whose demand shifts count (default ``day``); a planner passes a
            date inside its lead time to see a shift coming.
    """
    n = len(sku_ids)
    out = DirectiveArrays.empty(n)
    supplier = np.asarray(sku_supplier, dtype=object)
    for idx, d in enumerate(directives):
        when = demand_day if (d.kind == "demand_shift" and demand_day is not None) else day
        if d.kind == "none" or not d.in_force(when):
            continue
        if d.kind == "supplier_delay":
            mask = supplier == d.supplier
            delay = np.where(mask, d.extra_days, 0)
            np.maximum(out.extra_lead_days, delay, out=out.extra_lead_days)
        else:
            mask = target_mask(d, sku_ids, sku_category)
            if d.kind == "stop_sale":
                out.stop_sale |= mask
            elif d.kind == "promotion_ban":
                out.promotion_ban |= mask
            elif d.kind == "discount_cap":
                cap = d.max_percent / 100.0
                capped = np.minimum(out.discount_cap, cap)
                out.discount_cap = np.where(mask, capped, out.discount_cap)
            elif d.kind == "demand_shift":
                out.demand_factor = np.where(mask, out.demand_factor * d.factor, out.demand_factor)
        if mask.any():
            out.sources.setdefault(d.kind, []).append(idx)
    return out


def directive_summary(d: Any) -> str:
    """One line a person reads on a card: ``stop_sale category electronics from ... (recall)``."""
    if d.kind == "none":
        return "none: the text asks nothing of the shop"
    window = f"from {d.start}" + (f" to {d.end}" if d.end else " until further notice")
    if d.kind == "supplier_delay":
        return f"supplier_delay {d.supplier} +{d.extra_days} days on orders {window}"
    what = d.targets()
    if d.kind == "stop_sale":
        return f"stop_sale {what} {window} ({d.reason})"
    if d.kind == "promotion_ban":
        return f"promotion_ban {what} {window}"
    if d.kind == "discount_cap":
        return f"discount_cap {what} at {d.max_percent:g}% {window}"
    return f"demand_shift {what} x{d.factor:g} {window}"


def as_json(directives: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Plain JSON objects (``kind`` first, dates as ISO strings)."""
    return [d.model_dump(mode="json") for d in directives]
