"""SB3 PPO on the Gymnasium env: truncation handling, a tiny training run, save and reload."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from envs import MarketSimulator
from policies.errors import PolicyArtifactError, PolicyConfigError
from policies.ppo_train import PPOTrainConfig, make_vec_env
from policies.registry import make_policy
from policies.rollout import rollout


def test_horizon_end_reaches_sb3_as_a_bootstrappable_truncation():
    venv = make_vec_env("steady", n_envs=1, seed=1000)
    venv.reset()
    horizon = MarketSimulator.from_scenario("steady").spec.horizon_days
    for day in range(horizon):
        _, _, dones, infos = venv.step(np.array([venv.action_space.sample()]))
        if day < horizon - 1:
            assert not dones[0]
    assert dones[0]
    # What OnPolicyAlgorithm.collect_rollouts needs to add gamma * V(terminal_obs).
    assert infos[0]["TimeLimit.truncated"] is True
    assert infos[0]["terminal_observation"].shape == venv.observation_space.shape
    assert infos[0]["episode"]["l"] == horizon
    venv.close()


def test_config_errors_name_the_values():
    with pytest.raises(PolicyConfigError, match=r"batch_size \(500\).*n_steps \* n_envs"):
        PPOTrainConfig(n_steps=90, n_envs=2, batch_size=500)
    with pytest.raises(PolicyConfigError, match="timesteps"):
        PPOTrainConfig(timesteps=0)


@pytest.mark.slow  # ~10 s alone, more on a busy machine
def test_tiny_training_saves_curve_and_model_that_reloads(tmp_path, monkeypatch):
    from agent.cli import app

    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "ppo",
            "--scenario",
            "steady",
            "--timesteps",
            "360",
            "--n-envs",
            "2",
            "--n-steps",
            "90",
            "--batch-size",
            "90",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("model.zip", "vecnormalize.pkl", "curve.csv", "curve.png", "run.json"):
        assert (out / name).stat().st_size > 0, name
    run = json.loads((out / "run.json").read_text())
    assert run["timesteps"] >= 360
    assert run["config"]["timesteps"] == 360
    assert run["param_change_l2"] > 0  # the optimiser really moved the weights
    rows = list(csv.DictReader((out / "curve.csv").open()))
    assert len(rows) == 2  # two envs x one 180-day episode each
    assert all(np.isfinite(float(r["episode_profit"])) for r in rows)

    policy = make_policy("ppo", path=out)
    a = rollout(policy, "steady", 5, days=20)
    b = rollout(make_policy("ppo", path=out), "steady", 5, days=20)
    assert a.profit == b.profit  # deterministic replay of the saved model
    with pytest.raises(PolicyConfigError, match="1 SKUs"):
        policy.reset(MarketSimulator.from_scenario("classic", seed=0))

    # without a path: each scenario's own run, else the steady one
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(out, tmp_path / "artifacts" / "ppo" / "steady__1000")
    shutil.copytree(out, tmp_path / "artifacts" / "ppo" / "festival__1000")
    default = make_policy("ppo")
    default.reset(MarketSimulator.from_scenario("festival", seed=0))
    assert default.path == Path("artifacts/ppo/festival__1000")
    default.reset(MarketSimulator.from_scenario("drift", seed=0))
    assert default.path == Path("artifacts/ppo/steady__1000")
    with pytest.raises(PolicyConfigError, match="train a model for this scenario"):
        default.reset(MarketSimulator.from_scenario("classic", seed=0))


def test_missing_model_is_a_typed_error(tmp_path):
    with pytest.raises(PolicyArtifactError, match=r"model\.zip.*shopops train ppo"):
        make_policy("ppo", path=tmp_path)
