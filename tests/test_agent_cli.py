"""The agent's commands end to end on a temporary store: run, status, chat, replay, bench."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_markup_in_product_names_is_printed_as_written(tmp_path):
    """Issue 18: a SKU named ``oops[/bold] [red]FAKE APPROVED[/red]`` crashed `shopops chat`,
    `shopops status` and the web chat. Names are text, never markup."""
    import yaml

    base = yaml.safe_load((Path(__file__).parents[1] / "scenarios" / "steady.yaml").read_text())
    evil = "oops[/bold] [red]FAKE APPROVED[/red]"
    cat = base["categories"][0]
    cat["skus"] = [{"id": evil, "price": 10.0, "unit_cost": 5.0, "base_demand": 20.0}]
    cat.pop("n_skus", None)
    scen = tmp_path / "evil.yaml"
    scen.write_text(yaml.safe_dump(base))
    db = str(tmp_path / "evil.db")
    r = CliRunner()
    res = r.invoke(app, ["run", "--db", db, "--scenario", str(scen), "--policy", "base_stock",
                         "--approval-mode", "confirm", "--days", "2"])
    assert res.exit_code == 0, res.output
    for args in (["status", "--db", db], ["chat", "--db", db, "--say", "list"]):
        out = _ok(r.invoke(app, args))
        assert "Traceback" not in out
    out = _ok(r.invoke(app, ["chat", "--db", db, "--say", "list"]))
    assert "[red]FAKE APPROVED[/red]" in out  # shown as written, not styled
