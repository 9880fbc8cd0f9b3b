"""Twin replay of weeks a plan cannot express: displays without a price cut lift real demand
by a known factor; the replay carries the fitted lift through the demand level and beats
the discount-only replay, which sells those weeks at the plain level."""

from __future__ import annotations

import numpy as np
import pandas as pd

from envs.calibration.config import CalibrationConfig
from envs.calibration.fit import fit_weekly
from envs.calibration.panel import split_holdout, validate_panel
from envs.calibration.twin import validate_twin

N, WEEKS, LIFT = 30, 90, 0.7


def test_display_without_discount_is_replayed() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(N):
        disp = rng.random(WEEKS) < 0.25
        rel = np.exp(rng.normal(0.0, 0.08, WEEKS))  # prices move both ways around list
        mu = 20.0 * rel**-1.5 * np.exp(LIFT * disp)
        units = rng.negative_binomial(20.0, 20.0 / (20.0 + mu))
        for w in range(WEEKS):
            rows.append({"series": f"s{i}", "category": "c", "units": float(units[w]),
                         "period": pd.Timestamp("2022-01-03") + pd.Timedelta(weeks=w),
                         "price": 5.0 * rel[w], "list_price": 5.0, "display": float(disp[w])})
    train, hold, t0 = split_holdout(validate_panel(pd.DataFrame(rows)), 20)
    cfg = CalibrationConfig(holdout_weeks=20, fit_trend="no", seeds=30, bootstrap=100)
    fit = fit_weekly(train, t0, cfg)
    assert abs(fit.headline["display_log_lift"] - LIFT) < 0.08
    s = validate_twin(fit, train, hold).summary
    assert s["weeks_feature_or_display_without_discount"] > 0
    assert s["weeks_above_list_price"] > 0
    assert s["wape"] < s["discount_only"]["wape"] - 0.05, s
    assert abs(s["bias"]) < 0.05 < abs(s["discount_only"]["bias"]), s
    assert 0.7 <= s["coverage"] <= 0.95
