"""One generic contract, run over every online model (River's style of estimator checks).

Each model gets the same checks: it learns (predictions move), ``clone()`` is a fresh model
with the same configuration, a pickle round trip restores identical predictions (and both
copies stay identical while learning on), feature order does not matter, missing optional
features and unseen SKUs are answered without error, and learning never mutates ``x``.
"""

from __future__ import annotations

import copy
import math
import pickle
import random

import pytest

from online.anomaly import AnomalyConfig, OrderAnomalyScorer
from online.drift import DriftConfig, DriftMonitor
from online.forecaster import DemandForecaster, ForecasterConfig
from online.protocol import OnlineModel


def _forecaster_stream(rng: random.Random):
    for day in range(80):
        for sku, cat, base in (
            ("tea", "pantry", 12.0),
            ("rice", "pantry", 4.0),
            ("tv", "tech", 1.0),
        ):
            disc = 0.2 if day % 17 < 3 else 0.0
            x = {
                "sku": sku,
                "category": cat,
                "day": day,
                "discount": disc,
                "days_to_festival": 40 - day if day <= 40 else None,
            }
            mean = base * (1.0 + 0.3 * (day % 7 == 5)) * (1.0 - disc) ** -1.8
            yield x, float(sum(rng.random() < mean / 20 for _ in range(20)))


def _drift_stream(rng: random.Random):
    for day in range(120):
        for sku in ("a", "b"):
            shift = 2.0 if (sku == "a" and day >= 70) else 0.0
            yield {"sku": sku, "day": day}, rng.gauss(shift, 1.0)


def _anomaly_stream(rng: random.Random):
    for k in range(200):
        sku = ("mug", "cup", "pan")[k % 3]
        yield {"sku": sku, "category": "home", "quantity": float(rng.randint(1, 4))}, None


def _forecaster_queries():
    return [
        {"sku": "tea", "day": 80},
        {"sku": "tea", "day": 81, "discount": 0.3},
        {"sku": "tv", "day": 85, "feature": True, "display": True},
        {"sku": "rice", "day": 82, "days_to_festival": 0, "price_ratio": 1.1},
    ]


CASES = {
    "forecaster": (
        lambda: DemandForecaster(ForecasterConfig(alpha=0.1)),
        _forecaster_stream,
        _forecaster_queries,
        {"sku": "new-sku", "category": "pantry", "day": 90},
    ),
    "drift": (
        lambda: DriftMonitor(DriftConfig(grace_periods=5)),
        _drift_stream,
        lambda: [{"sku": "a"}, {"sku": "b"}],
        {"sku": "never-seen"},
    ),
    "anomaly": (
        lambda: OrderAnomalyScorer(AnomalyConfig(min_lines=5)),
        _anomaly_stream,
        lambda: [
            {"sku": "mug", "quantity": 2.0},
            {"sku": "cup", "quantity": 500.0},
            {"sku": "pan", "quantity": 1.0, "unit_price": 1.0, "expected_price": 10.0},
            {"sku": "mug", "quantity": 1.0, "customer_lines": 9},
        ],
        {"sku": "never-seen", "quantity": 3.0},
    ),
}


def _learn(model, stream) -> None:
    for x, y in stream:
        before = dict(x)
        model.learn_one(x, y)
        assert x == before, "learn_one must not mutate its input"


def _predict(model, queries):
    return [model.predict_one(dict(q)) for q in queries]


@pytest.fixture(params=sorted(CASES))
def case(request):
    return CASES[request.param]


def test_follows_the_protocol(case):
    make, *_ = case
    assert isinstance(make(), OnlineModel)


def test_learning_changes_predictions(case):
    make, stream, queries, _ = case
    model = make()
    fresh = _predict(make(), queries())
    _learn(model, stream(random.Random(0)))
    learnt = _predict(model, queries())
    assert learnt != fresh
    assert all(isinstance(v, bool) or math.isfinite(v) for v in learnt)


def test_clone_is_fresh_with_same_config(case):
    make, stream, queries, _ = case
    model = make()
    _learn(model, stream(random.Random(0)))
    twin = model.clone()
    assert type(twin) is type(model) and twin.config == model.config
    assert _predict(twin, queries()) == _predict(make(), queries())
    # learning the same stream on the clone reproduces the original exactly
    _learn(twin, stream(random.Random(0)))
    assert _predict(twin, queries()) == _predict(model, queries())


def test_pickle_round_trip_is_exact(case):
    make, stream, queries, _ = case
    model = make()
    rng = random.Random(1)
    items = list(stream(rng))
    half = len(items) // 2
    _learn(model, items[:half])
    restored = pickle.loads(pickle.dumps(model))
    assert _predict(restored, queries()) == _predict(model, queries())
    _learn(model, items[half:])
    _learn(restored, items[half:])
    assert _predict(restored, queries()) == _predict(model, queries())
    assert _predict(copy.deepcopy(model), queries()) == _predict(model, queries())


def test_feature_order_does_not_matter(case):
    make, stream, queries, _ = case
    model = make()
    _learn(model, stream(random.Random(2)))
    for q in queries():
        shuffled = dict(reversed(list(q.items())))
        assert model.predict_one(shuffled) == model.predict_one(q)


def test_missing_features_and_unseen_skus(case):
    make, stream, queries, unseen = case
    model = make()
    _learn(model, stream(random.Random(3)))
    for q in queries():
        required = {k: v for k, v in q.items() if k in ("sku", "quantity")}
        value = model.predict_one(required)
        assert isinstance(value, bool) or math.isfinite(value)
    before = pickle.dumps(model)
    value = model.predict_one(dict(unseen))
    assert isinstance(value, bool) or math.isfinite(value)
    assert pickle.dumps(model) == before, "predict_one must not change the model"
    # learning with only the required keys works too
    first_x, first_y = next(iter(stream(random.Random(4))))
    model.learn_one({k: v for k, v in first_x.items() if k in ("sku", "quantity")}, first_y)


def test_forecaster_cold_start_borrows_its_category():
    model = DemandForecaster()
    _learn(model, _forecaster_stream(random.Random(0)))
    pantry = model.predict_one({"sku": "brand-new", "category": "pantry", "day": 80})
    tech = model.predict_one({"sku": "brand-new", "category": "tech", "day": 80})
    assert pantry > 3 * tech > 0
    assert model.predict_one({"sku": "brand-new", "day": 80}) == 0.0
    lo, hi = model.predict_interval_one({"sku": "tea", "day": 80})
    assert lo < model.predict_one({"sku": "tea", "day": 80}) < hi


def test_drift_monitor_detects_a_shift_and_not_noise():
    m = DriftMonitor(DriftConfig(grace_periods=5))
    rng = random.Random(5)
    fired = {"a": [], "b": []}
    for x, y in _drift_stream(rng):
        if m.learn_one(x, y):
            fired[x["sku"]].append(x["day"])
    assert fired["a"] and 70 <= fired["a"][0] <= 85
    assert not fired["b"]
