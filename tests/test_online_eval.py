"""Accuracy on simulated shops with known truth, real data, doctests and the CLI."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from online.evaluation import evaluate_scenario

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODULES = ["online.features", "online.forecaster", "online.drift", "online.anomaly", "online.hub"]


@pytest.mark.parametrize("module", MODULES)
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("scenario", ["steady", "festival", "fresh", "classic"])
def test_beats_seasonal_naive(scenario):
    s = evaluate_scenario(scenario, days=120)
    assert s.beats_naive, (s.wape, s.mase)
    # close to the best possible (the true mean): within 10% of its WAPE
    assert s.wape["hub"] < 1.1 * s.wape["true_mean"]
    assert 0.7 < s.coverage < 0.95


def test_drift_scenario_detects_the_demand_jump():
    s = evaluate_scenario("drift")
    assert s.beats_naive
    jump = s.drift.per_event[0]  # day 60: pantry demand x1.8
    assert jump["skus_changed"] >= 10
    assert jump["detected"] >= jump["skus_changed"] // 2
    assert jump["median_delay"] <= 21
    assert s.drift.false_alarms_per_1000 < 3.0


def test_cli_bench_and_evaluate_json():
    from agent.cli import app

    runner = CliRunner()
    res = runner.invoke(
        app, ["bench", "online", "--json", "--skus", "200", "--days", "10", "--mem-days", "0"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["events_per_s"] > 0 and out["n_skus"] == 200
    res = runner.invoke(app, ["online", "evaluate", "--scenarios", "classic", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["scenarios"][0]["scenario"] == "classic" and out["scenarios"][0]["beats_naive"]


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.skipif(not DATA.exists(), reason=f"real data folder {DATA} is absent")
def test_real_data_progressive_comparison():
    from online.realdata import evaluate_real_data

    rows = evaluate_real_data(DATA, n_series=4)
    assert [r["dataset"] for r in rows] == ["dunnhumby weekly", "UCI online retail daily"]
    for r in rows:
        assert r["wape_hub"] < r["wape_seasonal_naive"]
        assert r["wape_hub"] <= 1.1 * r["wape_autoets"]
        assert r["seconds_hub"] < r["seconds_autoets"]
