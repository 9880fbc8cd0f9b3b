"""Events from files: CSV, Parquet or JSON Lines, with a column mapping.

A mapping names, for each event field, the file's column (``{"sku": "StockCode",
"quantity": "Quantity"}``); unmapped fields are looked up under their own name. Rows
become events as follows:

* ``kind``: the ``kind`` column if there is one, else the ``kind`` argument for every row;
* ``event_id``: the mapped column; without one, ``"{file name}:{row}"`` (deterministic, so
  ingesting the same file twice is a no-op);
* ``day``: the mapped integer column; or, when only ``timestamp`` is mapped, whole periods
  of ``period_days`` since ``day_origin`` (default: the earliest timestamp in the file);
* empty cells are missing values (an optional field takes its default; a required one
  rejects the row).

Every row is validated; a bad row is rejected with its row number, field and reason and
the rest go on (:class:`IngestReport`). A missing file or a mapped column that does not
exist fails the whole file with :class:`~online.errors.IngestError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from online.errors import IngestError
from online.events import EVENT_TYPES
from online.hub import SignalHub
from online.signals import Rejection

__all__ = ["IngestReport", "ingest_file", "parse_mapping", "read_rows"]

_FIELDS = sorted({f for t in EVENT_TYPES for f in t.model_fields})
_CHUNK = 50_000


@dataclasses.dataclass
class IngestReport:
    """Totals of one file ingestion; ``rejected`` rows carry their 0-based row number."""

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = dataclasses.field(default_factory=list)
    anomalies: int = 0
    alerts: int = 0

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        d = dataclasses.asdict(self)
        d["rejected"] = [dataclasses.asdict(r) for r in self.rejected]
        return d


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["sku=StockCode", ...]`` to a mapping; raises IngestError on a malformed pair."""
    out: dict[str, str] = {}
    for p in pairs:
        field, sep, col = p.partition("=")
        field, col = field.strip(), col.strip()
        if not sep or not field or not col:
            raise IngestError(f"--map {p!r}: write field=column, e.g. sku=StockCode")
        if field not in _FIELDS:
            raise IngestError(
                f"--map {p!r}: {field!r} is not an event field; use one of {', '.join(_FIELDS)}"
            )
        out[field] = col
    return out


def read_rows(path: Path) -> tuple[list[str], list[dict[str, Any]] | None, Any]:
    """Columns and rows of a file: ``(columns, rows, None)`` for JSON Lines (rows may be
    ``{"__error__": ...}`` for unparsable lines), ``(columns, None, frame)`` otherwise."""
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows: list[dict[str, Any]] = []
        cols: dict[str, None] = {}
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if not line.strip():
                    rows.append({"__error__": "empty line"})
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    rows.append({"__error__": f"line {n + 1} is not valid JSON ({exc.msg})"})
                    continue
                if not isinstance(obj, dict):
                    rows.append({"__error__": f"line {n + 1} is not a JSON object"})
                    continue
                cols.update(dict.fromkeys(obj))
                rows.append(obj)
        return list(cols), rows, None
    import pandas as pd

    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        raise IngestError(f"{path}: unknown format {suffix!r}; use .csv, .parquet or .jsonl")
    return [str(c) for c in frame.columns], None, frame


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item") and not isinstance(v, str | bytes):  # numpy scalars
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    return v


def ingest_file(
    hub: SignalHub,
    path: str | Path,
    mapping: Mapping[str, str] | None = None,
    kind: str | None = "sale",
    day_origin: str | dt.date | None = None,
    period_days: int = 1,
    console: Any = None,
) -> IngestReport:
    """Feed the events of a file into ``hub`` (see the module docstring).

    Raises:
        IngestError: the file is missing or of an unknown format, or a mapped column is
            absent.
    """
    path = Path(path)
    mapping = dict(mapping or {})
    if period_days < 1:
        raise IngestError(f"period_days must be >= 1; got {period_days}")
    columns, rows, frame = read_rows(path)
    missing = [c for c in mapping.values() if c not in columns]
    if missing:
        raise IngestError(
            f"{path.name}: mapped column(s) {', '.join(map(repr, missing))} not in the file; "
            f"columns are {', '.join(columns)}"
        )
    source = {f: mapping.get(f, f) for f in _FIELDS if mapping.get(f, f) in columns}
    if frame is not None:
        sub = frame[list(dict.fromkeys(source.values()))]
        rows = [dict(zip(sub.columns, r, strict=True)) for r in sub.itertuples(index=False)]
    if rows is None:  # read_rows returns rows or a frame; never neither
        raise IngestError(f"{path}: could not read any rows")
    need_day = "day" not in source
    if need_day and "timestamp" not in source:
        raise IngestError(
            f"{path.name}: no 'day' column and no 'timestamp' to derive it; map one, e.g. "
            "--map day=week or --map timestamp=InvoiceDate"
        )
    origin = _origin(day_origin, rows, source) if need_day else None

    report = IngestReport(rows=len(rows))
    events: list[dict[str, Any] | None] = []
    errors: dict[int, Rejection] = {}
    for n, row in enumerate(rows):
        if "__error__" in row:
            errors[n] = Rejection(n, None, "row", row["__error__"])
            events.append(None)
            continue
        ev = {f: _clean(row.get(c)) for f, c in source.items()}
        ev = {k: v for k, v in ev.items() if v is not None}
        ev.setdefault("kind", kind)
        ev.setdefault("event_id", f"{path.name}:{n}")
        if need_day:
            ts = ev.get("timestamp")
            try:
                stamp = _to_datetime(ts)
            except ValueError as exc:
                errors[n] = Rejection(n, str(ev["event_id"]), "timestamp", str(exc))
                events.append(None)
                continue
            ev["timestamp"] = stamp
            ev["day"] = (stamp.date() - origin).days // period_days
        for key in (
            "day",
            "quantity",
            "on_hand",
            "list_price",
            "discount",
            "unit_price",
            "duration_days",
            "ordered_quantity",
        ):
            if isinstance(ev.get(key), str):
                ev[key] = _number(ev[key])
        for key in ("feature", "display", "approved"):
            if isinstance(ev.get(key), str):
                ev[key] = ev[key].strip().lower() in ("1", "true", "yes", "y", "t")
        for key in ("sku", "event_id", "order_id", "customer_id", "category", "po_id"):
            if key in ev and not isinstance(ev[key], str):
                ev[key] = str(ev[key])
        events.append(ev)

    progress = None
    if console is not None:
        from rich.progress import Progress

        progress = Progress(console=console, transient=True)
        progress.start()
        task = progress.add_task(f"ingesting {path.name}", total=len(events))
    try:
        for start in range(0, len(events), _CHUNK):
            chunk = events[start : start + _CHUNK]
            pos = [start + k for k, e in enumerate(chunk) if e is not None]
            rep = hub.update([e for e in chunk if e is not None])
            report.accepted += rep.accepted
            report.duplicates += rep.duplicates
            report.anomalies += len(rep.anomalies)
            report.alerts += len(rep.alerts)
            for r in rep.rejected:
                errors[pos[r.index]] = dataclasses.replace(r, index=pos[r.index])
            if progress is not None:
                progress.update(task, advance=len(chunk))
    finally:
        if progress is not None:
            progress.stop()
    report.rejected = [errors[k] for k in sorted(errors)]
    return report


def _number(s: str) -> Any:
    try:
        v = float(s)
    except ValueError:
        return s  # left for validation to reject with the field name
    return int(v) if v.is_integer() and "." not in s and "e" not in s.lower() else v


def _to_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    if isinstance(v, str):
        try:
            return dt.datetime.fromisoformat(v.strip())
        except ValueError:
            raise ValueError(f"not an ISO date or time: {v!r}") from None
    raise ValueError(f"missing or not a date/time: {v!r}")


def _origin(day_origin: str | dt.date | None, rows, source) -> dt.date:
    if isinstance(day_origin, dt.date):
        return day_origin
    if isinstance(day_origin, str):
        try:
            return dt.date.fromisoformat(day_origin)
        except ValueError:
            raise IngestError(
                f"day_origin {day_origin!r} is not an ISO date (YYYY-MM-DD)"
            ) from None
    col = source["timestamp"]
    stamps = []
    for r in rows:
        try:
            stamps.append(_to_datetime(_clean(r.get(col))).date())
        except ValueError:
            continue
    if not stamps:
        raise IngestError(f"no valid timestamps in column {col!r} to derive day_origin from")
    return min(stamps)
