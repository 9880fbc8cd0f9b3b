"""The synthetic directive corpus: deterministic, balanced, resolvable, split by style."""

from __future__ import annotations

import collections
import datetime as dt
import re
import time

import pytest

from envs.directives import parse_directives
from policies.llm import corpus as corpus_mod
from policies.llm.corpus import (
    STYLE_FAMILIES,
    Example,
    catalogue_for_training,
    load_jsonl,
    make_corpus,
    number_words,
    save_jsonl,
)
from policies.llm.names import Catalogue, NameResolver

SHOP = Catalogue.build(
    {
        "pantry": "dry-goods",
        "household": "dry-goods",
        "electronics": "gadgets",
        "toys": "toy-maker",
    },
    skus=25,
)
N = 300


@pytest.fixture(scope="module")
def train() -> list[Example]:
    return make_corpus(SHOP, n=N, seed=7, split="train")


@pytest.fixture(scope="module")
def heldout() -> list[Example]:
    return make_corpus(SHOP, n=N, seed=7, split="heldout")


def _shingles(text: str, k: int = 8) -> set[tuple[str, ...]]:
    words = text.lower().split()
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def test_deterministic_in_seed_and_prefix_stable() -> None:
    a = make_corpus(SHOP, n=120, seed=3, split="train")
    b = make_corpus(SHOP, n=120, seed=3, split="train")
    assert a == b
    assert make_corpus(SHOP, n=50, seed=3, split="train") == a[:50]
    assert [e.text for e in make_corpus(SHOP, n=120, seed=4, split="train")] != [e.text for e in a]


def test_splits_share_no_eight_word_shingle(train: list[Example], heldout: list[Example]) -> None:
    seen = set().union(*(_shingles(e.text) for e in train))
    shared = {s for e in heldout for s in _shingles(e.text) & seen}
    assert not shared, sorted(shared)[:5]


def _worded(templates: dict[str, tuple[str, ...]]) -> set[str]:
    """The templates that hold words of their own (not a bare ``{body}``)."""
    return {t for group in templates.values() for t in group if re.sub(r"\{\w+\}|\W", "", t)}


def test_splits_share_no_template() -> None:
    for table in (corpus_mod._WORDING, corpus_mod._FRAMES):
        assert not _worded(table["train"]) & _worded(table["heldout"])
    layouts = corpus_mod._LAYOUT
    assert not {str(v) for v in layouts["train"].values()} & {
        str(v) for v in layouts["heldout"].values()
    }


def test_every_style_family_appears_in_both_splits(
    train: list[Example], heldout: list[Example]
) -> None:
    assert {e.style for e in train} == set(STYLE_FAMILIES)
    assert {e.style for e in heldout} == set(STYLE_FAMILIES)
    assert len(STYLE_FAMILIES) >= 12


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_gold_validates_and_targets_are_catalogue_names(split: str) -> None:
    names = NameResolver(SHOP)
    for ex in make_corpus(SHOP, n=N, seed=11, split=split):
        dumped = [d.model_dump(mode="json") for d in ex.directives]
        assert parse_directives(dumped) == ex.directives
        assert ex.kinds == tuple(d.kind for d in ex.directives)
        assert ex.categories == SHOP.category_names and ex.suppliers == SHOP.supplier_names
        lowered = ex.text.lower()
        written_skus = {names.sku(tok) for tok in re.findall(r"[#\w-]+", ex.text)}
        for d in ex.directives:
            if d.kind == "none":
                continue
            if d.kind == "supplier_delay":
                assert d.supplier in SHOP.supplier_names
                assert d.supplier.split("-")[0] in lowered
            elif d.category is not None:
                assert d.category in SHOP.category_names
                assert d.category.rstrip("s") in lowered
            else:
                assert set(d.skus) <= set(SHOP.sku_ids)
                assert set(d.skus) <= written_skus, (ex.text, d.skus)


# doc_date 2025-03-05 is a Wednesday; March ends on the 31st.
DOC = dt.date(2025, 3, 5)
_START = {
    "train": {
        "with immediate effect": DOC,
        "from today": DOC,
        "from tomorrow": dt.date(2025, 3, 6),
        "from Monday": dt.date(2025, 3, 10),
        "from Sunday": dt.date(2025, 3, 9),
        "starting in 5 days": dt.date(2025, 3, 10),
    },
    "heldout": {
        "effective immediately": DOC,
        "commencing the day after tomorrow": dt.date(2025, 3, 7),
        "commencing a week from today": dt.date(2025, 3, 12),
        "starting next week": dt.date(2025, 3, 10),
        "from this coming Tuesday": dt.date(2025, 3, 11),
        "effective Friday the 14th": dt.date(2025, 3, 14),
        "beginning in ten days' time": dt.date(2025, 3, 15),
    },
}


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_relative_dates_resolve_against_doc_date(split: str) -> None:
    corpus = make_corpus(SHOP, n=1500, seed=5, split=split, first_date=DOC, last_date=DOC)
    single = [e for e in corpus if len(e.kinds) == 1 and e.kinds != ("none",)]
    checked: collections.Counter[str] = collections.Counter()
    for ex in single:
        d = ex.directives[0]
        for phrase, start in _START[split].items():
            if phrase in ex.text:
                assert d.start == start, (phrase, ex.text)
                checked[phrase] += 1
        if "until the end of the month" in ex.text or "for the rest of the month" in ex.text:
            assert d.end == dt.date(2025, 3, 31), ex.text
            checked["month end"] += 1
        for phrase, days in (("for two weeks", 13), ("for a fortnight", 13), ("for a week", 6)):
            if phrase in ex.text:
                assert d.end - d.start == dt.timedelta(days=days), ex.text
                checked[phrase] += 1
        m = re.search(r"for (?:the next )?(\d+|[a-z-]+) days", ex.text)
        words = {number_words(k): k for k in range(2, 31)}
        if m and (m.group(1).isdigit() or m.group(1) in words):
            k = int(m.group(1)) if m.group(1).isdigit() else words[m.group(1)]
            assert d.end - d.start == dt.timedelta(days=k - 1), ex.text
            checked["for N days"] += 1
        if any(p in ex.text for p in ("until further notice", "indefinitely")):
            assert d.end is None, ex.text
            checked["open"] += 1
    assert len(checked) >= 8, checked  # the phrasings above really occur


def test_absolute_and_numeric_dates_follow_the_stated_convention() -> None:
    for split, pattern in (("train", r"\d{2}/\d{2}/\d{4}"), ("heldout", r"\b\d{1,2}/\d{1,2}\b")):
        corpus = make_corpus(SHOP, n=600, seed=9, split=split)
        slashed = [e for e in corpus if re.search(pattern, e.text)]
        assert slashed
        for ex in slashed:
            assert ex.style == "regulatory"
            stated = ("DD/MM",) if split == "train" else ("month/day", "MM/DD")
            assert any(s in ex.text for s in stated), ex.text


def test_numbers_in_words() -> None:
    assert [number_words(k) for k in (0, 7, 14, 21, 40, 99)] == [
        "zero",
        "seven",
        "fourteen",
        "twenty-one",
        "forty",
        "ninety-nine",
    ]
    with pytest.raises(ValueError, match="0 to 99"):
        number_words(100)


def test_class_balance_is_exact_per_block(train: list[Example]) -> None:
    cases: collections.Counter[str] = collections.Counter()
    for ex in train:
        if ex.style == "injection":
            cases["injection"] += 1
        elif len(ex.kinds) == 2:
            cases["two"] += 1
        else:
            cases[ex.kinds[0]] += 1
    blocks = N // 100
    assert cases == {
        **{k: 14 * blocks for k in corpus_mod._KINDS},
        "none": 15 * blocks,
        "two": 10 * blocks,
        "injection": 5 * blocks,
    }


def test_class_balance_within_bounds_for_a_partial_block() -> None:
    corpus = make_corpus(SHOP, n=250, seed=2, split="heldout")
    counts = collections.Counter(k for e in corpus for k in e.kinds)
    for kind in corpus_mod._KINDS:
        assert 0.12 <= counts[kind] / len(corpus) <= 0.26, (kind, counts)
    assert 0.12 <= counts["none"] / len(corpus) <= 0.26


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_injections_are_read_as_none_unless_a_genuine_directive_is_there(split: str) -> None:
    corpus = make_corpus(SHOP, n=600, seed=1, split=split)
    injections = [e for e in corpus if e.style == "injection"]
    assert len(injections) == 30
    pure = [e for e in injections if e.kinds == ("none",)]
    assert len(pure) >= len(injections) // 2
    assert all(len(e.kinds) == 1 for e in injections)
    assert all(e.directives == parse_directives([{"kind": "none"}]) for e in pure)
    if split == "train":
        markers = ("ignore", "system:", "assistant")
        assert all(any(m in e.text.lower() for m in markers) for e in injections)


def test_none_examples_mention_names_and_dates(train: list[Example]) -> None:
    """Texts that ask nothing are hard negatives: they name suppliers, SKUs and dates too."""
    nothing = [e for e in train if e.style == "nothing"]
    assert nothing and all(e.kinds == ("none",) for e in nothing)
    names = NameResolver(SHOP)
    named = [e for e in nothing if any(names.sku(t) for t in re.findall(r"[#\w-]+", e.text))]
    assert named


def test_jsonl_round_trip(tmp_path, heldout: list[Example]) -> None:
    path = tmp_path / "corpus.jsonl"
    save_jsonl(heldout, path)
    assert load_jsonl(path) == heldout


def test_load_jsonl_names_the_bad_line(tmp_path) -> None:
    ex = make_corpus(SHOP, n=1, seed=0, split="train")
    path = tmp_path / "bad.jsonl"
    save_jsonl(ex, path)
    good = path.read_text()
    bad = good.replace('"kind": ', '"kind": "nonsense", "x": ', 1)
    path.write_text(good + bad)
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        load_jsonl(path)


def test_catalogues_for_training_vary_and_hold_out_category_sets() -> None:
    assert catalogue_for_training(3) == catalogue_for_training(3)
    train_sets = {frozenset(catalogue_for_training(s).category_names) for s in range(200)}
    held_sets = {
        frozenset(catalogue_for_training(s, split="heldout").category_names) for s in range(200)
    }
    assert len(train_sets) > 150 and len(held_sets) > 150
    assert not train_sets & held_sets
    for seed in range(20):
        cat = catalogue_for_training(seed)
        names = NameResolver(cat)
        assert all(names.category(c) == c for c in cat.category_names)
        assert all(names.supplier(s) == s for s in cat.supplier_names)
        make_corpus(cat, n=100, seed=seed, split="train")  # every name can be written


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="split"):
        make_corpus(SHOP, n=1, seed=0, split="test")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be"):
        make_corpus(SHOP, n=-1, seed=0, split="train")
    with pytest.raises(ValueError, match="before first_date"):
        make_corpus(
            SHOP,
            n=1,
            seed=0,
            split="train",
            first_date=dt.date(2025, 1, 2),
            last_date=dt.date(2025, 1, 1),
        )


def test_generation_is_fast() -> None:
    """3,000 examples take about 0.5 s on one core; the bound leaves room for a busy machine."""
    t0 = time.perf_counter()
    make_corpus(catalogue_for_training(0), n=3000, seed=0, split="train")
    assert time.perf_counter() - t0 < 10.0
