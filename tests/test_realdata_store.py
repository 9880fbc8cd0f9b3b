"""Importing real shop history into the store: idempotency, quarantine, errors, reading back.

Runs on a SQLite file, and on PostgreSQL when ``SHOPOPS_TEST_PG_URL`` is set (skips with the
reason otherwise). Data: the synthetic files under tests/data/ (one line per cleaning rule,
and a 60-day, three-SKU shop).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from agent.cli import app
from agent.store import open_store
from agent.store.realdata import (
    RealImport,
    RealProduct,
    RealQuarantine,
    RealReceipt,
    RealSale,
    RealStock,
)
from agent.store.realdata_io import import_into_store, read_frames
from online.ingest_real.errors import ImportDataError
from online.ingest_real.mapping import ImportMapping, load_mapping
from online.ingest_real.panel import build_panel
from online.ingest_real.pipeline import import_files

DATA = Path(__file__).parent / "data"
RULES_DIR = DATA / "realdata"
SHOP_DIR = DATA / "real_shop"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = str(tmp_path / "real.db")
    else:
        url = request.getfixturevalue("fresh_pg")
    st = open_store(url)
    yield st
    st.close()


def _n(store, model) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_import_is_idempotent_by_file_and_by_line(store, tmp_path):
    m = load_mapping(SHOP_DIR / "mapping.yaml")
    first = import_into_store(store, m, SHOP_DIR)
    assert [t.status for t in first.tables] == ["imported"] * 4
    sales_csv = pd.read_csv(SHOP_DIR / "sales.csv")
    assert first.lines_in == len(sales_csv) == 149
    assert _n(store, RealSale) == first.lines_clean == 146
    assert (_n(store, RealStock), _n(store, RealReceipt), _n(store, RealProduct)) == (2, 1, 3)

    again = import_into_store(store, m, SHOP_DIR)
    assert [t.status for t in again.tables] == ["already imported"] * 4
    assert again.rows_added == 0 and _n(store, RealSale) == 146
    assert again.counts == first.counts  # the earlier counts are reported
    assert _n(store, RealQuarantine) == 3 and _n(store, RealImport) == 4

    # A newer export of the same shop: old lines again plus two new ones. The file is new
    # (content hash differs) but its old lines are found by their natural keys.
    newer = tmp_path / "newer"
    shutil.copytree(SHOP_DIR, newer)
    with (newer / "sales.csv").open("a") as f:
        f.write("9001,2024-03-01 09:00,A,4,4.00,c1\n9002,2024-03-01 09:30,B,1,10.00,c2\n")
    third = import_into_store(store, m, newer)
    sales = next(t for t in third.tables if t.table == "sales")
    assert sales.status == "imported" and sales.rows_in == 151 and sales.rows_added == 2
    assert _n(store, RealSale) == 148
    assert all(t.status == "already imported" for t in third.tables if t.table != "sales")


def test_quarantine_rows_keep_reason_file_and_row(store):
    imp = import_into_store(store, load_mapping(RULES_DIR / "shop.yaml"), RULES_DIR)
    with store.session() as s:
        rows = s.execute(select(RealQuarantine.file_row, RealQuarantine.reason,
                                RealQuarantine.file, RealQuarantine.raw)).all()
    by_row = {r: why for r, why, _, _ in rows}
    assert by_row == {2: "duplicate", 3: "missing_identifier", 4: "cancellation", 5: "return",
                      6: "zero_quantity", 7: "negative_price", 8: "zero_price",
                      9: "non_product"}
    assert {f for _, _, f, _ in rows} == {str(RULES_DIR / "lines.csv")}
    assert json.loads(next(raw for r, _, _, raw in rows if r == 9))["sku"] == "POST"
    # nothing silently dropped: clean + quarantined = lines read
    assert _n(store, RealSale) + len(rows) == imp.lines_in == 11
    assert sum(imp.counts.values()) == len(rows)


@pytest.mark.parametrize(
    ("file", "row", "column", "text"),
    [("bad_date.csv", 2, "when", "as a date"), ("bad_number.csv", 3, "qty", "as a number"),
     ("missing_column.csv", None, "qty", "mapped column 'qty'")],
)
def test_bad_import_names_file_row_column_and_writes_nothing(tmp_path, file, row, column, text):
    base = load_mapping(RULES_DIR / "shop.yaml").model_dump()
    base["tables"]["sales"]["file"] = file
    m = ImportMapping.model_validate(base)
    st = open_store(str(tmp_path / "bad.db"))
    with pytest.raises(ImportDataError) as info:
        import_into_store(st, m, RULES_DIR)
    err = info.value
    assert err.file.endswith(file) and err.row == row and err.column == column
    assert text in str(err)
    assert _n(st, RealImport) == 0 and _n(st, RealSale) == 0


def test_cli_import_prints_rule_counts_and_is_idempotent(tmp_path):
    db = str(tmp_path / "cli.db")
    args = ["import", "--mapping", str(RULES_DIR / "shop.yaml"), "--data", str(RULES_DIR),
            "--db", db]
    r = CliRunner()
    res = r.invoke(app, args)
    assert res.exit_code == 0, res.output
    for rule in ("duplicate", "cancellation", "non_product", "lines in / kept"):
        assert rule in res.output
    assert "11 / 3" in res.output
    again = r.invoke(app, [*args, "--json"])
    out = json.loads(again.output)
    assert [t["status"] for t in out["tables"]] == ["already imported", "already imported"]
    assert sum(t["rows_added"] for t in out["tables"]) == 0
    missing = r.invoke(app, ["import", "--mapping", str(RULES_DIR / "shop.yaml"), "--data",
                             str(tmp_path / "absent"), "--db", db])
    assert missing.exit_code != 0 and str(tmp_path / "absent") in str(missing.exception)


def test_frames_read_back_build_the_same_panel_as_the_files(store):
    m = load_mapping(SHOP_DIR / "mapping.yaml")
    import_into_store(store, m, SHOP_DIR)
    files = import_files(m, SHOP_DIR).tables
    back = read_frames(store, m.name)
    p_files, w_files = build_panel(m, files["sales"], stock=files["stock"],
                                   products=files["products"],
                                   open_days=import_files(m, SHOP_DIR).open_days)
    days = pd.DatetimeIndex(back["sales"]["date"].dt.normalize().unique()).sort_values()
    p_store, w_store = build_panel(m, back["sales"], stock=back["stock"],
                                   products=back["products"], open_days=days)
    assert w_files.keys() == w_store.keys()
    for k in w_files:
        assert w_files[k] == pytest.approx(w_store[k])
    cols = ["series", "category", "period", "units", "price", "censored"]
    a = p_files[cols].sort_values(["series", "period"]).reset_index(drop=True)
    b = p_store[cols].sort_values(["series", "period"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert set(a["category"]) == {"toys", "games"}


@pytest.mark.realdata
def test_uci_import_into_the_store_counts_every_line(shared_data, tmp_path):
    st = open_store(str(tmp_path / "uci.db"))
    rep = import_into_store(st, load_mapping("uci-online-retail"), shared_data)
    assert rep.lines_in == 541_909
    assert _n(st, RealSale) + _n(st, RealQuarantine) == rep.lines_in
    assert rep.counts["cancellation"] > 0 and rep.counts["non_product"] > 0
