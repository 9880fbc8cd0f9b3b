"""The ``shopops`` command line.

Commands live in small modules under :mod:`agent.commands`; each exposes
``register(app, bench)`` and keeps heavy imports (numpy, torch, transformers, trl) inside
the command bodies, so ``shopops --help`` starts instantly.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import agent.commands as _commands

app = typer.Typer(
    name="shopops",
    help=(
        "ShopOps: an autonomous operations agent for e-commerce merchants. It decides "
        "restocking and promotions per SKU, checks them against hard rules, asks a human "
        "about risky ones, and learns from outcomes. Start with `shopops demo`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench = typer.Typer(
    help="Benchmarks that print measured figures (`--json` for one JSON object).",
    no_args_is_help=True,
)
app.add_typer(bench, name="bench")

for _info in sorted(pkgutil.iter_modules(_commands.__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"agent.commands.{_info.name}").register(app, bench)


def main() -> None:
    """Console entry point: run the CLI, turning ShopOps errors into one clear line."""
    try:
        app()
    except Exception as exc:
        from envs.errors import ShopOpsError  # imported late: envs is not light

        if not isinstance(exc, ShopOpsError):
            raise
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise SystemExit(2) from None
