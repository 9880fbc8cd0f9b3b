"""Risk of each action and the shop's approval policy: who decides, a rule or a person.

Every checked action gets a score in ``[0, 1]``: the largest of its weighted factors, so each
factor can on its own make an action risky and the card can say which one did:

* ``spend``: order value over ``spend_alert`` (capped at 1);
* ``discount``: discount depth over the SKU's cap;
* ``deviation``: for an order, how far its quantity falls outside what the forecast band
  says is needed over lead time + ``review_days`` (minus stock on hand and on order): from
  ``need`` (at the mean) to ``need_upper`` (at the band's upper edge, plus one minimum order
  quantity for rounding); inside that range scores 0, beyond it the relative excess or
  shortfall (capped at 1);
* ``drift``: size of a recent drift alert on the SKU (a 50% level change scores 0.5);
* ``anomaly``: an unresolved anomaly flag on the SKU (scores 1).

The approval mode decides: ``auto`` executes everything the rules allow; ``confirm`` sends
every action to a person; ``risky`` (default) sends those with ``score >= threshold``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from envs.simulator import ShopView
from tools.signals import SignalSnapshot

__all__ = ["APPROVAL_MODES", "ApprovalPolicy", "RiskWeights", "score_actions"]

APPROVAL_MODES = ("auto", "confirm", "risky")


class RiskWeights(BaseModel):
    """How much each factor counts (a factor's weighted value can reach the threshold alone)."""

    model_config = ConfigDict(extra="forbid")
    spend: float = Field(default=1.0, ge=0, le=1)
    discount: float = Field(default=0.6, ge=0, le=1)
    deviation: float = Field(default=0.6, ge=0, le=1)
    drift: float = Field(default=0.8, ge=0, le=1)
    anomaly: float = Field(default=0.9, ge=0, le=1)


class ApprovalPolicy(BaseModel):
    """The shop's approval policy.

    Attributes:
        mode: ``auto`` | ``confirm`` | ``risky`` (see the module docstring).
        threshold: score from which an action waits for a person in ``risky`` mode.
        spend_alert: order value (currency) that scores 1 on the spend factor.
        review_days: days of demand after the lead time an order is expected to cover.
        deadline_days: shop days a pending action waits before it expires (0: expires at
            the close of its own day).
        whatif_horizon: days simulated for a decision card's expected effect.
        execute_safe_part: in ``risky`` mode, a risky order executes at once up to the part
            that would not be risky on its own (the forecast's need over lead time + review,
            within the spend that scores under the threshold) and only the excess waits for
            a person, so a shop nobody answers for does not starve. ``False``: the whole
            order waits.
        weights: the factors' weights.
    """

    model_config = ConfigDict(extra="forbid")
    mode: Literal["auto", "confirm", "risky"] = "risky"
    threshold: float = Field(default=0.5, gt=0, le=1)
    spend_alert: float = Field(default=2000.0, gt=0)
    review_days: int = Field(default=7, ge=0, le=365)
    deadline_days: int = Field(default=2, ge=0, le=365)
    whatif_horizon: int = Field(default=14, ge=1, le=365)
    execute_safe_part: bool = True
    weights: RiskWeights = Field(default_factory=RiskWeights)


def score_actions(
    order_qty: np.ndarray,
    promo_set: np.ndarray,
    discount: np.ndarray,
    view: ShopView,
    signals: SignalSnapshot,
    policy: ApprovalPolicy,
) -> dict[str, np.ndarray]:
    """Risk factors and scores per SKU for orders and promotions (vectors over SKUs).

    Returns ``{"restock": score, "promotion": score, "need": units, "need_upper": units,
    "cover_days": days,
    "<kind>.<factor>": value...}``; scores are 0 where the plan has no such action.
    """
    w = policy.weights
    fc = np.maximum(signals.mean_daily, 0.0)
    lead = np.asarray(view.lead_time, dtype=float)
    position = np.asarray(view.on_hand, dtype=float) + np.asarray(view.on_order, dtype=float)
    window = lead + policy.review_days
    need = np.maximum(fc * window - position, 0.0)
    upper_rate = np.maximum(signals.upper, 0.0) / max(signals.horizon, 1)
    moq = np.asarray(view.moq, dtype=float)
    need_upper = np.maximum(np.maximum(upper_rate, fc) * window - position, 0.0) + moq
    cover = np.asarray(view.on_hand, dtype=float) / np.maximum(fc, 1e-9)
    cover = np.where(fc > 1e-9, cover, np.inf)
    has_order = order_qty > 0
    value = order_qty * np.asarray(view.unit_cost, dtype=float)
    spend = np.minimum(value / policy.spend_alert, 1.0)
    over = (order_qty - need_upper) / np.maximum(need_upper, 1.0)
    under = (need - order_qty) / np.maximum(need, 1.0)
    dev = np.clip(np.maximum(over, under), 0.0, 1.0)
    dev = np.where(has_order, dev, 0.0)
    drift = np.minimum(np.abs(signals.drift), 1.0)
    anomaly = np.minimum(signals.anomaly, 1.0)
    cap = np.maximum(np.asarray(view.max_discount, dtype=float), 1e-9)
    depth = np.where(promo_set, np.minimum(discount / cap, 1.0), 0.0)
    r_parts = {
        "spend": w.spend * spend,
        "deviation": w.deviation * dev,
        "drift": w.drift * drift,
        "anomaly": w.anomaly * anomaly,
    }
    p_parts = {
        "discount": w.discount * depth,
        "drift": w.drift * drift,
        "anomaly": w.anomaly * anomaly,
    }
    out: dict[str, np.ndarray] = {
        "restock": np.where(has_order, np.max(np.stack(list(r_parts.values())), axis=0), 0.0),
        "promotion": np.where(promo_set, np.max(np.stack(list(p_parts.values())), axis=0), 0.0),
        "need": need,
        "need_upper": need_upper,
        "cover_days": cover,
        "value": value,
    }
    out.update({f"restock.{k}": v for k, v in r_parts.items()})
    out.update({f"promotion.{k}": v for k, v in p_parts.items()})
    return out
