"""Typed errors of the language-model policy (all are :class:`~policies.errors.PolicyError`)."""

from __future__ import annotations

from policies.errors import PolicyArtifactError, PolicyConfigError, PolicyError

__all__ = ["GrammarError", "LMArtifactError", "LMConfigError", "LMError", "TrainingDataError"]


class LMError(PolicyError):
    """Base class of errors raised by :mod:`policies.lm`."""


class GrammarError(LMError, ValueError):
    """A decision outside the completion grammar was asked to be written."""


class LMConfigError(LMError, PolicyConfigError):
    """A training or inference option is invalid (the message names the field and the fix)."""


class LMArtifactError(LMError, PolicyArtifactError):
    """A checkpoint, tokenizer or feedback database is missing or unreadable."""


class TrainingDataError(LMError, ValueError):
    """Training data is empty or malformed (no demonstrations, no preference pairs...)."""
