"""The marketplace simulator: scenarios, the numpy core, and the Gymnasium environment.

Importing this package registers ``shopops/Marketplace-v0`` (the steady scenario) and one id
per shipped scenario, ``shopops/Marketplace-<name>-v0``, each with ``max_episode_steps``
equal to the scenario's horizon.
"""

from __future__ import annotations

from envs.errors import PlanError, ScenarioError, ShopOpsError
from envs.plan import Plan, PlanArrays, Promotion, RestockOrder
from envs.scenario import ScenarioSpec, load_scenario, parse_scenario
from envs.simulator import COST_TERMS, DayResult, MarketSimulator, ShopView

__all__ = [
    "COST_TERMS",
    "DayResult",
    "MarketSimulator",
    "Plan",
    "PlanArrays",
    "PlanError",
    "Promotion",
    "RestockOrder",
    "ScenarioError",
    "ScenarioSpec",
    "ShopOpsError",
    "ShopView",
    "load_scenario",
    "parse_scenario",
    "registered_ids",
]


def _register() -> list[str]:
    import gymnasium as gym

    from scenarios import scenario_names

    ids = []
    # Horizons are read lazily from the files at make() time would need a loader; the shipped
    # files are small, so read them here once.
    for name in scenario_names():
        env_id = "shopops/Marketplace-v0" if name == "steady" else f"shopops/Marketplace-{name}-v0"
        if env_id not in gym.registry:
            spec = load_scenario(name)
            gym.register(
                id=env_id,
                entry_point="envs.marketplace:MarketplaceEnv",
                max_episode_steps=spec.horizon_days,
                kwargs={"scenario": name},
            )
        ids.append(env_id)
    return ids


_REGISTERED = _register()


def registered_ids() -> list[str]:
    """Every Gymnasium id this package registered."""
    return list(_REGISTERED)
