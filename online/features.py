"""Features of one SKU-period for the demand models, and the shop's festival calendar.

A feature dict (River style) describes a SKU on a period; every key is optional:

==================  =======  ==========================================================
key                 default  meaning
==================  =======  ==========================================================
``sku``             —        the SKU id (required by per-SKU models)
``category``        None     its category (used for an unseen SKU's cold start)
``day``             0        period index; its position in the season is
                             ``(first_dow + day) % season_length``
``discount``        0.0      fraction off list price in force, in [0, 1)
``feature``         False    in the circular / newsletter
``display``         False    on display / front page
``price_ratio``     1.0      list price over its long-run reference
``days_to_festival``  None   periods until the next surge period (0: during one)
``days_since_festival`` None periods since the last surge period ended
==================  =======  ==========================================================

:func:`featurize` turns such a dict into the fixed vector :data:`FEATURES` the models use;
:class:`FestivalCalendar` computes the two festival keys for a category and period.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FEATURES", "FestivalCalendar", "FestivalWindow", "featurize"]

#: Names of the effect features, in vector order. All are 0 on a plain day.
FEATURES: tuple[str, ...] = (
    "log_discount",  # log(1 - discount): the price-elasticity term
    "promo",  # 1 when a discount is running
    "feature",
    "display",
    "festival",  # 1 during a surge period
    "pre_festival",  # 1 in the `window` periods before a surge
    "post_festival",  # 1 in the `window` periods after a surge
    "log_price_ratio",  # log(list price / reference price)
)
N_FEATURES = len(FEATURES)
FESTIVAL_WINDOW = 7


def featurize(x: Mapping[str, object], window: int = FESTIVAL_WINDOW) -> np.ndarray:
    """The effect-feature vector of one SKU-period (missing keys take their defaults).

    >>> featurize({"discount": 0.2, "days_to_festival": 3}).round(3).tolist()
    [-0.223, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    """
    v = np.zeros(N_FEATURES)
    d = float(x.get("discount") or 0.0)
    if d > 0:
        v[0] = math.log1p(-min(d, 0.99))
        v[1] = 1.0
    v[2] = 1.0 if x.get("feature") else 0.0
    v[3] = 1.0 if x.get("display") else 0.0
    dtf = x.get("days_to_festival")
    if dtf is not None:
        dtf = int(dtf)  # type: ignore[call-overload]
        v[4] = 1.0 if dtf == 0 else 0.0
        v[5] = 1.0 if 1 <= dtf <= window else 0.0
    dsf = x.get("days_since_festival")
    if dsf is not None and v[4] == 0.0:
        v[6] = 1.0 if 1 <= int(dsf) <= window else 0.0  # type: ignore[call-overload]
    ratio = x.get("price_ratio")
    if ratio is not None and float(ratio) > 0:  # type: ignore[arg-type]
        v[7] = math.log(float(ratio))  # type: ignore[arg-type]
    return v


class FestivalWindow(BaseModel):
    """A known surge: periods ``start_day`` to ``end_day`` (inclusive) for ``categories``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = "festival"
    start_day: int = Field(ge=0)
    end_day: int = Field(ge=0)
    categories: tuple[str, ...] | None = Field(
        default=None, description="Categories affected; None means every category."
    )

    @model_validator(mode="after")
    def _ordered(self) -> FestivalWindow:
        if self.end_day < self.start_day:
            raise ValueError(
                f"end_day ({self.end_day}) is before start_day ({self.start_day}); "
                "end_day is inclusive, so a one-day festival has end_day == start_day"
            )
        return self


class FestivalCalendar:
    """Days to the next and since the last festival, per category and period."""

    def __init__(self, windows: Sequence[FestivalWindow] = (), window: int = FESTIVAL_WINDOW):
        self.windows = tuple(windows)
        self.window = window

    def features(self, category: str | None, day: int) -> tuple[int | None, int | None]:
        """``(days_to_festival, days_since_festival)`` for ``category`` on ``day``.

        ``days_to_festival`` is 0 during a surge; either is None when there is none.
        """
        to: int | None = None
        since: int | None = None
        for w in self.windows:
            if w.categories is not None and category not in w.categories:
                continue
            if w.start_day <= day <= w.end_day:
                to = 0
            elif day < w.start_day:
                d = w.start_day - day
                to = d if to is None else min(to, d)
            else:
                d = day - w.end_day
                since = d if since is None else min(since, d)
        return to, since

    def matrix(self, categories: Sequence[str | None], day: int) -> np.ndarray:
        """The three festival indicators (festival, pre, post) per category, shape (C, 3)."""
        out = np.zeros((len(categories), 3))
        if not self.windows:
            return out
        for c, name in enumerate(categories):
            to, since = self.features(name, day)
            if to == 0:
                out[c, 0] = 1.0
            else:
                if to is not None and 1 <= to <= self.window:
                    out[c, 1] = 1.0
                if since is not None and 1 <= since <= self.window:
                    out[c, 2] = 1.0
        return out
