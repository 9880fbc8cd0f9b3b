"""Unattended is safe by default (issue 18, break 4).

``shopops run --days 30`` on steady with nobody answering used to expire 323 actions and
reach a profit of 6,151 against 23,863 with the scripted approver. Now a risky order's safe
part executes at once and only the excess waits; the run ends within 10 % of the scripted
run's profit, and says loudly how many decisions expired and what their what-if was.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.runner import run_shop_days


@pytest.mark.slow
def test_thirty_unattended_days_stay_within_ten_percent_of_the_scripted_approver(tmp_path):
    kw = {"scenario": "steady", "days": 30, "seed": 0, "signals": "auto"}
    alone = run_shop_days(db_url=str(tmp_path / "alone.db"), approver=None, **kw)
    scripted = run_shop_days(db_url=str(tmp_path / "scripted.db"), approver="scripted", **kw)
    assert alone.days_closed == scripted.days_closed == 30
    ratio = alone.profit / scripted.profit
    assert ratio >= 0.9, (alone.profit, scripted.profit)
    assert alone.kpis["fill_rate"] >= 0.95
    # what nobody answered is counted and valued, not hidden
    assert alone.statuses.get("expired", 0) > 0 and alone.expired_whatif != 0

    # ... and the command says so loudly
    res = CliRunner().invoke(app, ["run", "--db", str(tmp_path / "cli.db"), "--days", "6",
                                   "--policy", "base_stock", "--deadline-days", "0"])
    assert res.exit_code == 0, res.output
    assert "WARNING:" in res.output and "expired with nobody answering" in res.output
