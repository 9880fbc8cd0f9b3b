"""Importing and cleaning real shop files: one synthetic line per cleaning rule, one file per
import error (tests/data/realdata/), and the shipped mappings on the real data when present."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from online.ingest_real.cleaning import RULES, clean_sales, shop_calendar
from online.ingest_real.errors import ImportDataError, MappingError
from online.ingest_real.mapping import ImportMapping, load_mapping
from online.ingest_real.panel import build_panel
from online.ingest_real.pipeline import import_files
from online.ingest_real.reader import read_table

DATA = Path(__file__).parent / "data" / "realdata"
MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def _mapping(**tables: dict) -> ImportMapping:
    base = load_mapping(DATA / "shop.yaml").model_dump()
    base["tables"] = {**base["tables"], **tables}
    return ImportMapping.model_validate(base)


def test_each_rule_quarantines_its_line_with_file_and_row():
    imp = import_files(load_mapping(DATA / "shop.yaml"), DATA)
    q = imp.cleaning.quarantine.set_index("_row")
    # Data rows (header not counted) -> expected reason.
    expected = {2: "duplicate", 3: "missing_identifier", 4: "cancellation", 5: "return",
                6: "zero_quantity", 7: "negative_price", 8: "zero_price", 9: "non_product"}
    assert dict(q["reason"]) == expected
    assert set(q["_file"]) == {str(DATA / "lines.csv")}
    counts = imp.cleaning.counts
    assert sum(counts.values()) == len(expected)
    assert set(counts) == set(RULES)
    # Nothing silently dropped: clean + quarantined = lines in.
    assert len(imp.cleaning.clean) + len(q) == imp.cleaning.lines_in == 11
    assert sorted(imp.cleaning.clean["_row"]) == [1, 10, 11]
    # The quarantine keeps the raw values.
    assert '"sku": "POST"' in q.loc[9, "raw"]


def test_bulk_outlier_is_flagged_by_the_anomaly_scorer():
    m = _mapping(sales={"file": "bulk.csv", "columns": load_mapping(
        DATA / "shop.yaml").tables["sales"].columns})
    sales = read_table(m, "sales", DATA)
    res = clean_sales(sales, m)
    assert res.counts["suspicious_bulk"] == 1
    row = res.quarantine.iloc[0]
    assert row["_row"] == len(sales) and row["reason"] == "suspicious_bulk"
    assert "bulk" in row["detail"]


def test_calendar_tells_closed_days_from_zero_demand_days():
    lines = pd.DataFrame({
        "date": pd.to_datetime(["2024-03-04", "2024-03-04", "2024-03-06", "2024-03-08"]),
        "sku": ["A", "B", "A", "A"], "quantity": [1.0, 1.0, 1.0, 1.0],
    })
    cal = shop_calendar(lines, lines)
    assert cal["days"] == 5 and cal["open_days"] == 3 and cal["closed_days"] == 2
    assert cal["closed_weekdays"] == ["Tue", "Thu"]  # never open on those weekdays
    # A sells on 3 of 3 open days in its span; B only on its single day.
    assert cal["sku_days_with_sales"] == 4 and cal["zero_demand_sku_days"] == 0
    lines2 = lines.drop(index=2)
    cal2 = shop_calendar(lines, lines2)  # the 6th stays open (a line existed)
    assert cal2["zero_demand_sku_days"] == 1


def test_stock_out_marks_period_censored():
    m = load_mapping(DATA / "shop.yaml")
    imp = import_files(m, DATA)
    daily_to_weekly, _ = build_panel(m, imp.tables["sales"], stock=imp.tables["stock"])
    assert daily_to_weekly.loc[daily_to_weekly["series"] == "A1", "censored"].any()


@pytest.mark.parametrize(
    ("table", "file", "row", "column", "text"),
    [
        ("sales", "bad_date.csv", 2, "when", "as a date"),
        ("sales", "bad_number.csv", 3, "qty", "as a number"),
        ("sales", "missing_column.csv", None, "qty", "mapped column 'qty'"),
        ("stock", "stock_negative.csv", 2, "units", "cannot be negative"),
        ("sales", "no_such_file.csv", None, None, "no such file"),
    ],
)
def test_import_errors_name_file_row_and_column(table, file, row, column, text):
    m = _mapping(**{table: {"file": file, "columns": load_mapping(
        DATA / "shop.yaml").tables[table].columns}})
    with pytest.raises(ImportDataError) as info:
        read_table(m, table, DATA)
    err = info.value
    assert err.file.endswith(file)
    assert err.row == row and err.column == column
    assert text in str(err)


def test_promotion_flag_must_be_zero_or_one():
    m = _mapping(promotions={"file": "bad_flag.csv",
                             "columns": {"date": "week", "sku": "code", "feature": "feature"}})
    with pytest.raises(ImportDataError, match=r"row 2, column 'feature'.*0 or 1"):
        read_table(m, "promotions", DATA)


def test_mapping_errors_name_the_field(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("name: x\ngrain: line\ntables:\n  sales:\n    file: a.csv\n"
                   "    columns: {date: d, sku: s, qty: q}\n")
    with pytest.raises(MappingError, match=r"tables.*unknown field.*qty"):
        load_mapping(bad)
    bad.write_text("name: x\ngrain: line\ntables:\n  sales:\n    file: a.csv\n"
                   "    columns: {date: d, sku: s}\n")
    with pytest.raises(MappingError, match=r"required field.*quantity"):
        load_mapping(bad)
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name", ["uci-online-retail", "dunnhumby-batf"])
def test_shipped_mappings_load(name):
    m = load_mapping(name)
    assert m.name == name and "sales" in m.tables
    assert (MAPPINGS / f"{name}.yaml").exists()


@pytest.mark.realdata
def test_dunnhumby_mapping_builds_the_store_product_panel(shared_data):
    m = load_mapping("dunnhumby-batf")
    imp = import_files(m, shared_data)
    panel, weights = build_panel(m, imp.tables["sales"], imp.tables["prices"],
                                 imp.tables["promotions"], None, imp.tables["products"])
    assert weights is None
    assert panel["series"].nunique() == 3909
    assert set(panel["category"]) == {"BAG SNACKS", "COLD CEREAL", "FROZEN PIZZA",
                                      "ORAL HYGIENE PRODUCTS"}
    assert panel["feature"].mean() == pytest.approx(0.084, abs=0.005)
