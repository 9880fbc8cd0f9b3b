"""Reading mapped files into canonical frames, with errors that name file, row and column.

:func:`read_table` reads one table of a mapping (CSV or Parquet) and returns a DataFrame
whose columns are the canonical field names plus ``_file`` and ``_row`` (the 1-based data
row, header not counted), so every later message and quarantine entry can point back to the
source line.

Whole-file problems and impossible values that are not a cleaning matter raise
:class:`~online.ingest_real.errors.ImportDataError`: a missing file or mapped column, an
unparsable date or number, negative stock or receipts, a non-positive list price, a
promotion flag that is not 0/1, a discount outside [0, 1). Missing identifiers and
questionable sales lines are not errors: the cleaning step quarantines them with a reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from online.ingest_real.errors import ImportDataError
from online.ingest_real.mapping import ImportMapping

__all__ = ["read_table"]

_DATES = ("date",)
_NUMBERS = ("quantity", "unit_price", "list_price", "on_hand", "unit_cost", "feature",
            "display", "tpr", "discount")
_IDS = ("sku", "order_id", "customer_id", "location", "po_id", "category", "description")


def _read_file(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ImportDataError(str(path), "no such file; check the data folder (--data)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=True)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ImportDataError(str(path), f"cannot read the file: {exc}") from None
    raise ImportDataError(str(path), f"unsupported file type {suffix!r}; use .csv or .parquet")


def _ids(s: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(s):
        out = s.map(lambda v: None if pd.isna(v) else (f"{v:.0f}" if float(v).is_integer()
                                                         else str(v)))
    else:
        out = s.map(lambda v: None if pd.isna(v) else str(v).strip())
    return out.where(out != "", None)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def read_table(mapping: ImportMapping, table: str, data_dir: str | Path) -> pd.DataFrame:
    """The canonical frame of ``table`` (see the module docstring).

    Raises:
        ImportDataError: naming the file, and the row and column where it applies.
    """
    tm = mapping.tables[table]
    path = Path(data_dir) / tm.file
    raw = _read_file(path)
    fname = str(path)
    missing = [(f, c) for f, c in tm.columns.items() if c not in raw.columns]
    if missing:
        f, c = missing[0]
        raise ImportDataError(
            fname, f"mapped column {c!r} (field {f}) is missing; the file has "
            f"{list(raw.columns)[:20]}; fix the mapping's tables.{table}.columns.{f}",
            column=c,
        )
    out = pd.DataFrame(index=raw.index)
    for field, col in tm.columns.items():
        s = raw[col]
        if field in _DATES:
            parsed = pd.to_datetime(s, errors="coerce")
            bad = (s.notna() & parsed.isna()).to_numpy()
            if bad.any():
                i = _first_bad(bad)
                raise ImportDataError(fname, f"cannot read {s.iloc[i]!r} as a date",
                                      row=i + 1, column=col)
            out[field] = parsed.dt.tz_localize(None) if parsed.dt.tz is not None else parsed
        elif field in _NUMBERS:
            num = pd.to_numeric(s, errors="coerce")
            bad = (s.notna() & num.isna()).to_numpy()
            if bad.any():
                i = _first_bad(bad)
                raise ImportDataError(fname, f"cannot read {s.iloc[i]!r} as a number",
                                      row=i + 1, column=col)
            out[field] = num.astype(float)
        else:
            out[field] = _ids(s)
    _check_values(out, table, fname, tm.columns)
    out["_file"] = fname
    out["_row"] = np.arange(1, len(out) + 1)
    return out.reset_index(drop=True)


def _check_values(df: pd.DataFrame, table: str, fname: str, cols: dict[str, str]) -> None:
    def fail(mask: pd.Series, field: str, what: str) -> None:
        m = mask.fillna(False).to_numpy(dtype=bool)
        if m.any():
            i = _first_bad(m)
            raise ImportDataError(fname, f"{df[field].iloc[i]!r}: {what}", row=i + 1,
                                  column=cols[field])

    if table == "stock":
        fail(df["on_hand"] < 0, "on_hand", "stock on hand cannot be negative")
        fail(df["on_hand"].isna(), "on_hand", "stock on hand is missing")
    if table == "receipts":
        fail(df["quantity"] < 0, "quantity", "received quantity cannot be negative")
    if table == "prices":
        fail(df["list_price"].notna() & (df["list_price"] <= 0), "list_price",
             "a list price must be > 0")
    if table == "promotions":
        for flag in ("feature", "display", "tpr"):
            if flag in df:
                fail(df[flag].notna() & ~df[flag].isin([0.0, 1.0]), flag,
                     "a promotion flag must be 0 or 1")
        if "discount" in df:
            fail(df["discount"].notna() & ((df["discount"] < 0) | (df["discount"] >= 1)),
                 "discount", "a discount is a fraction in [0, 1)")
    if table != "sales":
        for f in ("date", "sku"):
            if f in df:
                fail(df[f].isna(), f, f"{f} is missing (only sales lines with missing "
                     "identifiers are quarantined; fix this file)")
