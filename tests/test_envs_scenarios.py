"""Every shipped scenario loads; each kind of bad scenario file gets a message that names
the file, the field path and what is allowed (never a stack trace from inside numpy)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from envs import MarketSimulator, ScenarioError, load_scenario
from scenarios import DEFAULT_EVAL_SCENARIOS, SCENARIO_DIR, scenario_names

STEADY = yaml.safe_load((SCENARIO_DIR / "steady.yaml").read_text())


def test_every_shipped_scenario_loads_and_runs() -> None:
    names = scenario_names()
    assert {"steady", "festival", "disruption", "drift", "fresh", "new_category", "large"} <= set(
        names
    )
    assert set(DEFAULT_EVAL_SCENARIOS) <= set(names)
    for name in names:
        spec = load_scenario(name)
        assert spec.name == name and spec.summary()
        sim = MarketSimulator(spec, seed=0)
        for _ in range(3):
            sim.step(None)
    assert load_scenario("large").n_skus == 10_000
    assert load_scenario("new_category").held_out
    assert any(c.shelf_life_days for c in load_scenario("fresh").categories)


def write(tmp_path: Path, data: object, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def mutated(fn) -> dict:
    data = copy.deepcopy(STEADY)
    fn(data)
    return data


CASES = [
    ("missing field", lambda d: d.pop("categories"), "categories", "Field required"),
    ("typo", lambda d: d["categories"][0].update(prise=[1, 2]), "categories.0.prise", "Extra"),
    (
        "reversed range",
        lambda d: d["categories"][0].update(price=[10, 2]),
        "categories.0.price",
        "must not exceed",
    ),
    (
        "negative demand",
        lambda d: d["categories"][0].update(base_demand=[-1, 2]),
        "categories.0.base_demand",
        "must lie in",
    ),
    (
        "positive elasticity",
        lambda d: d["categories"][2].update(elasticity=[0.5, 1]),
        "categories.2.elasticity",
        "must lie in [-10.0, 0.0]",
    ),
    ("wrong type", lambda d: d.update(horizon_days="long"), "horizon_days", "got 'long'"),
    (
        "unknown supplier",
        lambda d: d["categories"][1].update(supplier="nobody"),
        "categories.1.supplier",
        "defined suppliers",
    ),
    (
        "event outside horizon",
        lambda d: d.update(events=[{"kind": "festival", "day": 999}]),
        "events.0.day",
        "not inside the horizon",
    ),
    (
        "unknown event kind",
        lambda d: d.update(events=[{"kind": "party", "day": 9}]),
        "events.0",
        "'festival', 'disruption', 'drift'",
    ),
    (
        "unknown category in event",
        lambda d: d.update(events=[{"kind": "drift", "day": 3, "categories": ["toys"]}]),
        "events.0.categories",
        "defined categories",
    ),
    (
        "bad weekly",
        lambda d: d["categories"][0].update(weekly=[1, 2]),
        "categories.0.weekly",
        "seven",
    ),
    (
        "discount of 100%",
        lambda d: d.update(discount_levels=[0, 0.5, 1.0]),
        "discount_levels",
        "below 1",
    ),
    ("bad name", lambda d: d.update(name="My Shop"), "name", "pattern"),
    (
        "duplicate category",
        lambda d: d["categories"].append(copy.deepcopy(d["categories"][0])),
        "categories",
        "unique",
    ),
]


@pytest.mark.parametrize(("label", "mutate", "field", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_messages(tmp_path: Path, label, mutate, field, words) -> None:
    path = write(tmp_path, mutated(mutate))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.source == str(path)
    assert err.field == field
    assert words in err.problem
    assert str(path) in str(err) and field in str(err)


def test_not_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\ncategories: [\n  - : :\n")
    with pytest.raises(ScenarioError, match=r"line \d+, column \d+: not valid YAML"):
        load_scenario(path)


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="expected a mapping, got list"):
        load_scenario(write(tmp_path, "- 1\n- 2\n"))


def test_missing_file_and_unknown_name() -> None:
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario("does/not/exist.yaml")
    with pytest.raises(ScenarioError, match="no such scenario; shipped: classic"):
        load_scenario("nonexistent")


def test_oversized_and_non_utf8_scenarios_are_refused_before_allocating(tmp_path):
    """Issue 18: a 1e9-SKU scenario validated and then exhausted memory; a non-UTF-8 file
    gave a traceback."""
    import yaml

    from envs.errors import ScenarioError
    from envs.scenario import load_scenario

    base = yaml.safe_load((Path(__file__).parents[1] / "scenarios" / "steady.yaml").read_text())
    for c in base["categories"]:
        c["n_skus"] = 1_000_000
    big = tmp_path / "big.yaml"
    big.write_text(yaml.safe_dump(base))
    with pytest.raises(ScenarioError, match="SKU-days, past the limit"):
        load_scenario(big)
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(bad)
