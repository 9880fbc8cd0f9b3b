"""Shared set-up for the real-shop tests: the committed synthetic shop, imported into a real
store, and ``shopops run --shop`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agent.cli import app
from agent.store import open_store
from agent.store.realdata_io import import_into_store
from online.ingest_real.mapping import load_mapping

#: The committed synthetic shop (tests/data/real_shop; history through 2024-02-29).
SHOP_DIR = Path(__file__).parent / "data" / "real_shop"
MAPPING = SHOP_DIR / "mapping.yaml"


def imported_shop_store(url: str, data: Path = SHOP_DIR) -> str:
    """Import the shop's files in ``data`` into the store at ``url``; returns ``url``."""
    st = open_store(url)
    try:
        import_into_store(st, load_mapping(MAPPING), data)
    finally:
        st.close()
    return url


def run_shop(db: str, *extra: str) -> dict[str, Any]:
    """``shopops run --shop shop.yaml --db DB --json EXTRA...``; its JSON summary."""
    res = CliRunner().invoke(
        app, ["run", "--shop", str(SHOP_DIR / "shop.yaml"), "--db", db, "--json", *extra]
    )
    assert res.exit_code == 0, res.output + repr(res.exception)
    return json.loads(res.output.strip().splitlines()[-1])
