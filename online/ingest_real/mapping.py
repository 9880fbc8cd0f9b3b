"""Column mappings: which column of which file holds which field.

A mapping is a small YAML file (see ``mappings/*.yaml``)::

    name: uci-online-retail
    grain: line            # line: order lines with a timestamp; day / week: aggregates
    week_date_is: end      # for grain week: the date column is the week's last day (or start)
    series_by_location: false   # true: one series per SKU and location (store)
    cancel_prefix: "C"     # order ids starting with this mark cancellations
    non_product_skus: [POST, D, M]   # postage, discounts, manual lines: not products
    default_category: giftware
    tables:
      sales:
        file: uci_online_retail/online_retail.parquet
        columns: {date: InvoiceDate, sku: StockCode, quantity: Quantity,
                  unit_price: UnitPrice, order_id: InvoiceNo, customer_id: CustomerID}

Tables and their fields (``*`` required when the table is mapped):

============  ==========================================================================
table         fields
============  ==========================================================================
sales         date*, sku*, quantity*, unit_price, order_id, customer_id, location,
              description
prices        date*, sku*, list_price*, location
promotions    date*, sku*, location, feature, display, tpr, discount
stock         date*, sku*, on_hand*, location
receipts      date*, sku*, quantity*, location, po_id
products      sku*, category, description, unit_cost
============  ==========================================================================

File paths are relative to the data folder given on the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from envs.config_files import load_model_file
from online.ingest_real.errors import MappingError

__all__ = ["FIELDS", "REQUIRED", "ImportMapping", "TableMapping", "load_mapping"]

FIELDS: dict[str, tuple[str, ...]] = {
    "sales": ("date", "sku", "quantity", "unit_price", "order_id", "customer_id", "location",
              "description"),
    "prices": ("date", "sku", "list_price", "location"),
    "promotions": ("date", "sku", "location", "feature", "display", "tpr", "discount"),
    "stock": ("date", "sku", "on_hand", "location"),
    "receipts": ("date", "sku", "quantity", "location", "po_id"),
    "products": ("sku", "category", "description", "unit_cost"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "sales": ("date", "sku", "quantity"),
    "prices": ("date", "sku", "list_price"),
    "promotions": ("date", "sku"),
    "stock": ("date", "sku", "on_hand"),
    "receipts": ("date", "sku", "quantity"),
    "products": ("sku",),
}


class TableMapping(BaseModel):
    """One table: a file and the map ``field -> file column``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str = Field(min_length=1, description="Path relative to the data folder.")
    columns: dict[str, str] = Field(description="Canonical field -> column name in the file.")


class ImportMapping(BaseModel):
    """A whole mapping file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = ""
    grain: Literal["line", "day", "week"] = Field(
        description="line: order lines with timestamps; day / week: one row per period."
    )
    week_date_is: Literal["start", "end"] = Field(
        default="end", description="For grain week: the date is the week's first or last day."
    )
    series_by_location: bool = Field(
        default=False, description="One series per SKU and location (store)."
    )
    cancel_prefix: str | None = Field(
        default=None, description="Order ids starting with this prefix are cancellations."
    )
    non_product_skus: list[str] = Field(
        default_factory=list, description="SKU codes that are not products (postage, fees)."
    )
    default_category: str = Field(default="all", min_length=1)
    tables: dict[str, TableMapping] = Field(min_length=1)

    @model_validator(mode="after")
    def _fields(self) -> ImportMapping:
        for table, tm in self.tables.items():
            if table not in FIELDS:
                raise ValueError(
                    f"tables.{table}: unknown table; allowed: {', '.join(FIELDS)}"
                )
            unknown = [f for f in tm.columns if f not in FIELDS[table]]
            if unknown:
                raise ValueError(
                    f"tables.{table}.columns: unknown field(s) {unknown}; allowed: "
                    f"{', '.join(FIELDS[table])}"
                )
            missing = [f for f in REQUIRED[table] if f not in tm.columns]
            if missing:
                raise ValueError(
                    f"tables.{table}.columns: required field(s) {missing} are not mapped"
                )
        if "sales" not in self.tables:
            raise ValueError("tables: a sales table is required")
        return self


def load_mapping(path: str | Path) -> ImportMapping:
    """Load and validate a mapping file (a path, or a name from the shipped ``mappings/``).

    Raises:
        MappingError: the file is missing, not YAML, or invalid (naming the field).
    """
    p = Path(path)
    if not p.exists() and p.suffix not in (".yaml", ".yml"):
        shipped = Path(__file__).resolve().parents[2] / "mappings" / f"{p.name}.yaml"
        if shipped.exists():
            p = shipped
    return load_model_file(p, ImportMapping, MappingError, "mapping")
