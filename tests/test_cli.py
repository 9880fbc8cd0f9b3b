"""The command line: instant help, light imports, clear errors, machine-readable benches."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SHOPOPS = [sys.executable, "-m", "agent"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*SHOPOPS, *args], capture_output=True, text=True, check=check)


def test_help_lists_commands() -> None:
    out = run("--help").stdout
    for command in ("scenarios", "bench"):
        assert command in out


def test_cli_import_stays_light() -> None:
    code = (
        "import sys, agent.cli; "
        "heavy = [m for m in ('numpy', 'torch', 'transformers', 'trl', 'river', 'sqlalchemy', "
        "'langgraph', 'stable_baselines3', 'pandas', 'matplotlib') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_scenarios_lists_every_shipped_file() -> None:
    out = run("scenarios").stdout
    for name in ("steady", "festival", "disruption", "drift", "fresh", "new_category", "large"):
        assert name in out


def test_bad_scenario_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nhorizon_days: long\ncategories: []\nsuppliers: []\n")
    res = run("scenarios", str(bad), check=False)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "error:" in res.stderr and "horizon_days" in res.stderr


def test_bench_sim_json_has_the_documented_keys() -> None:
    res = run("bench", "sim", "--json", "--days", "20", "--steps-10", "500")
    figures = json.loads(res.stdout)
    for key in ("steps_per_s_10", "sku_days_per_s_10k", "fork_ms_10k", "peak_mb_10k"):
        assert figures[key] > 0


def test_demo_runs_the_agent_and_writes_a_report(tmp_path: Path) -> None:
    res = run("demo", "--days", "3", "--out", str(tmp_path))
    assert "as executed (agent)" in res.stdout and "no action" in res.stdout
    reports = list(tmp_path.glob("*/report.md"))
    assert len(reports) == 1
    text = reports[0].read_text()
    assert "## KPIs" in text and "profit" in text
    import re

    assert not re.search(r"\d\.\d+e[+-]\d", text), "no scientific notation in the report"
    assert re.search(r"\| profit \| -?[\d,]+ \|", text)
    assert (reports[0].parent / "daily_profit.png").stat().st_size > 1000
