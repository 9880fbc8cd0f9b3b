"""The agent's commands end to end on a temporary store: run, status, chat, replay, bench."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent.cli import app


@pytest.fixture()
def db(tmp_path):
    return str(tmp_path / "cli.db")


def _ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_run_status_chat_replay(db):
    r = CliRunner()
    out = json.loads(
        _ok(r.invoke(app, ["run", "--days", "3", "--db", db, "--json", "--deadline-days", "5"]))
    )
    assert out["days_closed"] == 3 and out["current_day"] == 3
    run_id = out["run_id"]
    # cron-style: the next call continues the same run by one day
    again = json.loads(_ok(r.invoke(app, ["run", "--db", db, "--json"])))
    assert again["run_id"] == run_id and again["current_day"] == 4

    st = json.loads(_ok(r.invoke(app, ["status", "--db", db, "--json"])))
    assert st["runs"][0]["id"] == run_id
    pending = st["pending"]
    assert pending, "risky mode without an approver leaves decisions pending"

    aid = pending[0]
    text = _ok(
        r.invoke(
            app,
            [
                "chat",
                "--db",
                db,
                "--by",
                "erin",
                "--say",
                "list",
                "--say",
                f"why {aid}",
                "--say",
                f"reject {aid}",
                "--say",
                f"reject {aid} too early",
                "--say",
                "executed 2",
            ],
        )
    )
    assert "decisions waiting" in text and "waits because its risk" in text
    assert "needs a reason" in text and f"#{aid} reject by erin: rejected" in text
    st2 = json.loads(_ok(r.invoke(app, ["status", "--db", db, "--json"])))
    assert aid not in st2["pending"]

    rep = json.loads(_ok(r.invoke(app, ["replay", "--run", run_id, "--db", db, "--json"])))
    assert rep["variants"]["recorded"]["profit"] == pytest.approx(rep["recorded_profit"])
    assert rep["variants"]["none"]["ordered_units"] == 0


def test_unattended_chat_stops_and_bad_input_is_one_line(db):
    r = CliRunner()
    text = _ok(r.invoke(app, ["chat", "--db", db]))
    assert "No terminal" in text
    res = r.invoke(app, ["run", "--db", db, "--approval-mode", "sometimes"])
    assert res.exit_code != 0 and "mode" in str(res.exception)
    res = r.invoke(app, ["run", "--db", db, "--schedule", "every day"])
    assert res.exit_code != 0 and "cron" in str(res.exception)


def test_bench_agent_prints_the_figure():
    r = CliRunner()
    out = json.loads(
        _ok(
            r.invoke(
                app, ["bench", "agent", "--json", "--skus", "60", "--days", "1", "--warmup", "0"]
            )
        )
    )
    assert out["daily_run_s_60"] > 0 and "sense" in out["node_s"]
