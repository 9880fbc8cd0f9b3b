"""Typed errors of the online-signals layer (all subclass :class:`envs.errors.ShopOpsError`)."""

from __future__ import annotations

from envs.errors import ShopOpsError

__all__ = [
    "CheckpointError",
    "EventError",
    "HubConfigError",
    "IngestError",
    "OnlineError",
    "UnknownSkuError",
]


class OnlineError(ShopOpsError):
    """Base class of errors raised by :mod:`online`."""


class EventError(OnlineError, ValueError):
    """One event is malformed. ``field`` names the offending field, ``problem`` says why."""

    def __init__(self, field: str, problem: str, event_id: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.event_id = event_id
        where = f"event {event_id!r}: " if event_id else ""
        super().__init__(f"{where}{field}: {problem}")


class UnknownSkuError(OnlineError, KeyError):
    """A query names a SKU the hub has never seen (register it or send one of its events)."""

    def __init__(self, sku: str) -> None:
        self.sku = sku
        super().__init__(
            f"unknown SKU {sku!r}: register it with SignalHub.register_skus or send one of its "
            "events first"
        )

    def __str__(self) -> str:  # KeyError quotes its argument; we want the sentence
        return str(self.args[0])


class HubConfigError(OnlineError, ValueError):
    """A hub or model configuration value is out of range or inconsistent."""


class CheckpointError(OnlineError, OSError):
    """A checkpoint file is missing, truncated, of another format or of another version."""


class IngestError(OnlineError, ValueError):
    """A file cannot be ingested as a whole (missing file, missing mapped column, bad mapping)."""
