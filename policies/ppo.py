"""A trained stable-baselines3 PPO model as a :class:`~policies.base.Policy`.

``PPOPolicy(path=...)`` loads ``model.zip`` and ``vecnormalize.pkl`` from a run folder
written by ``shopops train ppo`` (:mod:`policies.ppo_train`). Each day it builds the same
observation the Gymnasium env would (``MarketplaceEnv``'s encoding of the simulator's
morning), normalises it with the frozen training statistics, takes the model's
deterministic action and decodes it to :class:`~envs.plan.PlanArrays`. The model was
trained for one catalogue size; a simulator with a different number of SKUs is refused.

Without a ``path`` (the ``ppo`` baseline of ``shopops eval`` and ``shopops bench lm-eval``)
the folder is chosen for each simulator: the scenario's own run,
``artifacts/ppo/<scenario>__1000`` (``shopops train ppo --scenario <scenario>``), else the
``scenario`` argument's (``steady``), which fits every 30-SKU scenario.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from envs.plan import PlanArrays
from envs.simulator import MarketSimulator, ShopView
from policies.errors import PolicyArtifactError, PolicyConfigError

__all__ = ["PPOPolicy"]


def _default_folder(scenario: str) -> Path:
    return Path("artifacts") / "ppo" / f"{scenario}__1000"


def _check_folder(path: Path, scenario: str) -> None:
    for f in ("model.zip", "vecnormalize.pkl"):
        if not (path / f).exists():
            raise PolicyArtifactError(
                f"{path / f}: missing; train first with "
                f"`shopops train ppo --scenario {scenario} --out {path}`"
            )


class PPOPolicy:
    """Replay a trained PPO run.

    Args:
        path: the run folder; ``None``: the simulated scenario's own
            ``artifacts/ppo/<name>__1000`` if it exists, else ``scenario``'s.
        scenario: the fallback folder's scenario.
        deterministic: take the most likely action (default) or sample.

    Raises:
        PolicyArtifactError: the folder lacks ``model.zip`` or ``vecnormalize.pkl``.
    """

    name = "ppo"

    def __init__(
        self, path: str | Path | None = None, scenario: str = "steady", deterministic: bool = True
    ) -> None:
        self.explicit = bool(path)
        self.scenario = scenario
        self.path = Path(path) if path else _default_folder(scenario)
        self.deterministic = deterministic
        if self.explicit:
            _check_folder(self.path, scenario)
        self._model = None
        self._obs_mean = self._obs_var = None
        self._env = None

    def _load(self, sim: MarketSimulator) -> None:
        import pickle

        from stable_baselines3 import PPO

        self._model = PPO.load(self.path / "model.zip", device="cpu")
        with (self.path / "vecnormalize.pkl").open("rb") as fh:
            vn = pickle.load(fh)
        self._obs_mean = np.asarray(vn.obs_rms.mean, dtype=np.float64)
        self._obs_var = np.asarray(vn.obs_rms.var, dtype=np.float64)
        self._clip = float(vn.clip_obs)
        self._eps = float(vn.epsilon)
        run = self.path / "run.json"
        self.run_info = json.loads(run.read_text()) if run.exists() else {}

    def reset(self, sim: MarketSimulator) -> None:
        from envs.marketplace import MarketplaceEnv

        if not self.explicit:
            own = _default_folder(sim.spec.name)
            folder = own if (own / "model.zip").exists() else _default_folder(self.scenario)
            if folder != self.path or self._model is None:
                _check_folder(folder, sim.spec.name if folder == own else self.scenario)
                self.path, self._model = folder, None
        if self._model is None:
            self._load(sim)
        expected = self._model.observation_space.shape[0]
        env = MarketplaceEnv(sim.spec)
        if env.observation_space.shape[0] != expected:
            raise PolicyConfigError(
                f"the PPO model in {self.path} expects {expected} observation features "
                f"but scenario {sim.spec.name!r} ({sim.n} SKUs) gives "
                f"{env.observation_space.shape[0]}; train a model for this scenario"
            )
        env.sim = sim
        self._env = env
        self._sim_id = id(sim)

    def act(self, view: ShopView, sim: MarketSimulator) -> PlanArrays:
        if self._env is None or getattr(self, "_sim_id", None) != id(sim):
            self.reset(sim)
        obs = self._env._observe().astype(np.float64)
        norm = np.clip(
            (obs - self._obs_mean) / np.sqrt(self._obs_var + self._eps), -self._clip, self._clip
        ).astype(np.float32)
        action, _ = self._model.predict(norm, deterministic=self.deterministic)
        return self._env.decode_action(np.asarray(action))
