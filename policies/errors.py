"""Typed errors of the policies layer."""

from __future__ import annotations

from envs.errors import ShopOpsError


class PolicyError(ShopOpsError):
    """Base class of errors raised by policies and their training routines."""


class UnknownPolicyError(PolicyError, ValueError):
    """``make_policy`` was given a name that is not registered.

    Attributes:
        name: the name asked for.
        valid: every registered name.
    """

    def __init__(self, name: str, valid: tuple[str, ...]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown policy {name!r}; valid names: {', '.join(valid)}")


class PolicyConfigError(PolicyError, ValueError):
    """A policy's parameters are invalid (the message names the field and the fix)."""


class PolicyArtifactError(PolicyError, FileNotFoundError):
    """A file a policy needs (tuned parameters, a trained model) is missing or unreadable."""
