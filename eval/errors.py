"""Typed errors of the evaluation layer."""

from __future__ import annotations

from envs.errors import ShopOpsError

__all__ = ["EpisodeFailedError", "EvalConfigError", "EvalError", "KpiError", "SplitError"]


class EvalError(ShopOpsError):
    """Base class of errors raised by ``eval/``."""


class EvalConfigError(EvalError, ValueError):
    """An evaluation was asked for with invalid arguments (the message names the field)."""


class SplitError(EvalError, ValueError):
    """An evaluation would report on seeds or scenarios reserved for tuning and training.

    Attributes:
        seeds: the offending seeds.
    """

    def __init__(self, message: str, seeds: tuple[int, ...] = ()) -> None:
        self.seeds = seeds
        super().__init__(message)

    def __reduce__(self) -> tuple:  # crosses process boundaries intact
        return (type(self), (str(self), self.seeds))


class KpiError(EvalError, ValueError):
    """KPIs were asked of no days, or of days whose arrays do not match the catalogue."""


class EpisodeFailedError(EvalError, RuntimeError):
    """One evaluation episode raised; the message names the policy, scenario and seed.

    Attributes:
        policy, scenario, seed: the failed run.
        detail: the original error's traceback text (it may come from a worker process).
    """

    def __init__(self, policy: str, scenario: str, seed: int, error: str, detail: str) -> None:
        self.policy = policy
        self.scenario = scenario
        self.seed = seed
        self.error = error
        self.detail = detail
        super().__init__(f"policy {policy!r} on scenario {scenario!r}, seed {seed}: {error}")

    def __reduce__(self) -> tuple:  # crosses process boundaries intact
        return (type(self), (self.policy, self.scenario, self.seed, self.error, self.detail))
