"""Typed errors of the calibration layer."""

from __future__ import annotations

from envs.errors import ShopOpsError

__all__ = ["CalibrationError"]


class CalibrationError(ShopOpsError, ValueError):
    """The history cannot be calibrated (missing columns, no usable series, bad settings).

    The message names what was wrong (the column, the series, the setting) and what to do.
    """
