"""``shopops outbox``: what a real shop's agent decided, for the merchant to do and confirm.

``list`` shows rows (filters: shop, status, kind, day), ``export`` writes pending rows to CSV
or JSON and marks them exported, ``confirm`` marks rows executed (by key, or ``--file`` with a
``key`` column: an export file works), ``fail`` marks one row failed with a reason. See
:mod:`agent.outbox` for the rules.
"""

from __future__ import annotations

import json as _json
from pathlib import Path
from typing import Annotated

import typer

_DB_HELP = (
    "Store URL or SQLite file (default: the --shop file's store, else $SHOPOPS_DB or "
    "~/.shopops/shopops.db)."
)
DbOpt = Annotated[str | None, typer.Option(help=_DB_HELP)]
ShopOpt = Annotated[
    str | None,
    typer.Option(help="Only this shop: its name, or a shop file / examples name (e.g. "
                 "real-example), whose store is then used."),
]

outbox_app = typer.Typer(
    help="A real shop's outbox: list, export, confirm or fail the actions the agent executed.",
    no_args_is_help=True,
)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


def _store(db: str | None, shop: str | None = None):
    """The store: ``--db``, else the store the ``--shop`` file names, else the default."""
    from agent.store import open_store

    if db is None and shop is not None:
        from tools.real_shop_config import find_shop_config, load_shop_config, resolve

        if find_shop_config(shop) is not None:
            cfg, base = load_shop_config(shop)
            db = str(resolve(base, cfg.db)) if cfg.db else None
    return open_store(db)


def _shop_name(shop: str | None) -> str | None:
    """The shop id a ``--shop`` names (a shop file's ``name``, or the text as given)."""
    if shop is None:
        return None
    from tools.real_shop_config import find_shop_config, load_shop_config

    return load_shop_config(shop)[0].name if find_shop_config(shop) is not None else shop


@outbox_app.command("list")
def list_cmd(
    shop: ShopOpt = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="Only rows with this status (pending, exported, executed, failed); "
                     "repeatable."),
    ] = None,
    kind: Annotated[str | None, typer.Option(help="restock or promotion.")] = None,
    day: Annotated[int | None, typer.Option(help="Only this shop day.")] = None,
    db: DbOpt = None,
    json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List outbox rows, oldest first."""
    from agent.outbox import list_outbox

    store = _store(db, shop)
    try:
        rows = list_outbox(store, shop=_shop_name(shop), status=status, kind=kind, day=day)
    finally:
        store.close()
    if json:
        typer.echo(_json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Outbox ({len(rows)} rows)")
    for c in ("key", "shop", "day", "date", "sku", "action", "status"):
        t.add_column(c)
    for r in rows:
        if r["kind"] == "restock":
            what = f"restock x{r['quantity']}"
        else:
            what = f"promotion -{float(r['discount'] or 0):.0%} {r['duration_days']}d"
        st = r["status"] + (f" ({r['reason']})" if r["reason"] else "")
        t.add_row(r["key"][:12], r["shop"], str(r["day"]), r["date"], r["sku"], what, st)
    Console(markup=False).print(t)
    if rows:
        typer.echo("keys are shown shortened; `--json` or `export` gives them in full")


@outbox_app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    format: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    shop: ShopOpt = None,
    again: Annotated[
        bool, typer.Option("--again", help="Include rows exported before.")
    ] = False,
    db: DbOpt = None,
) -> None:
    """Write pending rows to a file and mark them exported."""
    from agent.outbox import export_outbox

    store = _store(db, shop)
    try:
        rows = export_outbox(store, out, format, shop=_shop_name(shop), again=again)
    finally:
        store.close()
    typer.echo(f"exported {len(rows)} rows to {out}")


@outbox_app.command("confirm")
def confirm_cmd(
    keys: Annotated[list[str] | None, typer.Argument(help="Idempotency keys.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="CSV with a key column (an export), JSON list, or text."),
    ] = None,
    shop: ShopOpt = None,
    db: DbOpt = None,
) -> None:
    """Mark rows executed (done by the merchant). An unknown key is an error; nothing changes."""
    from agent.outbox import confirm_keys, read_keys

    wanted = list(keys or []) + (read_keys(file) if file is not None else [])
    store = _store(db, shop)
    try:
        res = confirm_keys(store, wanted)
    finally:
        store.close()
    typer.echo(f"confirmed {res['executed']} rows ({res['already']} were already confirmed)")


@outbox_app.command("fail")
def fail_cmd(
    key: Annotated[str, typer.Argument(help="Idempotency key.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it could not be done.")],
    shop: ShopOpt = None,
    db: DbOpt = None,
) -> None:
    """Mark one row failed, with the reason."""
    from agent.outbox import fail_key

    store = _store(db, shop)
    try:
        fail_key(store, key, reason)
    finally:
        store.close()
    typer.echo(f"marked {key} failed: {reason}")
