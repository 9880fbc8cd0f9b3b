"""Typed errors of the reading LLM (all are :class:`~policies.errors.PolicyError`)."""

from __future__ import annotations

from policies.errors import PolicyError

__all__ = ["LlmError", "ReaderError"]


class LlmError(PolicyError):
    """The LLM or its adapter is missing, unreadable, or a model option is invalid."""


class ReaderError(LlmError, ValueError):
    """A text could not be read into directives (the message says which part and why)."""
