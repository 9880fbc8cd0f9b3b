"""Settings of a calibration run (:class:`CalibrationConfig`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["CalibrationConfig"]


class CalibrationConfig(BaseModel):
    """How the twin is fitted and validated. Every field has a safe default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    holdout_weeks: int = Field(
        default=26, ge=0, le=520,
        description="Final weeks kept out of the fit for the twin validation (0: no hold-out).",
    )
    min_weeks: int = Field(
        default=26, ge=4,
        description="Weeks with positive sales a series needs for its own price slope; "
        "thinner series take their category's pooled values.",
    )
    list_window_weeks: int = Field(
        default=13, ge=1,
        description="The list (regular) price is the median regular price of this many final "
        "training weeks.",
    )
    fit_trend: Literal["auto", "yes", "no"] = Field(
        default="auto",
        description="Fit an annual trend per series; auto: only with at least 78 weeks of "
        "history (a shorter history cannot tell trend from yearly seasonality).",
    )
    trend_limits: tuple[float, float] = Field(
        default=(-0.5, 1.0), description="Clip of the fitted annual growth rate."
    )
    elasticity_limits: tuple[float, float] = Field(
        default=(-6.0, -0.05),
        description="Clip of the fitted own-price elasticity (the simulator needs <= 0).",
    )
    dispersion_limits: tuple[float, float] = Field(
        default=(0.3, 200.0), description="Clip of the weekly negative-binomial shape."
    )
    assumed_margin: float = Field(
        default=0.3, gt=0, lt=0.95,
        description="Gross margin used for unit costs when the history has none.",
    )
    unknown_promo_lift: float = Field(
        default=0.5, ge=0,
        description="promo_lift_per_depth written when the history has no promotion flags "
        "(the lift is then not identifiable).",
    )
    horizon_days: int = Field(default=365, ge=7, description="Horizon of the written scenario.")
    lead_time_days: int = Field(default=7, ge=0, le=120, description="Assumed supplier lead time.")
    bootstrap: int = Field(default=1000, ge=50, description="Bootstrap draws for median CIs.")
    seeds: int = Field(default=100, ge=10, description="Simulated futures in the validation.")
    interval: float = Field(default=0.8, gt=0, lt=1, description="Central interval to check.")
    seed: int = Field(default=0, ge=0, description="Seed of bootstraps and simulations.")

    @model_validator(mode="after")
    def _limits(self) -> CalibrationConfig:
        for name in ("trend_limits", "elasticity_limits", "dispersion_limits"):
            lo, hi = getattr(self, name)
            if lo >= hi:
                raise ValueError(f"{name}: low ({lo}) must be below high ({hi})")
        if self.elasticity_limits[1] > 0:
            raise ValueError(
                f"elasticity_limits: the simulator needs elasticities <= 0; "
                f"got high={self.elasticity_limits[1]}"
            )
        return self
