"""LM commands: they join `shopops train`, stay light, bench prints JSON, checkpoints register."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SHOPOPS = [sys.executable, "-m", "agent"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*SHOPOPS, *args], capture_output=True, text=True, check=check,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_lm_commands_join_the_train_group_and_bench() -> None:
    out = run("train", "--help").stdout
    for command in ("sft", "rl", "reward-model", "register-lm", "ppo"):
        assert command in out
    bench = run("bench", "--help").stdout
    assert "policy" in bench and "lm-departures" in bench
    rl_help = run("train", "rl", "--help").stdout
    assert "--feedback-from" in rl_help and "--departure-cost" in rl_help
    assert "--launch-variants" in rl_help
    departures_help = run("bench", "lm-departures", "--help").stdout
    assert "--launch-variants" in departures_help and "--by-group" in departures_help


@pytest.mark.parametrize("stage", ["rl", "sft"])
def test_train_options_are_generated_from_the_run_config(stage: str) -> None:
    """One source: every RLRunConfig / SFTRunConfig field is an option of `train rl` /
    `train sft` with the field's default and help (issue 18: `beta`'s help had drifted from
    the config's, and `train sft`'s seeds, day stride and epochs from SFTRunConfig's)."""
    import dataclasses
    import inspect
    import typing

    from agent.commands.train_lm import train_rl, train_sft
    from policies.lm.configs import RLRunConfig, SFTRunConfig

    command, config, rename = {
        "rl": (train_rl, RLRunConfig, {"steps_per_round": "steps"}),
        "sft": (train_sft, SFTRunConfig, {"drivers": "driver"}),
    }[stage]
    params = inspect.signature(command).parameters
    cfg = config()
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
        if dataclasses.is_dataclass(hints[f.name]):
            continue
        name = rename.get(f.name, f.name)
        p = params[name]
        default = getattr(cfg, f.name)
        if isinstance(default, tuple):
            assert p.default == ",".join(map(str, default)), name
        else:
            assert p.default == default, name
        option = typing.get_args(p.annotation)[1]
        assert option.help == f.metadata["help"], name
    help_text = run("train", stage, "--help").stdout
    assert "--lora" in help_text and "--seeds" in help_text
    res = run("train", stage, "--seeds", "12", check=False)
    assert res.returncode != 0 and "train on seeds 1000 and up" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from envs import MarketSimulator
    from policies.lm.codec import LMCodec
    from policies.lm.model import TinyLMConfig, build_model, save_lm
    from policies.lm.tokenizer import build_tokenizer

    sim = MarketSimulator.from_scenario("steady", seed=0)
    tok = build_tokenizer(LMCodec(sim).prompts(sim.view()))
    model = build_model(tok, TinyLMConfig(hidden_size=16, intermediate_size=32,
                                          num_hidden_layers=1, num_attention_heads=2))
    return save_lm(model, tok, tmp_path_factory.mktemp("ckpt") / "m", {"stage": "test"})


def test_bench_policy_prints_the_shop_day_figure(tiny_checkpoint: Path) -> None:
    out = run("bench", "policy", "--skus", "200", "--days", "1", "--threads", "1",
              "--path", str(tiny_checkpoint), "--json").stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["skus"] == 200 and figures["shop_day_s_200"] > 0
    assert figures["invalid_rate"] == 0.0  # the grammar mask is on


def test_checkpoints_register_once_per_version(tiny_checkpoint: Path, tmp_path: Path) -> None:
    sa = pytest.importorskip("sqlalchemy")
    from typer.testing import CliRunner

    from agent.cli import app

    db = tmp_path / "store.db"
    for _ in range(2):
        res = CliRunner().invoke(app, ["train", "register-lm", str(tiny_checkpoint),
                                       "--db", str(db)])
        assert res.exit_code == 0 and "registered policy lm/" in res.output
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select kind, name, version from model_versions")).fetchall()
    engine.dispose()
    assert len(rows) == 1 and rows[0][0] == "policy" and rows[0][1] == "lm"


def test_bench_lm_grammar_prices_the_grammar_for_an_expert() -> None:
    """The expert through the grammar is what a perfect student would score; on ``classic``
    (order-up-to 1.7 days beyond the lead time) quarter-day levels keep nearly all of it."""
    rows = json.loads(run("bench", "lm-grammar", "--expert", "base_stock_tuned",
                          "--scenarios", "classic", "--seeds", "2", "--jobs", "1",
                          "--json").stdout)
    assert [(r["scenario"], r["seed"]) for r in rows] == [("classic", 0), ("classic", 1)]
    for r in rows:
        assert 0 < r["pct_bound_via_grammar"] <= 100 and 0 < r["pct_bound"] <= 100
        assert abs(r["pct_bound_via_grammar"] - r["pct_bound"]) < 1.5
