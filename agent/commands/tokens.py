"""``shopops tokens``: API tokens for the web console and API (create, list, revoke).

``create`` makes a token for a user (the user is created with ``--role`` when new; ``--shop``
adds shop grants, ``*`` is every shop) and prints it **once**: only its hash is stored.
``list`` shows tokens without secrets; ``revoke`` disables one by id or prefix.
"""

from __future__ import annotations

import json as _json
from typing import Annotated

import typer

_DB_HELP = "Store URL or SQLite file (default $SHOPOPS_DB or ~/.shopops/shopops.db)."
DbOpt = Annotated[str | None, typer.Option(help=_DB_HELP)]

tokens_app = typer.Typer(
    help="API tokens for `shopops serve`: create (shown once), list, revoke.",
    no_args_is_help=True,
)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")


@tokens_app.command("create")
def create_cmd(
    user: Annotated[str, typer.Option(help="The user's name, recorded with their decisions.")],
    role: Annotated[
        str | None,
        typer.Option(help="viewer, approver or admin (required for a new user)."),
    ] = None,
    shop: Annotated[
        list[str] | None,
        typer.Option(help="Grant this shop (repeatable; '*' for every shop)."),
    ] = None,
    label: Annotated[str, typer.Option(help="A note to tell tokens apart.")] = "",
    db: DbOpt = None,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a token for USER and print it once (store it now: it cannot be shown again)."""
    from agent.store import open_store
    from agent.web.auth import create_token

    store = open_store(db)
    try:
        token, info = create_token(store, user, role=role, shops=shop or (), label=label)
    finally:
        store.close()
    if json:
        typer.echo(_json.dumps({"token": token, **info}))
        return
    typer.echo(token)
    typer.echo(
        f"token {info['id']} ({info['prefix']}...) for {info['user']} ({info['role']}, shops: "
        f"{', '.join(info['shops']) or 'none'}); shown once, only its hash is stored",
        err=True,
    )


@tokens_app.command("list")
def list_cmd(
    db: DbOpt = None,
    json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List tokens (id, prefix, user, role, shops, last use); never the secrets."""
    from agent.store import open_store
    from agent.web.auth import list_tokens

    store = open_store(db)
    try:
        rows = list_tokens(store)
    finally:
        store.close()
    if json:
        typer.echo(_json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="API tokens")
    for col in ("id", "prefix", "user", "role", "shops", "label", "last used", "state"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            str(r["id"]),
            r["prefix"] + "...",
            r["user"],
            r["role"],
            ", ".join(r["shops"]) or "-",
            r["label"],
            r["last_used_at"] or "never",
            "revoked" if r["revoked"] else "active",
        )
    Console(markup=False).print(
        t if rows else "No tokens yet: `shopops tokens create --user NAME --role ...`"
    )


@tokens_app.command("revoke")
def revoke_cmd(
    ref: Annotated[str, typer.Argument(help="The token's id or prefix (see `tokens list`).")],
    db: DbOpt = None,
) -> None:
    """Revoke a token: requests with it get HTTP 401 from then on."""
    from agent.store import open_store
    from agent.web.auth import revoke_token

    store = open_store(db)
    try:
        info = revoke_token(store, ref)
    finally:
        store.close()
    typer.echo(f"revoked token {info['id']} ({info['prefix']}...)")
