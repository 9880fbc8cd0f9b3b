"""NameResolver: written names to catalogue names, conservatively (None when unsure)."""

from __future__ import annotations

import pytest

from envs.simulator import MarketSimulator
from policies.llm.names import Catalogue, NameResolver

SHOP = Catalogue.build(
    {
        "pantry": "dry-goods",
        "household": "dry-goods",
        "electronics": "gadgets",
        "toys": "acme-supply",
        "fresh": "nordic-foods",
    },
    skus=30,
)  # pantry-00000..00029, household-00030.., electronics-00060..00089, ...


@pytest.fixture(scope="module")
def names() -> NameResolver:
    return NameResolver(SHOP)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dry-goods", "dry-goods"),
        ("Dry Goods Co.", "dry-goods"),
        ("DRY GOODS LTD", "dry-goods"),
        ("dry_goods", "dry-goods"),
        ("dry goods", "dry-goods"),  # "goods" is only a category word
        ("The Dry-Goods Company", "dry-goods"),
        ("Gadgets & Sons", "gadgets"),
        ("gadget group", "gadgets"),
        ("Acme Supplies Inc.", "acme-supply"),
        ("ACME", "acme-supply"),
        ("Nordic Foods GmbH", "nordic-foods"),
        ("nordic food trading", "nordic-foods"),
    ],
)
def test_supplier_resolves_written_forms(names: NameResolver, text: str, expected: str) -> None:
    assert names.supplier(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("electronics", "electronics"),
        ("our electronics range", "electronics"),
        ("Electronic", "electronics"),
        ("household items", "household"),
        ("Households", "household"),
        ("the pantry aisle", "pantry"),
        ("all of our pantry products", "pantry"),
        ("TOY section", "toys"),
        ("the fresh dept.", "fresh"),
        ("Fresh goods", "fresh"),
        ("the toys category", "toys"),
    ],
)
def test_category_resolves_written_forms(names: NameResolver, text: str, expected: str) -> None:
    assert names.category(text) == expected


@pytest.mark.parametrize(
    ("method", "text"),
    [
        ("supplier", "Acme Widgets"),
        ("supplier", "electronics"),
        ("supplier", "Co."),
        ("supplier", ""),
        ("category", "gadgets"),  # a synonym only through an alias map
        ("category", "frozen"),
        ("category", "dry goods"),  # a supplier, not a category
        ("category", "range"),
        ("category", "!!!"),
    ],
)
def test_unknown_names_are_none(names: NameResolver, method: str, text: str) -> None:
    assert getattr(names, method)(text) is None


@pytest.mark.parametrize(
    ("method", "text", "expected"),
    [
        ("category", "electornics", "electronics"),
        ("category", "houshold items", "household"),
        ("supplier", "Nordic Fods Ltd", "nordic-foods"),
        ("supplier", "Gadgest", "gadgets"),
        ("category", "elctrncs", None),  # too far
        ("category", "toyz", None),  # too short to guess
        ("category", "pantri", None),  # ratio 0.83 < 0.85
    ],
)
def test_typos_within_cutoff_only(
    names: NameResolver, method: str, text: str, expected: str | None
) -> None:
    assert getattr(names, method)(text) == expected


def test_ambiguous_names_are_none() -> None:
    cat = Catalogue.build(
        {
            "toys": "acme-supply",
            "toy": "acme-trading",
            "electronics": "acme-supply",
            "electronica": "acme-trading",
        },
        skus=2,
    )
    names = NameResolver(cat)
    assert names.supplier("Acme") is None  # both suppliers reduce to "acme"
    assert names.supplier("Acme Supply") == "acme-supply"  # exact still wins
    assert names.supplier("ACME_TRADING") == "acme-trading"
    assert names.category("toy range") is None
    assert names.category("Toys") == "toys"
    assert names.category("electronicz") is None  # two typo candidates nearly tied


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("electronics-00064", "electronics-00064"),
        ("ELECTRONICS-00064", "electronics-00064"),
        ("SKU electronics-64", "electronics-00064"),
        ("item #Electronics-64", "electronics-00064"),
        ("#ELECTRONICS-64", "electronics-00064"),
        ("electronics 64", "electronics-00064"),
        ("electronics_0064", "electronics-00064"),
        ("sku: electronics-00064.", "electronics-00064"),
        ("electronics-00010", None),  # no such SKU (10 is a pantry number)
        ("pantry-64", None),
        ("#64", None),  # a bare number is not enough
        ("SKU 64", None),
        ("electronic-00064", None),  # no guessing in ids
        ("electronics-000640", None),
        ("", None),
    ],
)
def test_sku_variants(names: NameResolver, text: str, expected: str | None) -> None:
    assert names.sku(text) == expected


def test_names_that_are_filler_words_still_resolve() -> None:
    """The classic scenario's only category is called "item" and its SKU "item-00000"."""
    sim = MarketSimulator.from_scenario("classic")
    cat = Catalogue.from_simulator(sim)
    names = NameResolver(cat)
    assert cat.category_names == ("item",) and cat.sku_ids == ("item-00000",)
    assert names.category("item") == names.category("Items") == "item"
    assert (
        names.sku("item-00000")
        == names.sku("ITEM 0")
        == names.sku("item #item-0")
        == ("item-00000")
    )
    assert names.supplier("Factory Ltd") == "factory"


def test_aliases_are_opt_in_and_conservative() -> None:
    plain = NameResolver(SHOP)
    assert plain.category("gadgets") is None
    names = NameResolver(
        SHOP,
        aliases={
            "gadgets": ["electronics"],
            "stuff": ["pantry", "household"],  # ambiguous
            "frozen": ["frozen"],  # not in this catalogue
            "pantry": ["household"],  # a catalogue name wins over an alias
        },
    )
    assert names.category("the gadgets aisle") == "electronics"
    assert names.supplier("gadgets") == "gadgets"  # aliases apply per kind of name
    assert names.category("stuff") is None
    assert names.category("frozen") is None
    assert names.category("pantry") == "pantry"


def test_from_simulator_maps_codes_to_names() -> None:
    sim = MarketSimulator.from_scenario("steady")
    cat = Catalogue.from_simulator(sim)
    assert cat.sku_ids == tuple(sim.sku_ids)
    assert set(cat.category_names) == {"pantry", "household", "electronics"}
    assert cat.supplier_names == tuple(s.name for s in sim.spec.suppliers)
    for sku, c, s in zip(cat.sku_ids, cat.sku_category, cat.sku_supplier, strict=True):
        assert sku.startswith(c)
        spec_cat = next(x for x in sim.spec.categories if x.name == c)
        assert spec_cat.supplier == s
    assert cat.skus_of("electronics") and all(
        s.startswith("electronics") for s in cat.skus_of("electronics")
    )


def test_catalogue_validates_its_shape() -> None:
    with pytest.raises(ValueError, match="one entry per SKU"):
        Catalogue(("a-1",), (), ("s",), ("a",), ("s",))
    with pytest.raises(ValueError, match="unknown category names"):
        Catalogue(("a-1",), ("b",), ("s",), ("a",), ("s",))
    with pytest.raises(ValueError, match="listed twice"):
        Catalogue(("a-1", "a-1"), ("a", "a"), ("s", "s"), ("a",), ("s",))
    with pytest.raises(ValueError, match="cutoff"):
        NameResolver(SHOP, cutoff=0.2)
