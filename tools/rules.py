"""Hard rules a plan must obey, whatever the policy said: the rules file.

A rules file is YAML (every field optional; these are the defaults)::

    max_spend_per_day: null        # purchase-order value per day (currency); null: no cap
    max_spend_per_week: null       # per shop week (Monday to Sunday), including earlier days
    cash: null                     # cash available for purchase orders today
    max_discount: 0.5              # global discount cap (the catalogue's cap also applies)
    min_margin: 0.0                # price after discount >= unit cost x (1 + min_margin)
    allow_clearance_below_cost: true   # expiring perishables may sell under cost
    max_promotion_days: 28
    max_cover_days: 120            # an order may not lift stock beyond this many days of sales
    max_units_per_order: null      # per order line
    warehouse_capacity: null       # units on hand + on order; null: the shop's own limit
    enforce_moq: true              # raise orders below the supplier minimum to it
    categories:                    # per-category overrides, by category name
      electronics: {max_discount: 0.3, max_units_per_order: 200}
      fresh: {allow_promotions: false}

Rule ids (recorded with every repair or refusal): ``input.unknown_sku``,
``input.invalid``, ``input.unparsed``, ``category.no_restock``, ``category.no_promotions``,
``kb.stop_sale``, ``kb.promotion_ban``, ``kb.discount_cap`` (the knowledge base's hard
directives, :mod:`tools.knowledge`),
``discount.cap``, ``promotion.duration``, ``price.floor``, ``order.max_units``,
``order.max_cover_days``, ``moq.minimum``, ``budget.cash``, ``budget.daily``,
``budget.weekly``, ``capacity.warehouse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envs.config_files import load_model_file
from tools.errors import RulesError

__all__ = ["RULE_IDS", "CategoryRules", "RulesConfig", "load_rules"]

RULE_IDS = (
    "input.unknown_sku",
    "input.invalid",
    "input.unparsed",
    "category.no_restock",
    "category.no_promotions",
    "kb.stop_sale",
    "kb.promotion_ban",
    "kb.discount_cap",
    "discount.cap",
    "promotion.duration",
    "price.floor",
    "order.max_units",
    "order.max_cover_days",
    "moq.minimum",
    "budget.cash",
    "budget.daily",
    "budget.weekly",
    "capacity.warehouse",
)


class CategoryRules(BaseModel):
    """Overrides for one category; ``None`` keeps the global value."""

    model_config = ConfigDict(extra="forbid")
    max_discount: float | None = Field(default=None, ge=0, lt=1, description="Discount cap.")
    min_margin: float | None = Field(default=None, ge=-1, description="Price-floor margin.")
    allow_promotions: bool = Field(default=True, description="False: no promotions at all.")
    allow_restock: bool = Field(default=True, description="False: no purchase orders.")
    max_units_per_order: int | None = Field(default=None, ge=1, description="Per order line.")


class RulesConfig(BaseModel):
    """The shop's hard rules (see the module docstring for the file format)."""

    model_config = ConfigDict(extra="forbid")
    max_spend_per_day: float | None = Field(default=None, ge=0, description="PO value per day.")
    max_spend_per_week: float | None = Field(default=None, ge=0, description="PO value per week.")
    cash: float | None = Field(default=None, ge=0, description="Cash for purchase orders.")
    max_discount: float = Field(default=0.5, ge=0, lt=1, description="Global discount cap.")
    min_margin: float = Field(default=0.0, ge=-1, description="Floor: cost x (1 + min_margin).")
    allow_clearance_below_cost: bool = Field(
        default=True, description="Expiring perishables may be discounted under cost."
    )
    max_promotion_days: int = Field(default=28, ge=1, le=365, description="Longest promotion.")
    max_cover_days: float = Field(default=120.0, gt=0, description="Max days of sales ordered.")
    max_units_per_order: int | None = Field(default=None, ge=1, description="Per order line.")
    warehouse_capacity: float | None = Field(default=None, gt=0, description="Units in total.")
    enforce_moq: bool = Field(default=True, description="Raise orders to the supplier minimum.")
    categories: dict[str, CategoryRules] = Field(default_factory=dict)

    def check_categories(self, known: Sequence[str], source: str = "rules") -> None:
        """Raise :class:`RulesError` if a per-category entry names an unknown category."""
        unknown = sorted(set(self.categories) - set(known))
        if unknown:
            raise RulesError(
                f"{source}: categories.{unknown[0]}: no such category in this shop; "
                f"known categories: {', '.join(known)}"
            )


def load_rules(path: str | Path | None) -> RulesConfig:
    """Read and validate a rules file (``None``: the defaults).

    Raises:
        RulesError: the file is missing, not YAML, or a field is invalid (the message names
            the file and the field, and says what is allowed).
    """
    if path is None:
        return RulesConfig()
    return load_model_file(
        Path(path), RulesConfig, RulesError, "rules file",
        hint="; pass an existing file or omit --rules",
    )
