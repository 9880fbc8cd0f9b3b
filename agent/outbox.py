"""The outbox of a real shop: list, export, confirm, fail (``shopops outbox``).

A real shop (:class:`tools.real_shop.SqlShop`) cannot place a purchase order or change a price
itself: executing an action writes an outbox row (``pending``). The merchant exports the rows
(``exported``), does them in their own systems, and reports back which were done
(``executed``) and which could not be (``failed``, with a reason). Confirmed rows flow back to
the agent as feedback events when its next day closes; failed restocks stop counting as
stock on order.

Rules: confirming or failing names rows by idempotency key; a key the outbox does not hold is
an error that names it, and then nothing is changed (all or nothing). Confirming an
``executed`` row again is a no-op (counted as ``already``); a ``failed`` row cannot be
confirmed, nor an ``executed`` one failed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from envs.errors import ShopOpsError

__all__ = [
    "EXPORT_FIELDS",
    "OutboxError",
    "confirm_keys",
    "export_outbox",
    "fail_key",
    "list_outbox",
    "read_keys",
]

#: Columns of an export, in order (``key`` is the idempotency key to confirm with).
EXPORT_FIELDS = ("key", "shop", "day", "date", "sku", "kind", "quantity", "discount",
                 "duration_days", "status")


class OutboxError(ShopOpsError, ValueError):
    """An outbox request cannot be done (an unknown key, a row in the wrong status)."""


def _row(r: Any) -> dict[str, Any]:
    p = r.params or {}
    return {
        "key": r.idempotency_key, "shop": r.shop_id, "day": int(r.day), "date": str(r.date),
        "sku": r.sku, "kind": r.kind, "quantity": p.get("quantity"),
        "discount": p.get("discount"), "duration_days": p.get("duration_days"),
        "status": r.status, "reason": r.reason, "run": r.run_id,
    }


def _query(shop: str | None, status: Sequence[str] | None, kind: str | None,
           day: int | None) -> Any:
    from sqlalchemy import select

    from agent.store.realdata import OUTBOX_STATUSES, OutboxRow

    q = select(OutboxRow).order_by(OutboxRow.id)
    if shop:
        q = q.where(OutboxRow.shop_id == shop)
    if status:
        bad = [x for x in status if x not in OUTBOX_STATUSES]
        if bad:
            raise OutboxError(f"--status {bad[0]!r}: use one of {', '.join(OUTBOX_STATUSES)}")
        q = q.where(OutboxRow.status.in_(list(status)))
    if kind:
        if kind not in ("restock", "promotion"):
            raise OutboxError(f"--kind {kind!r}: use restock or promotion")
        q = q.where(OutboxRow.kind == kind)
    if day is not None:
        q = q.where(OutboxRow.day == day)
    return q


def list_outbox(store: Any, *, shop: str | None = None, status: Sequence[str] | None = None,
                kind: str | None = None, day: int | None = None) -> list[dict[str, Any]]:
    """Outbox rows (oldest first) as plain dicts, filtered."""
    with store.session() as s:
        return [_row(r) for r in s.scalars(_query(shop, status, kind, day))]


def export_outbox(store: Any, out: Path, fmt: str = "csv", *, shop: str | None = None,
                  again: bool = False) -> list[dict[str, Any]]:
    """Write ``pending`` rows (and ``exported`` ones with ``again``) to ``out``; mark them
    ``exported``. The file is written inside the transaction: if it cannot be written,
    nothing is marked.

    Raises:
        OutboxError: an unknown format, or the file cannot be written.
    """
    from agent.store.models import utcnow

    if fmt not in ("csv", "json"):
        raise OutboxError(f"--format {fmt!r}: use csv or json")
    statuses = ["pending", "exported"] if again else ["pending"]
    with store.session() as s:
        rows = list(s.scalars(_query(shop, statuses, None, None)))
        data = [{k: _row(r)[k] for k in EXPORT_FIELDS} for r in rows]
        for d in data:
            d["status"] = "exported"
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "json":
                out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
            else:
                with out.open("w", newline="", encoding="utf-8") as f:
                    w = csv.DictWriter(f, fieldnames=list(EXPORT_FIELDS))
                    w.writeheader()
                    w.writerows(data)
        except OSError as exc:
            raise OutboxError(f"{out}: cannot write the export: {exc.strerror}") from None
        now = utcnow()
        for r in rows:
            r.status, r.exported_at = "exported", now
    return data


def _rows_by_key(s: Any, keys: Sequence[str]) -> dict[str, Any]:
    from sqlalchemy import select

    from agent.store.realdata import OutboxRow

    found = {r.idempotency_key: r for r in s.scalars(
        select(OutboxRow).where(OutboxRow.idempotency_key.in_(list(keys))))}
    unknown = [k for k in keys if k not in found]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise OutboxError(
            f"unknown outbox key {unknown[0]!r}{more}; nothing was changed (see `shopops "
            "outbox list`)"
        )
    return found


def confirm_keys(store: Any, keys: Iterable[str]) -> dict[str, int]:
    """Mark rows ``executed``; returns ``{"executed": n, "already": n}`` (all or nothing).

    Raises:
        OutboxError: a key is unknown, or names a ``failed`` row.
    """
    from agent.store.models import utcnow

    keys = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    if not keys:
        raise OutboxError("no keys to confirm: give KEY... or --file with a key column")
    out = {"executed": 0, "already": 0}
    with store.session() as s:
        rows = _rows_by_key(s, keys)
        failed = [k for k in keys if rows[k].status == "failed"]
        if failed:
            raise OutboxError(
                f"outbox key {failed[0]!r} is marked failed ({rows[failed[0]].reason}); it "
                "cannot be confirmed; nothing was changed"
            )
        now = utcnow()
        for k in keys:
            r = rows[k]
            if r.status == "executed":
                out["already"] += 1
            else:
                r.status, r.executed_at = "executed", now
                out["executed"] += 1
    return out


def fail_key(store: Any, key: str, reason: str) -> None:
    """Mark one row ``failed`` with ``reason``.

    Raises:
        OutboxError: the key is unknown, the row was executed, or the reason is empty.
    """
    if not reason.strip():
        raise OutboxError("--reason is required: say why the action could not be done")
    with store.session() as s:
        r = _rows_by_key(s, [key])[key]
        if r.status == "executed":
            raise OutboxError(f"outbox key {key!r} was confirmed executed; it cannot fail now")
        r.status, r.reason = "failed", reason.strip()


def read_keys(path: Path) -> list[str]:
    """Keys from a file: a CSV with a ``key`` (or ``idempotency_key``) column (an export
    works), a JSON list of keys or of objects with ``key``, or one key per line.

    Raises:
        OutboxError: the file cannot be read or has no key column (names the file).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OutboxError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise OutboxError(f"{path}: not JSON: {exc}") from None
        if not isinstance(data, list):
            raise OutboxError(f"{path}: expected a JSON list of keys or of objects with 'key'")
        keys = []
        for i, d in enumerate(data):
            k = d.get("key") if isinstance(d, dict) else d
            if not isinstance(k, str):
                raise OutboxError(f"{path}: item {i}: no 'key' string")
            keys.append(k)
        return keys
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        col = next((c for c in ("key", "idempotency_key") if c in (reader.fieldnames or [])),
                   None)
        if col is None:
            raise OutboxError(f"{path}: no 'key' column (columns: {reader.fieldnames})")
        return [r[col] for r in reader if r[col]]
    return [ln.strip() for ln in text.splitlines() if ln.strip()]
