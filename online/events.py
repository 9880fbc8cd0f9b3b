"""Typed shop events: the only input of the online models.

Every event names one SKU and one period and carries a unique ``event_id`` (the producer's
idempotency key: feeding the same id twice is a no-op, so a batch replayed after a crash is
never double-counted). ``day`` is the integer period index the models learn on (days for a
daily shop, weeks for weekly history); ``timestamp`` is optional and informational.

=================  ==================  ===================================================
kind               class               meaning
=================  ==================  ===================================================
``sale``           :class:`SaleEvent`  an order line: ``quantity`` units sold (alias
                                       :data:`OrderLine`)
``stock_count``    :class:`StockCount` units on hand at the *end* of ``day`` (0 marks the
                                       day's sales as censored by a stock-out)
``price_change``   :class:`PriceChange` new regular (list) price from ``day`` on
``promotion``      :class:`PromotionChange` a discount from ``day`` for ``duration_days``
                                       (discount 0 ends the running promotion)
``receipt``        :class:`Receipt`    units of a purchase order received on ``day``
``approval``       :class:`ApprovalDecision` a human's decision on an action or a flagged
                                       event (``subject_id``)
=================  ==================  ===================================================

Events are frozen pydantic models with ``extra="forbid"``: an unknown field, a negative
quantity, a NaN price or a discount of 1 is a validation error that names the field. Use
:func:`parse_event` to turn a plain mapping into an event or a :class:`~online.errors.EventError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from online.errors import EventError

__all__ = [
    "EVENT_KINDS",
    "ApprovalDecision",
    "Event",
    "OrderLine",
    "PriceChange",
    "PromotionChange",
    "Receipt",
    "SaleEvent",
    "StockCount",
    "parse_event",
]

_MAX_DAY = 10_000_000
_Id = Annotated[str, Field(min_length=1, max_length=256)]


class _EventBase(BaseModel):
    """Fields every event has."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, str_strip_whitespace=True
    )
    event_id: _Id = Field(description="Unique id of this event (idempotency key).")
    sku: _Id = Field(description="The SKU the event is about.")
    day: int = Field(ge=0, le=_MAX_DAY, description="Period index (day or week) it belongs to.")
    timestamp: dt.datetime | None = Field(default=None, description="When it happened (info).")
    category: str | None = Field(
        default=None,
        max_length=256,
        description="The SKU's category, used to register an unseen SKU (cold start).",
    )


class SaleEvent(_EventBase):
    """An order line: ``quantity`` units of ``sku`` sold on ``day``.

    ``unit_price`` is the price paid per unit (after discount) when known; ``order_id`` and
    ``customer_id`` help the anomaly scorer spot bulk or repeated suspicious orders.
    Returns and cancellations are not sales: quantities must be positive.
    """

    kind: Literal["sale"] = "sale"
    quantity: float = Field(gt=0, le=1e9, description="Units sold (> 0).")
    unit_price: float | None = Field(default=None, ge=0, le=1e9, description="Paid per unit.")
    order_id: str | None = Field(default=None, max_length=256)
    customer_id: str | None = Field(default=None, max_length=256)


#: An order line is a sale event (the name the order-management side uses).
OrderLine = SaleEvent


class StockCount(_EventBase):
    """Units of ``sku`` on hand at the end of ``day`` (after the day's sales and waste)."""

    kind: Literal["stock_count"] = "stock_count"
    on_hand: float = Field(ge=0, le=1e12)


class PriceChange(_EventBase):
    """The regular (list) price of ``sku`` is ``list_price`` from ``day`` on."""

    kind: Literal["price_change"] = "price_change"
    list_price: float = Field(gt=0, le=1e9)


class PromotionChange(_EventBase):
    """A promotion on ``sku``: ``discount`` off list from ``day`` for ``duration_days``.

    ``discount=0`` ends a running promotion. ``duration_days=None`` runs until the next
    change. ``feature`` (in the circular/newsletter) and ``display`` (on the front page or
    an in-store display) are non-price promotion flags.
    """

    kind: Literal["promotion"] = "promotion"
    discount: float = Field(ge=0, lt=1, description="Fraction off the list price, in [0, 1).")
    duration_days: int | None = Field(default=None, ge=1, le=3650)
    feature: bool = False
    display: bool = False


class Receipt(_EventBase):
    """``quantity`` units of purchase order ``po_id`` received on ``day``."""

    kind: Literal["receipt"] = "receipt"
    quantity: float = Field(ge=0, le=1e12)
    po_id: str | None = Field(default=None, max_length=256)
    ordered_quantity: float | None = Field(default=None, ge=0, le=1e12)


class ApprovalDecision(_EventBase):
    """A human approved or rejected ``subject_id`` (a planned action or a flagged event)."""

    kind: Literal["approval"] = "approval"
    subject_id: _Id
    approved: bool
    reviewer: str | None = Field(default=None, max_length=256)
    note: str | None = Field(default=None, max_length=2000)


Event = Annotated[
    SaleEvent | StockCount | PriceChange | PromotionChange | Receipt | ApprovalDecision,
    Field(discriminator="kind"),
]
EVENT_KINDS: tuple[str, ...] = (
    "sale",
    "stock_count",
    "price_change",
    "promotion",
    "receipt",
    "approval",
)
EVENT_TYPES: tuple[type[_EventBase], ...] = (
    SaleEvent,
    StockCount,
    PriceChange,
    PromotionChange,
    Receipt,
    ApprovalDecision,
)
_ADAPTER: TypeAdapter = TypeAdapter(Event)


def parse_event(data: Mapping[str, object] | BaseModel) -> Event:
    """Validate one event given as a mapping (``kind`` selects the type) or an event model.

    Raises:
        EventError: naming the first offending field and what is allowed.
    """
    if isinstance(data, EVENT_TYPES):
        return data  # type: ignore[return-value]
    if isinstance(data, BaseModel):
        raise EventError("kind", f"{type(data).__name__} is not a ShopOps event")
    if not isinstance(data, Mapping):
        raise EventError("event", f"expected a mapping or an event, got {type(data).__name__}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        if loc and loc[0] in EVENT_KINDS:  # drop the union tag from the path
            loc = loc[1:]
        field = ".".join(loc) or "event"
        problem = err["msg"]
        if err["type"] == "union_tag_invalid" or (err["type"] == "union_tag_not_found"):
            field = "kind"
            problem = f"must be one of {', '.join(EVENT_KINDS)}; got {data.get('kind')!r}"
        elif "input" in err and err["type"] != "missing":
            problem = f"{problem}; got {err['input']!r}"
        event_id = data.get("event_id")
        raise EventError(field, problem, event_id if isinstance(event_id, str) else None) from None
