"""Real shop history in and out of the store: :func:`import_into_store` and :func:`read_frames`.

Importing (``shopops import``) reads every table of a mapping with the mapping reader,
cleans the sales lines with the cleaning rules (:mod:`online.ingest_real`), and writes

* the clean sales lines, prices, promotions, stock snapshots, receipts and products into
  their ``real_*`` tables (:mod:`agent.store.realdata`);
* every quarantined line (file, 1-based row, reason, detail, raw values) into
  ``real_quarantine``;
* one ``real_imports`` row per table and file content, with the rows read, the rows added
  and, for sales, the count per cleaning rule.

Idempotent twice over: a file whose content hash was imported before for the same source
and table is skipped whole (its earlier counts are reported, ``added`` 0), and rows are
inserted with ``ON CONFLICT DO NOTHING`` on their natural keys (sales and receipts: a hash of
every mapped field; prices, promotions, stock: series and date; products: SKU), so two files
that overlap never double a row. ``rows_in - rows_added`` is reported per table: a row is
never dropped without being counted.

Reading back (:func:`read_frames`) gives the canonical frames the calibration's panel
builder takes (``shopops calibrate --from DB``) and the history :class:`tools.real_shop.SqlShop`
sees.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agent.errors import StoreError
from agent.store import Store

__all__ = ["ImportReport", "StoreShopData", "TableReport", "import_into_store", "read_frames",
           "source_summary"]

_CHUNK = 20_000
#: Fields hashed into a sales / receipt line's natural key, in this order.
_SALES_KEY = ("date", "sku", "location", "quantity", "unit_price", "order_id", "customer_id",
              "description")
_RECEIPT_KEY = ("date", "sku", "location", "quantity", "po_id")


@dataclasses.dataclass
class TableReport:
    """One mapped table's import: ``status`` is ``imported`` or ``already imported``."""

    table: str
    file: str
    status: str
    rows_in: int
    rows_added: int
    quarantined: int = 0


@dataclasses.dataclass
class ImportReport:
    """What an import did: per table, and the cleaning rules' counts for the sales file."""

    source: str
    tables: list[TableReport]
    counts: dict[str, int]
    lines_in: int
    lines_clean: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def rows_added(self) -> int:
        """Rows added over all tables (quarantine excluded)."""
        return sum(t.rows_added for t in self.tables)


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _insert_ignore(s: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """``INSERT .. ON CONFLICT DO NOTHING`` in chunks (SQLite and PostgreSQL)."""
    if not rows:
        return
    if s.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(model).on_conflict_do_nothing()
    for k in range(0, len(rows), _CHUNK):
        s.execute(stmt, rows[k : k + _CHUNK])


def _count(s: Any, model: Any, source: str) -> int:
    from sqlalchemy import func, select

    return int(s.scalar(select(func.count()).select_from(model).where(model.source == source)))


def _line_keys(df: Any, fields: Iterable[str]) -> list[str]:
    import pandas as pd

    parts = []
    for f in fields:
        if f not in df:
            continue
        col = df[f]
        if f == "date":
            text = col.dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif pd.api.types.is_float_dtype(col):
            text = col.map(lambda v: "" if pd.isna(v) else repr(float(v)))
        else:
            text = col.map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v))
                           else str(v))
        parts.append(text.fillna("").astype(str))
    joined = parts[0].str.cat(parts[1:], sep="\x1f") if len(parts) > 1 else parts[0]
    return [hashlib.sha1(t.encode()).hexdigest() for t in joined]


def _opt(v: Any) -> Any:
    """A plain Python value or None (NaN, NaT and numpy scalars converted)."""
    import pandas as pd

    if v is None:
        return None
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v.item() if hasattr(v, "item") else v


def _rows(df: Any, mapping: Any, import_id: int, fields: tuple[str, ...],
          key_fields: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    from online.ingest_real.panel import series_ids

    if df.empty:
        return []
    out: dict[str, Any] = {
        "series": series_ids(df, mapping).tolist(),
        "sku": df["sku"].tolist(),
        "location": df["location"].tolist() if "location" in df else [None] * len(df),
        "date": [d.date() for d in df["date"]],
    }
    for f in fields:
        out[f] = [_opt(v) for v in df[f]] if f in df else [None] * len(df)
    if key_fields is not None:
        out["line_key"] = _line_keys(df, key_fields)
    n = len(df)
    rows = [{k: v[i] for k, v in out.items()} for i in range(n)]
    for r in rows:
        r["source"] = mapping.name
        r["import_id"] = import_id
    return rows


def _sales_rows(df: Any, mapping: Any, import_id: int) -> list[dict[str, Any]]:
    rows = _rows(df, mapping, import_id, ("quantity", "unit_price", "order_id", "customer_id"),
                 _SALES_KEY)
    for r, at, row in zip(rows, df["date"], df["_row"], strict=True):
        r["at"] = at.to_pydatetime()
        r["file_row"] = int(row)
        for f in ("order_id", "customer_id"):
            if r[f] is not None:
                r[f] = str(r[f])[:64]
    return rows


def import_into_store(
    store: Store,
    mapping: Any,
    data_dir: str | Path,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import ``mapping``'s files from ``data_dir`` into ``store`` (see the module docstring).

    Raises:
        ImportDataError: a file, column or value cannot be imported (names file, row, column).
        StoreError: the store cannot be written.
    """
    from sqlalchemy import select

    from agent.store import realdata as R
    from online.ingest_real.errors import ImportDataError
    from online.ingest_real.pipeline import import_files

    data_dir = Path(data_dir)
    hashes: dict[str, tuple[Path, str]] = {}
    for table, tm in mapping.tables.items():
        path = data_dir / tm.file
        if not path.is_file():
            raise ImportDataError(str(path), "no such file; check the data folder (--data)")
        hashes[table] = (path, _file_hash(path))
    with store.session() as s:
        done = {
            r.table_name: r
            for r in s.scalars(select(R.RealImport).where(R.RealImport.source == mapping.name))
            if hashes.get(r.table_name, (None, None))[1] == r.content_hash
        }
        earlier = {t: (r.rows_in, r.quarantined, dict(r.counts)) for t, r in done.items()}
    todo = [t for t in mapping.tables if t not in done]
    reports: list[TableReport] = []
    counts: dict[str, int] = {}
    lines_in = lines_clean = 0
    if "sales" in earlier:
        n_in, n_q, counts = earlier["sales"]
        lines_in, lines_clean = n_in, n_in - n_q
    if todo:
        imp = import_files(mapping, data_dir, progress=progress)
        if "sales" in todo:
            summary = imp.cleaning.summary()
            counts = summary["by_rule"]
            lines_in, lines_clean = summary["lines_in"], summary["lines_clean"]
        models = {"sales": R.RealSale, "prices": R.RealPrice, "promotions": R.RealPromotion,
                  "stock": R.RealStock, "receipts": R.RealReceipt, "products": R.RealProduct}
        try:
            with store.session() as s:
                for table in todo:
                    path, digest = hashes[table]
                    df = imp.tables[table]
                    quarantine = imp.cleaning.quarantine if table == "sales" else None
                    n_in = imp.cleaning.lines_in if table == "sales" else len(df)
                    rec = R.RealImport(
                        source=mapping.name, table_name=table, file=str(path),
                        content_hash=digest, rows_in=n_in,
                        quarantined=0 if quarantine is None else len(quarantine),
                        counts=counts if table == "sales" else {},
                    )
                    s.add(rec)
                    s.flush()
                    model = models[table]
                    before = _count(s, model, mapping.name)
                    _insert_ignore(s, model, _table_rows(table, df, mapping, int(rec.id)))
                    rec.rows_added = _count(s, model, mapping.name) - before
                    if quarantine is not None and len(quarantine):
                        _insert_ignore(s, R.RealQuarantine, [
                            {"source": mapping.name, "import_id": int(rec.id),
                             "file": str(f), "file_row": int(row), "reason": str(why),
                             "detail": str(det), "raw": str(raw)}
                            for f, row, why, det, raw in zip(
                                quarantine["_file"], quarantine["_row"],
                                quarantine["reason"], quarantine["detail"],
                                quarantine["raw"], strict=True)
                        ])
                    reports.append(TableReport(table, str(path), "imported", n_in,
                                               rec.rows_added, rec.quarantined))
        except ImportDataError:
            raise
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot write the import into {store.safe_url}: {exc}") from exc
    for table, (n_in, n_q, _) in earlier.items():
        reports.append(TableReport(table, str(hashes[table][0]), "already imported", n_in, 0,
                                   n_q))
    order = list(mapping.tables)
    reports.sort(key=lambda r: order.index(r.table))
    return ImportReport(mapping.name, reports, counts, lines_in, lines_clean)


def _table_rows(table: str, df: Any, mapping: Any, import_id: int) -> list[dict[str, Any]]:
    if table == "sales":
        return _sales_rows(df, mapping, import_id)
    if table == "prices":
        return _rows(df, mapping, import_id, ("list_price",))
    if table == "promotions":
        return _rows(df, mapping, import_id, ("feature", "display", "tpr", "discount"))
    if table == "stock":
        return _rows(df, mapping, import_id, ("on_hand",))
    if table == "receipts":
        rows = _rows(df, mapping, import_id, ("quantity", "po_id"), _RECEIPT_KEY)
        return rows
    # products: one row per SKU, no date or series
    out = []
    for r in df.itertuples(index=False):
        d = r._asdict()
        out.append({"source": mapping.name, "import_id": import_id, "sku": d["sku"],
                    "category": _opt(d.get("category")),
                    "description": _opt(d.get("description")),
                    "unit_cost": _opt(d.get("unit_cost"))})
    return [r for r in out if r["sku"] is not None]


# ---------------------------------------------------------------------------- reading back
def read_frames(
    store: Store, source: str, series: Iterable[str] | None = None,
    tables: Iterable[str] = ("sales", "prices", "promotions", "stock", "receipts", "products"),
    engine: Any = None,
) -> dict[str, Any]:
    """Canonical frames of ``source`` (only ``series`` if given); absent tables are omitted.

    Frames have the reader's canonical columns (``date`` as ``datetime64``; sales keep their
    timestamps) plus ``series``. ``engine`` reads through another engine than the store's
    (see :class:`StoreShopData`). Raises :class:`StoreError` when the source has no
    sales.
    """
    import pandas as pd
    from sqlalchemy import select

    from agent.store import realdata as R

    cols = {
        "sales": (R.RealSale, ("series", "sku", "location", "at", "quantity", "unit_price",
                               "order_id", "customer_id")),
        "prices": (R.RealPrice, ("series", "sku", "location", "date", "list_price")),
        "promotions": (R.RealPromotion, ("series", "sku", "location", "date", "feature",
                                         "display", "tpr", "discount")),
        "stock": (R.RealStock, ("series", "sku", "location", "date", "on_hand")),
        "receipts": (R.RealReceipt, ("series", "sku", "location", "date", "quantity", "po_id")),
        "products": (R.RealProduct, ("sku", "category", "description", "unit_cost")),
    }
    wanted = None if series is None else sorted(set(series))
    out: dict[str, Any] = {}
    with (engine or store.engine).connect() as conn:
        for table in tables:
            model, names = cols[table]
            q = select(*[getattr(model, c) for c in names]).where(model.source == source)
            if wanted is not None and table != "products":
                q = q.where(model.series.in_(wanted))
            df = pd.read_sql(q, conn)
            if df.empty and table != "sales":
                continue
            if table == "sales":
                df = df.rename(columns={"at": "date"})
            if "date" in df:
                df["date"] = pd.to_datetime(df["date"])
            out[table] = df
    if out["sales"].empty:
        raise StoreError(
            f"the store {store.safe_url} holds no sales for source {source!r}"
            + ("" if wanted is None else f" and series {wanted[:5]}")
            + f"; import them first: shopops import --mapping {source} --data PATH"
        )
    return out


def source_summary(store: Store, source: str) -> dict[str, Any]:
    """Counts per table and quarantine reason for ``source`` (plain JSON)."""
    from sqlalchemy import func, select

    from agent.store import realdata as R

    with store.session() as s:
        counts = {
            name: _count(s, model, source)
            for name, model in (("sales", R.RealSale), ("prices", R.RealPrice),
                                ("promotions", R.RealPromotion), ("stock", R.RealStock),
                                ("receipts", R.RealReceipt), ("products", R.RealProduct),
                                ("quarantine", R.RealQuarantine))
        }
        reasons = dict(s.execute(
            select(R.RealQuarantine.reason, func.count())
            .where(R.RealQuarantine.source == source)
            .group_by(R.RealQuarantine.reason)
        ).all())
        first, last = s.execute(
            select(func.min(R.RealSale.date), func.max(R.RealSale.date))
            .where(R.RealSale.source == source)
        ).one()
    return {"source": source, "rows": counts, "quarantine_by_reason": reasons,
            "first_date": None if first is None else str(first),
            "last_date": None if last is None else str(last)}


# ---------------------------------------------------------------------------- the shop's side
def _reader(store: Store) -> Any:
    """An engine for reads that never waits on the store's writer.

    The store's SQLite sessions start with ``BEGIN IMMEDIATE`` (one writer at a time); the
    shop reads while the agent's nodes hold such a transaction (building this morning's view
    inside ``approve``), so on SQLite it reads through a second engine without that hook (WAL:
    readers see the last commit and never block). On PostgreSQL reads never block anyway.
    """
    if not store.url.startswith("sqlite"):
        return store.engine
    from sqlalchemy import create_engine

    return create_engine(store.url, connect_args={"timeout": 30.0, "check_same_thread": False})


class StoreShopData:
    """:class:`tools.real_shop.RealShopData` over this store's ``real_*`` tables.

    Reads go through :func:`_reader` (never blocked by the agent's open write transaction);
    the calendar is created, and outbox rows and the open day written, through the store's
    sessions.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.safe_url = store.safe_url
        self._read = _reader(store)

    def session(self) -> Any:
        return self.store.session()

    def series_units(self, source: str) -> dict[str, float]:
        from sqlalchemy import func, select

        from agent.store.realdata import RealSale

        with self._read.connect() as c:
            return {k: float(v) for k, v in c.execute(
                select(RealSale.series, func.sum(RealSale.quantity))
                .where(RealSale.source == source)
                .group_by(RealSale.series)
            ).all()}

    def read_frames(self, source: str, series: list[str]) -> dict[str, Any]:
        return read_frames(self.store, source, series, engine=self._read)

    def shop_calendar(self, shop_id: str, source: str, origin: Any) -> tuple[Any, int]:
        from agent.store.realdata import RealShopState

        with self.store.session() as s:
            row = s.get(RealShopState, shop_id)
            if row is None:
                row = RealShopState(shop_id=shop_id, source=source, origin=origin, open_day=0)
                s.add(row)
            return row.origin, int(row.open_day)

    def open_day(self, shop_id: str) -> int:
        from sqlalchemy import select

        from agent.store.realdata import RealShopState

        with self._read.connect() as c:
            return int(c.scalar(select(RealShopState.open_day).where(
                RealShopState.shop_id == shop_id)))

    def lock_open_day(self, session: Any, shop_id: str) -> int:
        from agent.store.realdata import RealShopState

        return int(session.get(RealShopState, shop_id, with_for_update=True).open_day)

    def set_open_day(self, session: Any, shop_id: str, day: int) -> None:
        from agent.store.realdata import RealShopState

        session.get(RealShopState, shop_id).open_day = int(day)

    def outbox_lines(self, shop_id: str, kind: str, statuses: tuple[str, ...]) -> list[Any]:
        from sqlalchemy import select

        from agent.store.realdata import OutboxRow

        with self._read.connect() as c:
            return [tuple(r) for r in c.execute(
                select(OutboxRow.idempotency_key, OutboxRow.sku, OutboxRow.day, OutboxRow.date,
                       OutboxRow.params)
                .where(OutboxRow.shop_id == shop_id, OutboxRow.kind == kind,
                       OutboxRow.status.in_(statuses))
                .order_by(OutboxRow.day, OutboxRow.id)
            ).all()]

    def outbox_add(self, session: Any, row: dict[str, Any]) -> bool:
        from sqlalchemy import select

        from agent.store.realdata import OutboxRow

        key = row["idempotency_key"]
        if session.scalar(select(OutboxRow.id).where(OutboxRow.idempotency_key == key)):
            return False
        session.add(OutboxRow(**row))
        session.flush()
        return True
