"""Outcomes of a real shop's decided days flow back once their sales are imported.

On the committed synthetic shop (tests/data/real_shop; history through 2024-02-29, so the
shop's day 0 is 2024-03-01): the agent decides day 0, a later file brings that day's sales,
and the day's realised outcome (units, revenue at the lines' prices, cost of goods, stock-outs
where a snapshot says so, the outbox lines the merchant confirmed) is written once as a
``day_outcomes`` row and an ``outcome`` feedback event, whether the next ``shopops run`` or
``shopops import`` finds it first.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from agent.cli import app
from agent.store import open_store
from agent.store.models import Action, DayOutcome, FeedbackEvent
from agent.store.realdata import OutboxRow
from tests.real_shop_helpers import MAPPING, SHOP_DIR, run_shop


@pytest.fixture
def db(real_shop_db: str) -> str:
    return real_shop_db


def _import(r, db, data):
    """``shopops import`` of the shop's files in ``data`` (the command, not the API: it is the
    command that records the outcomes of days closed before their sales)."""
    res = r.invoke(app, ["import", "--mapping", str(MAPPING), "--data", str(data), "--db", db,
                         "--json"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return json.loads(res.output.strip().splitlines()[-1])



def _later_file(tmp_path, sales: list[str], stock: list[str] = ()) -> Path:
    """The shop's files with more sales (and stock) lines appended: a later export."""
    newer = tmp_path / "newer"
    if newer.exists():
        shutil.rmtree(newer)
    shutil.copytree(SHOP_DIR, newer)
    with (newer / "sales.csv").open("a") as f:
        f.writelines(line + "\n" for line in sales)
    with (newer / "stock.csv").open("a") as f:
        f.writelines(line + "\n" for line in stock)
    return newer


def _outcomes(db):
    st = open_store(db)
    with st.session() as s:
        rows = s.execute(select(DayOutcome.run_id, DayOutcome.day, DayOutcome.profit,
                                DayOutcome.breakdown, DayOutcome.totals)
                         .order_by(DayOutcome.day)).all()
        events = s.execute(select(FeedbackEvent.day, FeedbackEvent.payload)
                           .where(FeedbackEvent.kind == "outcome")
                           .order_by(FeedbackEvent.day)).all()
    st.close()
    return rows, events


def test_run_then_import_then_run_records_the_day_once(db, tmp_path):
    r = CliRunner()
    # auto approval: the agent's day-0 lines reach the outbox whatever their risk (this test
    # is about outcomes; which lines the policy finds risky is not its business)
    first = run_shop(db, "--approval-mode", "auto")
    assert first["open_day"] == 0
    st = open_store(db)
    with st.session() as s:
        keys = list(s.scalars(select(OutboxRow.idempotency_key).where(OutboxRow.day == 0)
                              .order_by(OutboxRow.id)))
    st.close()
    assert keys  # the agent acted on day 0
    ok = r.invoke(app, ["outbox", "confirm", keys[0], "--db", db])
    assert ok.exit_code == 0, ok.output
    assert _outcomes(db) == ([], [])  # day 0's sales are not known yet

    # day 0's sales arrive: A sold at 3.50 (list price 4), C's snapshot says it ran out
    newer = _later_file(tmp_path, ["9001,2024-03-01 09:00,A,4,3.50,c1",
                                   "9002,2024-03-01 11:00,B,2,10.00,c2"],
                        ["2024-03-01,C,0"])
    imp = _import(r, db, newer)
    # day 0 is still the run's open day (the agent may still act on it): nothing recorded yet
    assert imp["outcomes_recorded"] == {} and _outcomes(db) == ([], [])

    nxt = run_shop(db)
    assert nxt["days_caught_up"] == 1 and nxt["open_day"] == 1
    rows, events = _outcomes(db)
    assert len(rows) == 1 and len(events) == 1
    run_id, day, profit, breakdown, totals = rows[0]
    assert (run_id, day) == (first["run_id"], 0)
    assert totals["sales"] == 6.0
    assert breakdown["revenue"] == pytest.approx(4 * 3.5 + 2 * 10.0)  # the lines' own prices
    assert breakdown["cogs"] == pytest.approx(4 * 2.0 + 2 * 10.0 * 0.7)  # A's cost, B's margin
    assert profit == pytest.approx(34.0 - 22.0)
    assert totals["stock_known_skus"] == 1 and totals["stockout_sku_days"] == 1
    assert totals["lines_applied"] == 1  # only the confirmed outbox line counts as executed
    payload = events[0][1]
    assert [e["key"] for e in payload["executed"]] == keys[:1]
    assert payload["by_sku"] == {"A": 4.0, "B": 2.0} and payload["profit"] == profit
    assert payload["outbox"]["executed"] == 1
    assert nxt["days_closed"] == 1 and nxt["profit"] == pytest.approx(12.0)

    # rerunning, and importing the same file again, write nothing new
    assert run_shop(db)["outbox_new"] == 0
    assert _import(r, db, newer)["outcomes_recorded"] == {}
    assert _outcomes(db) == (rows, events)


def test_import_records_days_closed_before_their_sales(db, tmp_path):
    r = CliRunner()
    first = run_shop(db, "--days", "3")  # decides days 0, 1, 2; closes 0 and 1
    assert first["open_day"] == 2 and _outcomes(db) == ([], [])
    newer = _later_file(tmp_path, ["9001,2024-03-01 09:00,A,4,4.00,c1",
                                   "9003,2024-03-02 10:00,C,1,25.00,c3"])
    imp = _import(r, db, newer)
    assert imp["outcomes_recorded"] == {first["run_id"]: [0, 1]}
    rows, events = _outcomes(db)
    assert [(d, t["sales"]) for _, d, _, _, t in rows] == [(0, 4.0), (1, 1.0)]
    assert [d for d, _ in events] == [0, 1]
    assert rows[1][3]["revenue"] == 25.0
    assert rows[0][4]["stock_known_skus"] == 0  # no snapshot that day: stock-outs unknown
    # the open day 2 has no sales yet: the next run closes nothing and records nothing
    again = run_shop(db)
    assert again["days_caught_up"] == 0 and again["open_day"] == 2
    assert _import(r, db, newer)["outcomes_recorded"] == {}
    assert _outcomes(db) == (rows, events)


def test_run_records_days_whose_sales_came_without_the_import_command(db, tmp_path):
    """Sales imported by other means (the library call) are found by the next run."""
    from agent.store.realdata_io import import_into_store
    from online.ingest_real.mapping import load_mapping

    first = run_shop(db, "--days", "2")  # day 0 closed, day 1 open
    newer = _later_file(tmp_path, ["9001,2024-03-01 09:00,A,3,4.00,c1"])
    st = open_store(db)
    import_into_store(st, load_mapping(MAPPING), newer)
    st.close()
    nxt = run_shop(db)
    assert nxt["run_id"] == first["run_id"] and nxt["days_caught_up"] == 0
    rows, events = _outcomes(db)
    assert [(d, t["sales"]) for _, d, _, _, t in rows] == [(0, 3.0)] and len(events) == 1


def test_executed_lines_get_their_skus_margin_over_seven_days_once(db, tmp_path):
    """Per-action outcomes on a real shop: a confirmed line's SKU margin over its 7 days."""
    r = CliRunner()
    # the heuristic orders on day 0 (bookkeeping, not policy, is tested); 8 days decided,
    # days 0-6 closed
    first = run_shop(db, "--days", "8", "--policy", "base_stock", "--approval-mode", "auto")
    assert first["open_day"] == 7
    st = open_store(db)
    with st.session() as s:
        lines = s.execute(select(OutboxRow.idempotency_key, OutboxRow.sku)
                          .where(OutboxRow.day == 0).order_by(OutboxRow.id)).all()
        action_of = dict(s.execute(select(Action.idempotency_key, Action.id)).all())
    st.close()
    assert len(lines) >= 2, "the heuristic ordered fewer than two SKUs on day 0"
    (early_key, early_sku), (late_key, late_sku) = lines[0], lines[1]
    assert r.invoke(app, ["outbox", "confirm", early_key, "--db", db]).exit_code == 0

    # a week of sales: 2 A a day at 3.50 (cost 2.00: margin 3.00 a day), B 1 on day 2 at 10
    sales = [f"95{k:02d},2024-03-{k + 1:02d} 09:00,A,2,3.50,c1" for k in range(7)]
    sales.append("9600,2024-03-03 12:00,B,1,10.00,c2")
    newer = _later_file(tmp_path, sales)
    imp = _import(r, db, newer)
    assert imp["outcomes_recorded"] == {first["run_id"]: list(range(7))}
    margin = {"A": 7 * 2 * (3.5 - 2.0), "B": 10.0 * 0.3, "C": 0.0}  # B: the default margin

    def action_outcomes() -> dict[int, dict]:
        st = open_store(db)
        with st.session() as s:
            out = {int(p["action_id"]): p for (p,) in s.execute(
                select(FeedbackEvent.payload).where(
                    FeedbackEvent.event_key.like("action-outcome:%")))}
        st.close()
        return out

    got = action_outcomes()
    assert set(got) == {action_of[early_key]}  # the unconfirmed line has no outcome
    p = got[action_of[early_key]]
    assert p["profit"] == pytest.approx(margin[early_sku]) and p["from_day"] == 0
    assert p["days"] == 7

    # a line confirmed after its days were recorded gets its outcome at the next run, once
    assert r.invoke(app, ["outbox", "confirm", late_key, "--db", db]).exit_code == 0
    run_shop(db)
    got = action_outcomes()
    assert set(got) == {action_of[early_key], action_of[late_key]}
    assert got[action_of[late_key]]["profit"] == pytest.approx(margin[late_sku])
    run_shop(db)
    _import(r, db, newer)
    assert action_outcomes() == got
