"""One call from a mapping and a data folder to clean frames: :func:`import_files`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd

from online.ingest_real.cleaning import CleanResult, clean_sales, shop_calendar
from online.ingest_real.mapping import ImportMapping
from online.ingest_real.reader import read_table

__all__ = ["Imported", "import_files"]


@dataclasses.dataclass
class Imported:
    """A mapping's tables read and cleaned: ``tables`` holds the canonical frames (sales
    is the *clean* lines), ``cleaning`` the rules' result, ``calendar`` open/closed days."""

    mapping: ImportMapping
    tables: dict[str, pd.DataFrame]
    cleaning: CleanResult
    calendar: dict[str, Any]

    @property
    def open_days(self) -> pd.DatetimeIndex | None:
        """Trading days (line and day grain); None for weekly data."""
        if self.mapping.grain == "week":
            return None
        closed = set(self.calendar.get("closed_days_list", []))
        days = self.calendar.get("all_days")
        if days is None:
            return None
        return pd.DatetimeIndex([d for d in days if d not in closed])


def import_files(mapping: ImportMapping, data_dir: str | Path, progress: Any = None) -> Imported:
    """Read every mapped table from ``data_dir`` and clean the sales lines.

    Raises:
        ImportDataError: a file, column or value cannot be imported (file, row, column).
    """
    tables: dict[str, pd.DataFrame] = {}
    cache: dict[str, pd.DataFrame] = {}
    for name in mapping.tables:
        tables[name] = read_table(mapping, name, data_dir) if name not in cache else cache[name]
    raw = tables["sales"]
    result = clean_sales(raw, mapping, progress=progress)
    tables["sales"] = result.clean
    cal = shop_calendar(raw, result.clean) if mapping.grain != "week" else {}
    if mapping.grain != "week":
        dates = raw["date"].dropna().dt.normalize()
        open_days = pd.DatetimeIndex(dates.unique()).sort_values()
        cal["all_days"] = list(open_days)
        cal["closed_days_list"] = []
    return Imported(mapping, tables, result, cal)
