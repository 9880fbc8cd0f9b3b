"""Events from CSV, Parquet and JSON Lines files with a column mapping."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from online.errors import IngestError
from online.hub import SignalHub
from online.ingest import ingest_file, parse_mapping

MAPPING = {
    "sku": "StockCode",
    "quantity": "Quantity",
    "timestamp": "InvoiceDate",
    "unit_price": "UnitPrice",
    "customer_id": "CustomerID",
}


def _frame() -> pd.DataFrame:
    rows = []
    for d in range(10):
        for k, sku in enumerate(("A1", "B2")):
            rows.append(
                {
                    "StockCode": sku,
                    "Quantity": 2 + k,
                    "UnitPrice": 1.5,
                    "InvoiceDate": f"2011-01-{d + 1:02d} 10:00:00",
                    "CustomerID": "17850",
                }
            )
    rows.append(
        {
            "StockCode": "A1",
            "Quantity": -3,
            "UnitPrice": 1.5,
            "InvoiceDate": "2011-01-10 11:00:00",
            "CustomerID": "1",
        }
    )
    rows.append(
        {
            "StockCode": "",
            "Quantity": 1,
            "UnitPrice": 1.5,
            "InvoiceDate": "2011-01-10 11:00:00",
            "CustomerID": "1",
        }
    )
    rows.append(
        {
            "StockCode": "B2",
            "Quantity": 1,
            "UnitPrice": 1.5,
            "InvoiceDate": "yesterday",
            "CustomerID": "1",
        }
    )
    return pd.DataFrame(rows)


def _check(report, hub: SignalHub) -> None:
    assert report.rows == 23
    assert report.accepted == 20 and report.duplicates == 0
    assert [(r.index, r.field) for r in report.rejected] == [
        (20, "quantity"),
        (21, "sku"),
        (22, "timestamp"),
    ]
    assert "greater than 0" in report.rejected[0].reason
    assert "yesterday" in report.rejected[2].reason
    hub.update([], close_through=9)
    assert hub.sku_ids == ["A1", "B2"]
    assert hub.forecaster.units[:2].tolist() == [20.0, 30.0]
    assert hub.forecast("B2", 1).mean[0] == pytest.approx(3.0, rel=0.2)


def test_csv_with_mapping_and_timestamps(tmp_path):
    path = tmp_path / "orders.csv"
    _frame().to_csv(path, index=False)
    hub = SignalHub()
    report = ingest_file(hub, path, mapping=MAPPING, kind="sale")
    _check(report, hub)
    # the same file again: every row id repeats, nothing is counted twice
    again = ingest_file(hub, path, mapping=MAPPING, kind="sale", day_origin="2011-01-01")
    assert again.accepted == 0
    assert again.duplicates + len(again.rejected) == 23


def test_parquet_with_mapping(tmp_path):
    path = tmp_path / "orders.parquet"
    frame = _frame()
    frame["Quantity"] = frame["Quantity"].astype(int)
    frame.to_parquet(path)
    hub = SignalHub()
    _check(ingest_file(hub, path, mapping=MAPPING), hub)


def test_jsonl_with_kinds_and_a_broken_line(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [
        {"kind": "sale", "event_id": "s1", "sku": "tea", "day": 0, "quantity": 4},
        {"kind": "promotion", "event_id": "p1", "sku": "tea", "day": 1, "discount": 0.2},
        {"kind": "stock_count", "event_id": "c1", "sku": "tea", "day": 1, "on_hand": 0},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n"
    path.write_text(
        text
        + json.dumps({"kind": "sale", "event_id": "s2", "sku": "tea", "day": 1, "quantity": "lots"})
        + "\n"
    )
    hub = SignalHub()
    report = ingest_file(hub, path, kind=None)
    assert report.rows == 5 and report.accepted == 3
    assert [(r.index, r.field) for r in report.rejected] == [(3, "row"), (4, "quantity")]
    assert "not valid JSON" in report.rejected[0].reason


def test_whole_file_errors(tmp_path):
    with pytest.raises(IngestError, match="no such file"):
        ingest_file(SignalHub(), tmp_path / "missing.csv")
    path = tmp_path / "x.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(IngestError, match="'Qty' not in the file"):
        ingest_file(SignalHub(), path, mapping={**MAPPING, "quantity": "Qty"})
    with pytest.raises(IngestError, match="no 'day' column"):
        ingest_file(SignalHub(), path, mapping={"sku": "StockCode", "quantity": "Quantity"})
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(IngestError, match="unknown format"):
        ingest_file(SignalHub(), tmp_path / "x.xlsx")
    with pytest.raises(IngestError, match="field=column"):
        parse_mapping(["sku"])
    with pytest.raises(IngestError, match="not an event field"):
        parse_mapping(["colour=Colour"])
