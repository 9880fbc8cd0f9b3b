"""The harness end to end on real policies and scenarios: reproducible, paired, split-aware."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pandas as pd
import pytest

from eval.errors import EpisodeFailedError, EvalConfigError, SplitError
from eval.harness import EvalConfig, run_evaluation
from eval.report import write_outputs

FAST = {
    "policies": ("do_nothing", "naive"), "scenarios": ("steady", "classic"), "seeds": 3,
    "bound": False,
}


@pytest.fixture(scope="module")
def evaluation():
    return run_evaluation(EvalConfig.build(**FAST, jobs=1), progress=False)


def _numbers(ev) -> pd.DataFrame:
    return ev.runs_frame().drop(columns=["wall_s", "cpu_s"])


def test_every_policy_runs_on_the_same_held_out_seeds(evaluation) -> None:
    runs = evaluation.runs_frame()
    assert len(runs) == 2 * 2 * 3
    assert evaluation.seeds == [0, 1, 2] and evaluation.split == "test"
    assert set(runs["seed_split"]) == {"test"}
    for _, g in runs.groupby(["scenario", "policy"]):
        assert sorted(g["seed"]) == [0, 1, 2]
    # common random numbers: demand does not depend on the policy (neither promotes)
    wide = runs.pivot_table(index=["scenario", "seed"], columns="policy", values="demand_units")
    assert (wide["do_nothing"] == wide["naive"]).all()
    # ...and different seeds do give different demand
    assert runs[runs["policy"] == "naive"].groupby("scenario")["demand_units"].nunique().min() == 3


def test_rerun_gives_identical_results(evaluation) -> None:
    again = run_evaluation(EvalConfig.build(**FAST, jobs=1), progress=False)
    pd.testing.assert_frame_equal(_numbers(evaluation), _numbers(again))


def test_parallel_workers_give_the_same_results_as_inline() -> None:
    small = {"policies": ("do_nothing", "naive"), "scenarios": ("classic",), "seeds": 2}
    inline = run_evaluation(EvalConfig.build(**small, jobs=1), progress=False)
    parallel = run_evaluation(EvalConfig.build(**small, jobs=2), progress=False)
    pd.testing.assert_frame_equal(_numbers(inline), _numbers(parallel))
    assert parallel.bounds == inline.bounds and len(parallel.bounds) == 2
    assert {p for (_, p) in parallel.traces()} == {"do_nothing", "naive"}


def test_paired_difference_with_itself_is_zero_and_naive_beats_doing_nothing(evaluation) -> None:
    paired = evaluation.paired_frame()  # baseline: the first policy (no oracle evaluated)
    assert evaluation.config.effective_baseline == "do_nothing"
    self_rows = paired[paired["policy_a"] == paired["policy_b"]]
    assert len(self_rows) == 2
    assert (self_rows["diff"] == 0).all() and (self_rows["diff_half"] == 0).all()
    steady = paired[(paired["scenario"] == "steady") & (paired["policy_a"] == "naive")].iloc[0]
    assert steady["diff_low"] > 0 and steady["a_better_share"] == 1.0


def test_percent_of_a_reference_policy(evaluation) -> None:
    cfg = EvalConfig.build(**FAST, jobs=1, reference="naive")
    ev = run_evaluation(cfg, progress=False)
    runs = ev.runs_frame()
    steady = runs[runs["scenario"] == "steady"]
    assert (steady.loc[steady["policy"] == "naive", "pct_of_naive"] == 100).all()
    assert (steady.loc[steady["policy"] == "do_nothing", "pct_of_naive"] < 0).all()
    # naive loses money on the backorder-heavy classic case: no percentage of a loss
    classic = runs[runs["scenario"] == "classic"]
    assert (classic.loc[classic["policy"] == "naive", "profit"] < 0).all()
    assert classic["pct_of_naive"].isna().all()
    assert evaluation.runs_frame()["pct_of_oracle"].isna().all()  # no oracle evaluated


def test_no_policy_beats_the_oracle_bound() -> None:
    cfg = EvalConfig.build(
        policies=("naive", "base_stock", "oracle"), scenarios=("steady", "classic"), seeds=2,
        jobs=1,
    )
    ev = run_evaluation(cfg, progress=False)
    runs = ev.runs_frame()
    assert set(ev.bounds) == {(s, seed) for s in ("steady", "classic") for seed in (0, 1)}
    assert (runs["profit"] <= runs["oracle_bound"]).all()
    assert (runs["pct_of_bound"] <= 100).all()
    steady = runs[(runs["scenario"] == "steady") & (runs["policy"] == "base_stock")]
    assert (steady["pct_of_bound"] > 50).all()  # the bound is not vacuously loose
    summary = ev.summary_frame()
    assert {"pct_of_bound", "pct_of_bound_half", "pct_of_oracle"} <= set(summary.columns)
    assert ev.config.effective_baseline == "base_stock"


def test_slow_policies_on_fewer_seeds_are_compared_on_common_seeds() -> None:
    from eval.report import pct_matrix

    cfg = EvalConfig.build(
        policies=("base_stock", "naive"), scenarios=("steady",), seeds=3,
        policy_seeds={"naive": 1, "mpc": 1}, jobs=1,
    )
    assert cfg.seeds_for("naive") == [0] and cfg.seeds_for("base_stock") == [0, 1, 2]
    ev = run_evaluation(cfg, progress=False)
    runs = ev.runs_frame()
    assert runs.groupby("policy")["seed"].apply(list).to_dict() == {
        "base_stock": [0, 1, 2], "naive": [0],
    }
    assert len(ev.bounds) == 3  # the bound is computed for every seed
    paired = ev.paired_frame()
    row = paired[paired["policy_a"] == "naive"].iloc[0]
    assert row["n_seeds"] == 1 and math.isnan(row["diff_half"])
    assert row["diff"] == pytest.approx(
        runs.loc[runs["policy"] == "naive", "profit"].iloc[0]
        - runs.loc[(runs["policy"] == "base_stock") & (runs["seed"] == 0), "profit"].iloc[0]
    )
    summary = ev.summary_frame().set_index("policy")
    assert summary.loc["naive", "n_seeds"] == 1 and summary.loc["base_stock", "n_seeds"] == 3
    assert pct_matrix(ev, "pct_of_bound").loc["naive", "steady"].endswith("(n=1)")


def test_traces_record_the_plot_sku_on_the_first_seed(evaluation) -> None:
    traces = evaluation.traces()
    assert set(traces) == {(s, p) for s in ("steady", "classic") for p in ("do_nothing", "naive")}
    sku = evaluation.plot_skus["steady"]
    assert traces[("steady", "naive")].sku_ids == (sku,)
    assert all(r.trace is None for r in evaluation.runs if r.seed != 0)


def test_outputs_are_written_and_consistent(evaluation, tmp_path) -> None:
    paths = write_outputs(evaluation, tmp_path / "out")
    csv = pd.read_csv(paths["runs_csv"])
    parquet = pd.read_parquet(paths["runs_parquet"])
    assert len(csv) == len(parquet) == 12
    assert parquet["profit"].tolist() == pytest.approx(csv["profit"].tolist())
    summary = pd.read_csv(paths["summary_csv"])
    assert {"profit", "profit_low", "profit_high", "fill_rate_half"} <= set(summary.columns)
    meta = json.loads(paths["meta"].read_text())
    assert meta["seed_split"] == "test" and meta["seeds"] == [0, 1, 2]
    report = paths["report"].read_text()
    assert "held-out test seeds (0-2)" in report
    assert "## steady" in report and "## classic" in report
    for s in ("steady", "classic"):
        for kind in ("profit", "trace"):
            png = paths[f"{kind}_{s}"]
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert png.relative_to(tmp_path / "out").as_posix() in report


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        ({"policies": ("naive", "zzz")}, r"policies: unknown policy 'zzz'; known policies: .*mpc"),
        ({"policies": ()}, "policies: give at least one policy"),
        ({"policies": ("naive", "naive")}, "naive is listed twice"),
        ({"scenarios": ("nowhere",)}, "scenarios: .*no such scenario; shipped: .*steady"),
        ({"seeds": 0}, "seeds: need at least 1 seed"),
        ({"jobs": 0}, "jobs: need at least 1 worker"),
        ({"seed_offset": -3}, "seed_offset: seeds are >= 0"),
        ({"confidence": 95}, "confidence: must be strictly between 0 and 1"),
        ({"baseline": "mpc"}, "baseline 'mpc' is not among the evaluated policies"),
        ({"reference": "oracel"}, "reference: unknown policy 'oracel'"),
        ({"policy_seeds": {"mcp": 2}}, "policy_seeds: unknown policy 'mcp'"),
        ({"policy_seeds": {"naive": 0}}, "policy_seeds: naive: need at least 1 seed"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_arguments_name_the_field(fields, pattern) -> None:
    base = {"policies": ("naive",), "scenarios": ("steady",)}
    with pytest.raises(EvalConfigError, match=pattern):
        EvalConfig.build(**{**base, **fields})


def test_training_seeds_are_refused_then_labelled_when_allowed() -> None:
    cfg = EvalConfig.build(
        policies=("naive",), scenarios=("classic",), seeds=2, seed_offset=1000
    )
    with pytest.raises(SplitError, match="training seeds"):
        run_evaluation(cfg, progress=False)
    allowed = EvalConfig.build(
        policies=("naive",), scenarios=("classic",), seeds=2, seed_offset=999,
        allow_train_seeds=True, jobs=1,
    )
    ev = run_evaluation(allowed, progress=False)
    assert ev.split == "mixed"
    assert ev.runs_frame()["seed_split"].tolist() == ["test", "train"]


def test_unknown_plot_sku_is_refused_before_any_work() -> None:
    cfg = EvalConfig.build(policies=("naive",), scenarios=("classic",), seeds=1, plot_sku="zz")
    with pytest.raises(EvalConfigError, match="plot_sku: SKU 'zz' is in none of the scenarios"):
        run_evaluation(cfg, progress=False)


def test_a_failing_episode_names_policy_scenario_and_seed(tmp_path) -> None:
    import pickle

    from eval.harness import _run_task, _Task

    with pytest.raises(EpisodeFailedError) as info:
        _run_task(_Task("naive", str(tmp_path / "gone.yaml"), 7, False))
    err = info.value
    assert str(err).startswith("policy 'naive' on scenario ")
    assert "seed 7: ScenarioError" in str(err) and "no such file" in str(err)
    assert "Traceback" in err.detail
    again = pickle.loads(pickle.dumps(err))  # crosses the process boundary intact
    assert str(again) == str(err) and again.detail == err.detail


def test_cli_runs_and_reports_errors_in_one_line(tmp_path) -> None:
    cmd = [sys.executable, "-c", "from agent.cli import main; main()", "eval"]
    ok = subprocess.run(
        [*cmd, "--policies", "do_nothing,naive", "--scenarios", "classic", "--seeds", "2",
         "--jobs", "1", "--out", str(tmp_path / "cli"), "--no-plots", "--quiet"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "classic" in ok.stdout and "wrote" in ok.stdout
    assert (tmp_path / "cli" / "runs.parquet").exists()
    assert not (tmp_path / "cli" / "plots").exists()
    typo = subprocess.run(
        [*cmd, "--policies", "naive", "--policy-seeds", "naive"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert typo.returncode == 2
    assert "--policy-seeds: expected NAME=N pairs like 'mpc=2'; got 'naive'" in typo.stderr
    bad = subprocess.run(
        [*cmd, "--policies", "naive", "--seed-offset", "997"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: seeds 1000, 1001 are training seeds")
    assert "Traceback" not in bad.stderr


def test_cli_help_states_the_real_defaults() -> None:
    from typer.testing import CliRunner

    from agent.cli import app
    from eval.harness import DEFAULT_POLICIES, DEFAULT_SEEDS

    result = CliRunner().invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert f"(default: {DEFAULT_SEEDS})" in result.output
    assert f"(default: {', '.join(DEFAULT_POLICIES)})" in " ".join(result.output.split())


def test_bench_eval_prints_seconds_per_policy() -> None:
    from typer.testing import CliRunner

    from agent.cli import app

    result = CliRunner().invoke(
        app, ["bench", "eval", "--policies", "do_nothing,naive", "--scenario", "classic", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["scenario"] == "classic" and set(out["seconds"]) == {"do_nothing", "naive"}
    assert all(v > 0 for v in out["seconds"].values())
