"""The train/test discipline: held-out seeds by default, training seeds refused unless allowed."""

from __future__ import annotations

import pytest

from eval.errors import SplitError
from eval.splits import (
    TEST_SEEDS,
    TRAIN_SEED_START,
    check_report_seeds,
    check_tuning_scenario,
    held_out_scenarios,
    report_seeds,
    seed_split,
    tuning_scenarios,
)


def test_seed_split_boundaries() -> None:
    assert seed_split(0) == "test" and seed_split(TEST_SEEDS.stop - 1) == "test"
    assert seed_split(TRAIN_SEED_START) == "train" and seed_split(10**6) == "train"
    assert TRAIN_SEED_START == 1000  # shared with policies/tuning.py and artifacts/ppo
    with pytest.raises(SplitError, match="negative"):
        seed_split(-1)


def test_report_seeds_are_held_out() -> None:
    assert report_seeds(3) == [0, 1, 2]
    assert report_seeds(2, offset=5) == [5, 6]
    assert check_report_seeds(report_seeds(10)) == "test"
    with pytest.raises(SplitError, match="at least 1"):
        report_seeds(0)
    with pytest.raises(SplitError, match="training seeds"):
        report_seeds(3, offset=998)


def test_training_seeds_are_refused_unless_allowed() -> None:
    with pytest.raises(SplitError, match="--allow-train-seeds") as info:
        check_report_seeds([999, 1000, 1001])
    assert info.value.seeds == (1000, 1001)
    assert "seeds 1000, 1001 are training seeds" in str(info.value)
    assert "held-out seeds 0-999" in str(info.value)
    assert check_report_seeds([1000, 1001], allow_train=True) == "train"
    assert check_report_seeds([999, 1000], allow_train=True) == "mixed"


def test_new_category_is_the_held_out_scenario() -> None:
    assert held_out_scenarios() == ["new_category", "notices_holdout"]
    assert "new_category" not in tuning_scenarios() and "steady" in tuning_scenarios()
    assert "notices_holdout" not in tuning_scenarios()
    check_tuning_scenario("steady")
    with pytest.raises(SplitError, match="held out"):
        check_tuning_scenario("new_category")


def test_split_error_survives_pickling() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(SplitError("msg", (1, 2))))
    assert str(err) == "msg" and err.seeds == (1, 2)
