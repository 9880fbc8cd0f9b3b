"""The store's real-shop tables: imported history, its quarantine, and the outbox.

Imported history (written by ``shopops import``, see :mod:`agent.store.realdata_io`)::

    real_imports      one row per (source, table, file content): importing the same file
                      again finds its content hash here and adds nothing
    real_sales        clean sales lines (unique per source on ``line_key``, a hash of every
                      mapped field, so overlapping files never double a line)
    real_prices       list price per series and date        (unique source, series, date)
    real_promotions   promotion flags / discount per series and date      (same key)
    real_stock        end-of-day stock snapshot per series and date       (same key)
    real_receipts     goods received (unique source, line_key); ``po_id`` may name an
                      outbox idempotency key, linking a receipt to the order it fills
    real_products     category, description, unit cost per SKU  (unique source, sku)
    real_quarantine   every line the cleaning rules excluded: file, 1-based row, reason,
                      detail and the raw values (unique import, row)

A *source* is the mapping's name (``uci-online-retail``); a *series* is what the agent
treats as one SKU: the product, or ``"<product>@<location>"`` when the mapping has
``series_by_location``.

The shop side (written by :class:`tools.real_shop.SqlShop` and ``shopops outbox``)::

    real_shop_state   a real shop's calendar: ``origin`` (the date of day 0) and the open day
    real_outbox       one row per executed action line, unique on its idempotency key

Life of an outbox row (``status``)::

    pending ──> exported ──> executed     confirmed by the merchant (``outbox confirm``)
       │            └──────> failed       the merchant could not do it (``outbox fail``)
       └──> executed / failed             confirmed or failed without an export
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from agent.store.models import Base, utcnow

__all__ = [
    "OUTBOX_STATUSES",
    "OutboxRow",
    "RealImport",
    "RealPrice",
    "RealProduct",
    "RealPromotion",
    "RealQuarantine",
    "RealReceipt",
    "RealSale",
    "RealShopState",
    "RealStock",
]

#: Every status an outbox row can have, in lifecycle order.
OUTBOX_STATUSES = ("pending", "exported", "executed", "failed")


class RealImport(Base):
    __tablename__ = "real_imports"
    __table_args__ = (
        UniqueConstraint("source", "table_name", "content_hash", name="uq_real_imports_content"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    table_name: Mapped[str] = mapped_column(String(16))
    file: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the file's bytes
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_added: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per cleaning rule
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RealSale(Base):
    __tablename__ = "real_sales"
    __table_args__ = (
        UniqueConstraint("source", "line_key", name="uq_real_sales_line"),
        Index("ix_real_sales_series_date", "source", "series", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    import_id: Mapped[int] = mapped_column(ForeignKey("real_imports.id"))
    line_key: Mapped[str] = mapped_column(String(40))
    series: Mapped[str] = mapped_column(String(160))
    sku: Mapped[str] = mapped_column(String(128))
    location: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime)  # the line's timestamp (or period date)
    date: Mapped[dt.date] = mapped_column(Date)
    quantity: Mapped[float] = mapped_column(Float)
    unit_price: Mapped[float | None] = mapped_column(Float)
    order_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    file_row: Mapped[int] = mapped_column(Integer)


class _SeriesDay:
    """Columns shared by the per-series, per-date tables."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    import_id: Mapped[int] = mapped_column(ForeignKey("real_imports.id"))
    series: Mapped[str] = mapped_column(String(160))
    sku: Mapped[str] = mapped_column(String(128))
    location: Mapped[str | None] = mapped_column(String(64))
    date: Mapped[dt.date] = mapped_column(Date)


class RealPrice(_SeriesDay, Base):
    __tablename__ = "real_prices"
    __table_args__ = (UniqueConstraint("source", "series", "date", name="uq_real_prices"),)

    list_price: Mapped[float] = mapped_column(Float)


class RealPromotion(_SeriesDay, Base):
    __tablename__ = "real_promotions"
    __table_args__ = (UniqueConstraint("source", "series", "date", name="uq_real_promotions"),)

    feature: Mapped[float | None] = mapped_column(Float)
    display: Mapped[float | None] = mapped_column(Float)
    tpr: Mapped[float | None] = mapped_column(Float)
    discount: Mapped[float | None] = mapped_column(Float)


class RealStock(_SeriesDay, Base):
    __tablename__ = "real_stock"
    __table_args__ = (UniqueConstraint("source", "series", "date", name="uq_real_stock"),)

    on_hand: Mapped[float] = mapped_column(Float)


class RealReceipt(_SeriesDay, Base):
    __tablename__ = "real_receipts"
    __table_args__ = (UniqueConstraint("source", "line_key", name="uq_real_receipts_line"),)

    line_key: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[float] = mapped_column(Float)
    po_id: Mapped[str | None] = mapped_column(String(128))


class RealProduct(Base):
    __tablename__ = "real_products"
    __table_args__ = (UniqueConstraint("source", "sku", name="uq_real_products"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    import_id: Mapped[int] = mapped_column(ForeignKey("real_imports.id"))
    sku: Mapped[str] = mapped_column(String(128))
    category: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    unit_cost: Mapped[float | None] = mapped_column(Float)


class RealQuarantine(Base):
    __tablename__ = "real_quarantine"
    __table_args__ = (
        UniqueConstraint("import_id", "file_row", name="uq_real_quarantine_row"),
        Index("ix_real_quarantine_reason", "source", "reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    import_id: Mapped[int] = mapped_column(ForeignKey("real_imports.id"))
    file: Mapped[str] = mapped_column(Text)
    file_row: Mapped[int] = mapped_column(Integer)  # 1-based data row, header not counted
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text, default="")  # the line's mapped values as JSON


class RealShopState(Base):
    __tablename__ = "real_shop_state"

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    origin: Mapped[dt.date] = mapped_column(Date)  # the date of shop day 0
    open_day: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxRow(Base):
    __tablename__ = "real_outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_real_outbox_key"),
        Index("ix_real_outbox_shop_status", "shop_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    shop_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(32))
    day: Mapped[int] = mapped_column(Integer)  # the shop day the line was executed on
    date: Mapped[dt.date] = mapped_column(Date)
    sku: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(16))  # restock | promotion
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the action line
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    exported_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    executed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
