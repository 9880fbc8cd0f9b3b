"""Every registered configuration passes Gymnasium's and stable-baselines3's env checkers."""

from __future__ import annotations

import warnings

import gymnasium as gym
import pytest

import envs


@pytest.mark.parametrize("env_id", envs.registered_ids())
def test_check_env_without_warnings(env_id: str) -> None:
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env, warn=True, skip_render_check=True)
    env.close()


def test_registration_truncates_at_the_scenario_horizon() -> None:
    env = gym.make("shopops/Marketplace-v0")
    env.reset(seed=0)
    horizon = env.unwrapped.scenario.horizon_days
    assert env.spec.max_episode_steps == horizon
    a = env.action_space.sample()
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated):
        _, _, terminated, truncated, _ = env.step(a)
        steps += 1
    assert steps == horizon
    assert truncated and not terminated  # a shop does not end: the horizon is a truncation


def test_observation_inside_space_and_reward_is_profit() -> None:
    env = gym.make("shopops/Marketplace-fresh-v0")
    obs, info = env.reset(seed=3)
    assert env.observation_space.contains(obs)
    for _ in range(20):
        obs, reward, _, _, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        b = info["breakdown"]
        costs = sum(b[k] for k in envs.COST_TERMS)
        assert reward == pytest.approx(b["revenue"] - costs)
