"""Train stable-baselines3 PPO on ``MarketplaceEnv`` and save everything needed to replay it.

Set-up (read top to bottom in :func:`train_ppo_run`):

* ``n_envs`` copies of the registered Gymnasium env (``shopops/Marketplace-<scenario>-v0``,
  whose ``max_episode_steps`` is the horizon) in a ``DummyVecEnv``, each wrapped in
  ``Monitor`` so raw episode profits are recorded, then ``VecNormalize`` (running mean and
  variance of observations, and of discounted returns for reward scaling).
* **Horizon truncation is bootstrapped, not treated as failure.** The env returns
  ``terminated=False, truncated=True`` at the horizon. SB3 2.9's ``DummyVecEnv`` stores
  ``info["TimeLimit.truncated"] = truncated and not terminated`` and the last observation
  as ``info["terminal_observation"]`` (``VecNormalize`` normalises it too), and
  ``OnPolicyAlgorithm.collect_rollouts`` then adds ``gamma * V(terminal_observation)`` to
  the final reward, so the value target continues past the horizon as if the shop went on.
  ``tests/test_policies_ppo.py`` checks those info keys on the real vectorised env.
* PPO with an MLP policy over the ``MultiDiscrete`` action (order-up-to cover level and
  discount level per SKU).

Outputs in the run folder: ``model.zip``, ``vecnormalize.pkl``, ``curve.csv`` (timesteps,
episode index, episode profit; appended as episodes finish), ``curve.png`` and ``run.json``
(the config, the budget spent, wall time and final figures).
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from pathlib import Path
from typing import Any

from policies.errors import PolicyConfigError

__all__ = ["PPOTrainConfig", "train_ppo_run"]

DEFAULT_ROOT = Path("artifacts") / "ppo"


@dataclasses.dataclass
class PPOTrainConfig:
    """What to train and how.

    Attributes:
        scenario: shipped scenario name to train on (its SKU count fixes the model's size).
        timesteps: total environment steps (days, summed over the parallel envs).
        n_envs: parallel environments.
        seed: training seed; env ``i`` is seeded ``seed + i`` (use seeds >= 1000 to keep
            evaluation seeds unseen).
        out: run folder; default ``artifacts/ppo/<scenario>__<seed>``.
        n_steps: rollout length per env per update (``n_steps * n_envs`` is the batch).
        batch_size: minibatch size (at most ``n_steps * n_envs``; ideally a divisor).
        n_epochs: optimisation epochs per update.
        learning_rate: Adam learning rate.
        gamma: discount factor.
        gae_lambda: GAE lambda.
        ent_coef: entropy bonus.
        net_arch: hidden layer sizes of policy and value networks.
        device: torch device.
        torch_threads: CPU threads for torch (1 is fastest for these small networks;
            more threads contend with the environment loop).
    """

    scenario: str = "steady"
    timesteps: int = 200_000
    n_envs: int = 4
    seed: int = 1000
    out: str | None = None
    n_steps: int = 180
    batch_size: int = 180
    n_epochs: int = 10
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    net_arch: tuple[int, ...] = (256, 256)
    device: str = "cpu"
    torch_threads: int = 1

    def __post_init__(self) -> None:
        checks = [
            (self.timesteps >= 1, f"timesteps must be at least 1; got {self.timesteps}"),
            (self.torch_threads >= 1, f"torch_threads must be >= 1; got {self.torch_threads}"),
            (self.n_envs >= 1, f"n_envs must be at least 1; got {self.n_envs}"),
            (self.n_steps >= 2, f"n_steps must be at least 2; got {self.n_steps}"),
            (self.batch_size >= 2, f"batch_size must be at least 2; got {self.batch_size}"),
            (
                self.batch_size <= self.n_steps * self.n_envs,
                f"batch_size ({self.batch_size}) must not exceed n_steps * n_envs "
                f"({self.n_steps} * {self.n_envs}); lower batch_size or raise n_steps",
            ),
            (0 < self.gamma <= 1, f"gamma must be in (0, 1]; got {self.gamma}"),
            (0 <= self.gae_lambda <= 1, f"gae_lambda must be in [0, 1]; got {self.gae_lambda}"),
            (self.learning_rate > 0, f"learning_rate must be > 0; got {self.learning_rate}"),
            (all(h > 0 for h in self.net_arch), f"net_arch sizes must be > 0: {self.net_arch}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise PolicyConfigError(msg)
        from envs.scenario import load_scenario

        self._spec = load_scenario(self.scenario)  # raises ScenarioError naming the problem

    @property
    def run_dir(self) -> Path:
        """The folder the run writes to."""
        return Path(self.out) if self.out else DEFAULT_ROOT / f"{self.scenario}__{self.seed}"

    def to_json(self) -> dict[str, Any]:
        """The config as plain JSON."""
        d = dataclasses.asdict(self)
        d["net_arch"] = list(self.net_arch)
        return d


def env_id(scenario: str) -> str:
    """The registered Gymnasium id of a shipped scenario."""
    if scenario == "steady":
        return "shopops/Marketplace-v0"
    return f"shopops/Marketplace-{scenario}-v0"


def make_vec_env(scenario: str, n_envs: int, seed: int):
    """``DummyVecEnv`` of ``n_envs`` monitored envs of ``scenario`` (not yet normalised)."""
    import gymnasium as gym
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    import envs  # noqa: F401  (registers the ids)

    def factory(i: int):
        def _make():
            env = Monitor(gym.make(env_id(scenario)))
            env.reset(seed=seed + i)
            return env

        return _make

    venv = DummyVecEnv([factory(i) for i in range(n_envs)])
    venv.seed(seed)
    return venv


def train_ppo_run(cfg: PPOTrainConfig, progress: bool = False) -> dict[str, Any]:
    """Train PPO as ``cfg`` says, save model, normaliser, curve and summary; return summary."""
    import numpy as np
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(cfg.torch_threads)
    out = cfg.run_dir
    out.mkdir(parents=True, exist_ok=True)
    venv = VecNormalize(
        make_vec_env(cfg.scenario, cfg.n_envs, cfg.seed),
        norm_obs=True,
        norm_reward=True,
        gamma=cfg.gamma,
    )
    rows: list[tuple[int, int, float]] = []

    curve_path = out / "curve.csv"
    curve_path.write_text("timesteps,episode,episode_profit\n", encoding="utf-8")

    class _Curve(BaseCallback):
        """Append each finished episode's raw profit to ``curve.csv`` as training goes."""

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", ()):
                ep = info.get("episode")
                if ep is not None:
                    rows.append((self.num_timesteps, len(rows), float(ep["r"])))
                    with curve_path.open("a", encoding="utf-8") as fh:
                        fh.write(f"{rows[-1][0]},{rows[-1][1]},{rows[-1][2]:.2f}\n")
            return True

    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=cfg.n_steps,
        batch_size=cfg.batch_size,
        n_epochs=cfg.n_epochs,
        learning_rate=cfg.learning_rate,
        gamma=cfg.gamma,
        gae_lambda=cfg.gae_lambda,
        ent_coef=cfg.ent_coef,
        policy_kwargs={"net_arch": list(cfg.net_arch)},
        seed=cfg.seed,
        device=cfg.device,
        verbose=0,
    )
    before = [p.detach().clone() for p in model.policy.parameters()]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="rich is experimental")
        model.learn(total_timesteps=cfg.timesteps, callback=_Curve(), progress_bar=progress)
    seconds = time.perf_counter() - t0
    change = float(
        sum(
            ((p.detach() - b) ** 2).sum()
            for p, b in zip(model.policy.parameters(), before, strict=True)
        )
        ** 0.5
    )
    model.save(out / "model.zip")
    venv.save(str(out / "vecnormalize.pkl"))
    _write_curve(out, rows)
    profits = [r[2] for r in rows]
    tail = profits[-max(1, min(10, len(profits))) :] if profits else []
    summary = {
        "out": str(out),
        "config": cfg.to_json(),
        "timesteps": int(model.num_timesteps),
        "seconds": seconds,
        "episodes": len(rows),
        "last_mean_episode_profit": float(np.mean(tail)) if tail else float("nan"),
        "first_episode_profit": profits[0] if profits else None,
        "n_skus": int(cfg._spec.n_skus),
        "param_change_l2": change,
        "truncation": "bootstrapped by SB3 (TimeLimit.truncated + terminal_observation)",
    }
    (out / "run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    venv.close()
    return summary


def _write_curve(out: Path, rows: list[tuple[int, int, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    if rows:
        x = [r[0] for r in rows]
        y = [r[2] for r in rows]
        ax.plot(x, y, ".", alpha=0.4, label="episode profit")
        k = max(1, len(y) // 20)
        if len(y) >= k:
            import numpy as np

            smooth = np.convolve(y, np.ones(k) / k, mode="valid")
            ax.plot(x[k - 1 :], smooth, "-", label=f"mean of {k}")
        ax.legend()
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode profit")
    ax.set_title(out.name)
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=100)
    plt.close(fig)
