"""The agent's tools over a :class:`~tools.shop.Shop` and its :class:`~tools.signals.Signals`.

:class:`ShopToolkit` holds plain methods returning JSON-ready values; the graph calls them in
bulk, and :meth:`ShopToolkit.as_langchain_tools` wraps them as LangChain tools for any
tool-calling model (the chat). Reading tools: ``get_inventory``, ``get_pipeline``,
``get_recent_sales``, ``get_forecast``, ``get_drift_alerts``, ``get_anomalies``,
``get_upcoming_events``, ``check_plan``, ``what_if``. Acting tools: ``place_purchase_order``
and ``set_promotion`` check the line against the rules first and execute only what they
allow, with an idempotency key (a repeated call with the same key is a no-op).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tools.actions import arrays_from_lines, idempotency_key, lines_from_arrays
from tools.errors import ToolInputError
from tools.guardrails import apply_guardrails
from tools.rules import RulesConfig
from tools.shop import Shop
from tools.signals import EmaSignals, Signals

__all__ = ["ShopToolkit"]

_MAX_ROWS = 50


class ShopToolkit:
    """Tools bound to one shop, its signals and rules.

    Args:
        shop: the backend.
        signals: forecasts and alerts (default: the sales-average fallback).
        rules: the hard rules the acting tools enforce.
        run_id: the run whose idempotency keys the acting tools use.
    """

    def __init__(
        self,
        shop: Shop,
        signals: Signals | None = None,
        rules: RulesConfig | None = None,
        run_id: str = "adhoc",
    ) -> None:
        self.shop = shop
        self.signals = signals or EmaSignals()
        self.rules = rules or RulesConfig()
        self.run_id = run_id

    # ------------------------------------------------------------------ helpers
    def _pos(self, sku: str) -> int:
        pos = self.shop.sku_index.get(sku)
        if pos is None:
            raise ToolInputError(f"sku: the shop has no SKU {sku!r}")
        return pos

    def _rows(self, skus: Sequence[str] | None, fields: Mapping[str, np.ndarray]) -> list[dict]:
        idx = (
            [self._pos(s) for s in skus]
            if skus
            else list(range(min(len(self.shop.sku_ids), _MAX_ROWS)))
        )
        ids = self.shop.sku_ids
        return [
            {"sku": ids[i], **{k: round(float(v[i]), 3) for k, v in fields.items()}} for i in idx
        ]

    # ------------------------------------------------------------------ reading
    def get_inventory(self, skus: Sequence[str] | None = None) -> list[dict]:
        """Units on hand, backlog and units near expiry per SKU (first 50 if none named)."""
        v = self.shop.view()
        return self._rows(
            skus, {"on_hand": v.on_hand, "backlog": v.backlog, "expiring_soon": v.expiring_soon}
        )

    def get_pipeline(self, skus: Sequence[str] | None = None) -> list[dict]:
        """Units on order and the lead time of an order placed today, per SKU."""
        v = self.shop.view()
        return self._rows(skus, {"on_order": v.on_order, "lead_time_days": v.lead_time})

    def get_recent_sales(self, skus: Sequence[str] | None = None) -> list[dict]:
        """Yesterday's sales and the 7- and 28-day sales averages per SKU."""
        v = self.shop.view()
        return self._rows(
            skus,
            {
                "last_sales": v.last_sales,
                "avg_7d": v.sales_ema7,
                "avg_28d": v.sales_ema28,
                "discount": v.discount,
            },
        )

    def get_forecast(self, sku: str, horizon: int = 14) -> dict:
        """Expected demand per day and the 10-90% band of the total over ``horizon`` days."""
        if not 1 <= int(horizon) <= 365:
            raise ToolInputError(f"horizon: must be 1..365 days; got {horizon}")
        i = self._pos(sku)
        snap = self.signals.snapshot(self.shop.view(), int(horizon))
        return {
            "sku": sku,
            "horizon": int(horizon),
            "source": snap.source,
            "mean_per_day": round(float(snap.mean_daily[i]), 3),
            "total_band": [round(float(snap.lower[i]), 1), round(float(snap.upper[i]), 1)],
        }

    def get_drift_alerts(self) -> list[dict]:
        """Recent demand drift alerts (SKU, day, relative size)."""
        return self.signals.snapshot(self.shop.view(), 1).alerts

    def get_anomalies(self) -> list[dict]:
        """Unresolved anomaly flags on recent order lines."""
        return self.signals.snapshot(self.shop.view(), 1).anomalies

    def get_upcoming_events(self, horizon: int = 30) -> list[dict]:
        """Known festivals and supplier disruptions within ``horizon`` days."""
        return self.shop.upcoming_events(int(horizon))

    def check_plan(self, lines: Sequence[Mapping[str, Any]]) -> dict:
        """The lines after the rules, and every repair or refusal with its rule."""
        checked, events = self._check(lines)
        return {"allowed": checked, "events": [e.to_dict() for e in events]}

    def what_if(self, lines: Sequence[Mapping[str, Any]], horizon: int = 14) -> dict:
        """Expected profit of the (checked) lines versus no action over ``horizon`` days."""
        checked, _ = self._check(lines)
        w = self.shop.what_if(arrays_from_lines(checked, self.shop.sku_index), int(horizon))
        if w is None:
            return {"available": False}
        return {
            "available": True,
            "horizon": w.horizon,
            "profit_delta": round(w.total, 2),
            "with_plan": round(w.plan_profit, 2),
            "no_action": round(w.base_profit, 2),
        }

    def _check(self, lines: Sequence[Mapping[str, Any]]) -> tuple[list[dict], list]:
        unknown = [ln for ln in lines if ln.get("sku") not in self.shop.sku_index]
        if unknown:
            raise ToolInputError(f"sku: the shop has no SKU {unknown[0].get('sku')!r}")
        arrays = arrays_from_lines(lines, self.shop.sku_index)
        res = apply_guardrails(
            arrays,
            self.shop.view(),
            self.rules,
            self.shop.category_names,
            shop_capacity=self.shop.warehouse_capacity,
        )
        return lines_from_arrays(res.arrays, self.shop.sku_ids), res.events

    # ------------------------------------------------------------------ acting
    def _act(self, line: dict) -> dict:
        checked, events = self._check([line])
        out: dict[str, Any] = {"refusals": [e.to_dict() for e in events]}
        if not checked:
            out["status"] = "refused"
            return out
        final = checked[0]
        key = idempotency_key(self.run_id, self.shop.day, final["sku"], final["kind"])
        out.update(self.shop.execute(final, key))
        out["line"] = final
        return out

    def place_purchase_order(self, sku: str, quantity: int, reason: str = "") -> dict:
        """Order ``quantity`` units of ``sku`` today (checked against the rules first)."""
        self._pos(sku)
        return self._act({"kind": "restock", "sku": sku, "quantity": int(quantity)})

    def set_promotion(
        self, sku: str, discount: float, duration_days: int = 7, reason: str = ""
    ) -> dict:
        """Run ``discount`` off ``sku`` for ``duration_days`` (0 ends a promotion)."""
        self._pos(sku)
        return self._act(
            {
                "kind": "promotion",
                "sku": sku,
                "discount": float(discount),
                "duration_days": int(duration_days),
            }
        )

    # ------------------------------------------------------------------ LangChain
    def as_langchain_tools(self, acting: bool = True) -> list[Any]:
        """The tools as LangChain ``StructuredTool`` objects (``acting=False``: read only)."""
        from langchain_core.tools import StructuredTool

        names = [
            "get_inventory",
            "get_pipeline",
            "get_recent_sales",
            "get_forecast",
            "get_drift_alerts",
            "get_anomalies",
            "get_upcoming_events",
            "check_plan",
            "what_if",
        ]
        if acting:
            names += ["place_purchase_order", "set_promotion"]
        return [StructuredTool.from_function(getattr(self, n), name=n) for n in names]
