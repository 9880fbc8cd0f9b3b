"""Every policy by name: ``make_policy("base_stock")`` and the list of valid names.

The registry is the one place the evaluation harness, the agent and the CLI get policies
from. Factories import their module only when called, so importing the registry is cheap
(no torch, no stable-baselines3 until ``make_policy("ppo")``).

Names:

* ``do_nothing``: never orders or promotes (the floor).
* ``naive``: reorders last week's sales every Monday (:mod:`policies.naive`).
* ``base_stock``: periodic-review order-up-to heuristic with markdowns, default parameters
  (:mod:`policies.base_stock`).
* ``base_stock_tuned``: the same with parameters tuned per category on training seeds
  (``policies/tuned/<scenario>.json``); the serious baseline.
* ``mpc``: lookahead planner over sampled futures (:mod:`policies.mpc`).
* ``oracle``: clairvoyant upper bound, reads the realised future (:mod:`policies.oracle`).
* ``ppo``: a stable-baselines3 PPO model trained with ``shopops train ppo``
  (:mod:`policies.ppo`).
* ``lm``: the language-model policy, the shipped checkpoint by default
  (:mod:`policies.lm.policy`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from policies.errors import UnknownPolicyError

__all__ = ["ANTICIPATING", "POLICY_INFO", "POLICY_NAMES", "make_policy"]


def _do_nothing(**kw: Any):
    from policies.base import DoNothing

    _no_kwargs("do_nothing", kw)
    return DoNothing()


def _naive(**kw: Any):
    from policies.naive import NaiveReorder

    return NaiveReorder(**kw)


def _base_stock(**kw: Any):
    from policies.base_stock import BaseStockPolicy

    return BaseStockPolicy(**kw)


def _base_stock_tuned(**kw: Any):
    from policies.base_stock import TunedBaseStockPolicy

    return TunedBaseStockPolicy(**kw)


def _mpc(**kw: Any):
    from policies.mpc import MPCPolicy

    return MPCPolicy(**kw)


def _oracle(**kw: Any):
    from policies.oracle import OraclePolicy

    return OraclePolicy(**kw)


def _ppo(**kw: Any):
    from policies.ppo import PPOPolicy

    return PPOPolicy(**kw)


def _lm(**kw: Any):
    from policies.lm.policy import LMPolicy

    return LMPolicy(**kw)


def _no_kwargs(name: str, kw: dict[str, Any]) -> None:
    if kw:
        from policies.errors import PolicyConfigError

        raise PolicyConfigError(f"policy {name!r} takes no options; got {sorted(kw)}")


_FACTORIES: dict[str, Callable[..., Any]] = {
    "do_nothing": _do_nothing,
    "naive": _naive,
    "base_stock": _base_stock,
    "base_stock_tuned": _base_stock_tuned,
    "mpc": _mpc,
    "oracle": _oracle,
    "ppo": _ppo,
    "lm": _lm,
}

#: Every registered policy name, in the order reports list them.
POLICY_NAMES: tuple[str, ...] = tuple(_FACTORIES)

#: One line per policy, for tables and ``--help`` texts.
POLICY_INFO: dict[str, str] = {
    "do_nothing": "never orders or promotes",
    "naive": "reorders last week's sales every Monday, no promotions",
    "base_stock": "order-up-to forecast over lead time + review + safety stock; markdowns",
    "base_stock_tuned": "base_stock with per-category parameters tuned on training seeds",
    "mpc": "lookahead planner: candidate plans scored on sampled futures (forks)",
    "oracle": "clairvoyant upper bound: knows the realised demand noise",
    "ppo": "stable-baselines3 PPO trained on the Gymnasium env",
    "lm": "small causal LM (imitates the MPC expert, then RL) deciding per SKU in a grammar",
}

#: Policies that read the realised future (their profit is a bound, not a result).
ANTICIPATING: frozenset[str] = frozenset({"oracle"})


def make_policy(name: str, **kwargs: Any):
    """Build the policy registered as ``name`` with its options ``kwargs``.

    Raises:
        UnknownPolicyError: ``name`` is not one of :data:`POLICY_NAMES` (the message lists them).
        PolicyConfigError: an option is invalid (the message names it).
        PolicyArtifactError: a file the policy needs (tuned parameters, a model) is missing.
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        raise UnknownPolicyError(name, POLICY_NAMES)
    return factory(**kwargs)
