"""From the names people write to the shop's catalogue names.

A directive names its targets in the catalogue's own words (``dry-goods``, ``electronics``,
``electronics-00024``); a text names them as people do ("Dry Goods Co.", "our electronics
range", "item #electronics-24"). :class:`NameResolver` bridges the two, conservatively: it
answers a catalogue name only when one name is clearly meant, and ``None`` otherwise (no
match, or two names equally good). A wrong target is worse than none: a reader that cannot
resolve a name says so, a person looks.

How a written name is compared (suppliers and categories), in order; the first step that
finds candidates decides:

1. **Exact**, ignoring case, accents and every character but letters and digits
   (``Dry_Goods`` = ``dry-goods`` = ``DRY GOODS``).
2. **Key**: both the written name and every catalogue name are reduced to a key: lower
   case; ``&`` read as ``and``; punctuation, hyphens and underscores as spaces; leading
   fillers dropped (``the``, ``our``, ``all``, ``of``, ...); then, for suppliers, trailing
   corporate suffixes (:data:`CORPORATE_SUFFIXES`: ``co``, ``ltd``, ``gmbh``, ``& sons``,
   ``supplies``, ``trading``, ...), for categories, category words anywhere
   (:data:`CATEGORY_WORDS`: ``range``, ``items``, ``aisle``, ``dept``, ``goods``, ...);
   then each word singular (``electronics`` -> ``electronic``, ``toys`` -> ``toy``).
   A reduction that would leave nothing keeps the words (a category named ``item`` stays
   ``item``). ``goods`` is a category word only: ``Dry Goods Co.`` keeps it as a supplier.
3. **Aliases**, only when the key matched nothing: the optional ``aliases`` map (written
   phrase -> the catalogue names it may stand for); none by default.
4. **Typos**: :func:`difflib.SequenceMatcher` ratio between keys, at least ``cutoff``
   (0.85), for keys of at least 5 characters, and at least 0.05 above the runner-up.

At any step, two or more candidates mean ``None``. Two catalogue names that share a key
(``acme-supply`` and ``acme-trading`` are both ``acme``) are told apart only by an exact
match.

SKU ids match ignoring case and surrounding punctuation, with an optional ``SKU``, ``item``
or ``#`` in front, and with the number's zero padding free (``electronics-24`` and
``ELECTRONICS 00024`` are ``electronics-00024`` when that SKU exists). A bare number
(``#24``) does not resolve, nor does a near miss: a typo in an id is not guessed.

Example:

>>> cat = Catalogue.build({"pantry": "dry-goods", "electronics": "gadgets"}, skus=30)
>>> names = NameResolver(cat)
>>> names.supplier("DRY GOODS LTD"), names.supplier("Gadgets & Sons"), names.supplier("Acme")
('dry-goods', 'gadgets', None)
>>> names.category("our Electronic range"), names.category("the pantry aisle")
('electronics', 'pantry')
>>> names.category("electornics"), names.sku("item #Electronics-31"), names.sku("#31")
('electronics', 'electronics-00031', None)
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["CATEGORY_WORDS", "CORPORATE_SUFFIXES", "Catalogue", "NameResolver", "name_key"]

#: Trailing words dropped from a supplier's name ("& sons" is dropped as a pair).
CORPORATE_SUFFIXES = frozenset(
    {
        "co",
        "company",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "llc",
        "gmbh",
        "corp",
        "corporation",
        "plc",
        "supplies",
        "supply",
        "trading",
        "group",
    }
)
#: Words dropped anywhere from a category's name ("the pantry aisle" -> "pantry").
CATEGORY_WORDS = frozenset(
    {
        "range",
        "ranges",
        "item",
        "items",
        "product",
        "products",
        "department",
        "departments",
        "dept",
        "aisle",
        "aisles",
        "section",
        "sections",
        "category",
        "categories",
        "line",
        "lines",
        "goods",
    }
)
#: Words dropped from the front of any name ("all of our electronics" -> "electronics").
_FILLERS = frozenset(
    {"the", "our", "your", "their", "my", "all", "of", "any", "every", "entire", "whole"}
)
_SKU_LEAD = re.compile(r"^(?:(?:skus?|items?|no|number|id)(?=[\s#:.])|[#:.\s])+", re.IGNORECASE)
_SKU_NUMBERED = re.compile(r"^(.*?)[\s_-]*(\d+)$")
_TRIM = " \t\r\n.,;:!?()[]{}\"'"


def _ascii_lower(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _compact(text: str) -> str:
    """Letters and digits only, lower case: the exact-match form."""
    return re.sub(r"[^a-z0-9]", "", _ascii_lower(text))


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _strip_suffixes(words: list[str]) -> list[str]:
    out = list(words)
    while out:
        if out[-1] in CORPORATE_SUFFIXES:
            out.pop()
        elif out[-1] == "sons" and len(out) >= 2 and out[-2] == "and":
            del out[-2:]
        elif out[-1] == "and":
            out.pop()
        else:
            break
    return out


def name_key(text: str, kind: str) -> str:
    """The key of a written supplier (``kind="supplier"``) or category name.

    >>> name_key("The Dry-Goods Co.", "supplier"), name_key("all HOUSEHOLD items", "category")
    ('drygood', 'household')
    """
    words = re.findall(r"[a-z0-9]+", _ascii_lower(text).replace("'", "").replace("&", " and "))
    while words and words[0] in _FILLERS:
        words.pop(0)
    if kind == "supplier":
        reduced = _strip_suffixes(words)
    else:
        reduced = [w for w in words if w not in CATEGORY_WORDS]
        while reduced and reduced[0] in _FILLERS:
            reduced.pop(0)
    return "".join(_singular(w) for w in (reduced or words))


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """The names a shop's texts may refer to.

    Attributes:
        sku_ids: every SKU id, in catalogue order.
        sku_category: the category name of each SKU (same order).
        sku_supplier: the supplier name of each SKU (same order).
        category_names: every category name (each SKU's category is one of them).
        supplier_names: every supplier name (each SKU's supplier is one of them).
    """

    sku_ids: tuple[str, ...]
    sku_category: tuple[str, ...]
    sku_supplier: tuple[str, ...]
    category_names: tuple[str, ...]
    supplier_names: tuple[str, ...]

    def __post_init__(self) -> None:
        n = len(self.sku_ids)
        if len(self.sku_category) != n or len(self.sku_supplier) != n:
            raise ValueError(
                "sku_ids, sku_category and sku_supplier must have one entry per SKU; "
                f"got {n}, {len(self.sku_category)} and {len(self.sku_supplier)}"
            )
        if len(set(self.sku_ids)) != n:
            raise ValueError("sku_ids: a SKU id is listed twice")
        for what, used, known in (
            ("category", self.sku_category, self.category_names),
            ("supplier", self.sku_supplier, self.supplier_names),
        ):
            unknown = sorted(set(used) - set(known))
            if unknown:
                raise ValueError(f"SKUs use unknown {what} names {unknown}; known: {known}")

    def __repr__(self) -> str:
        return (
            f"Catalogue({len(self.sku_ids)} SKUs, categories={self.category_names}, "
            f"suppliers={self.supplier_names})"
        )

    @classmethod
    def from_simulator(cls, sim: Any) -> Catalogue:
        """The catalogue of an :class:`envs.simulator.MarketSimulator` (or a look-alike).

        Reads ``sim.sku_ids`` and ``sim.catalog``'s ``category_names``, ``supplier_names``,
        ``category`` and ``supplier`` (integer codes per SKU into the two name tuples; the
        supplier names are ``sim.spec.suppliers``' names, in the same order).
        """
        c = sim.catalog
        cats = tuple(str(x) for x in c.category_names)
        sups = tuple(str(x) for x in c.supplier_names)
        return cls(
            sku_ids=tuple(str(s) for s in sim.sku_ids),
            sku_category=tuple(cats[int(i)] for i in c.category),
            sku_supplier=tuple(sups[int(i)] for i in c.supplier),
            category_names=cats,
            supplier_names=sups,
        )

    @classmethod
    def build(cls, categories: Mapping[str, str], *, skus: int | Sequence[int] = 10) -> Catalogue:
        """A catalogue from ``{category: supplier}``, with SKU ids as the simulator writes them.

        ``skus`` is the number of SKUs per category (one number, or one per category in the
        mapping's order); ids are ``{category}-{index:05d}`` with one running index over the
        whole catalogue, as :func:`envs.catalog.build_catalog` numbers drawn SKUs.
        """
        counts = [skus] * len(categories) if isinstance(skus, int) else list(skus)
        if len(counts) != len(categories) or any(k < 1 for k in counts):
            raise ValueError(
                f"skus must be a positive count, or one per category ({len(categories)}); "
                f"got {skus}"
            )
        ids: list[str] = []
        sku_cat: list[str] = []
        sku_sup: list[str] = []
        for (cat, sup), k in zip(categories.items(), counts, strict=True):
            ids += [f"{cat}-{len(ids) + i:05d}" for i in range(k)]
            sku_cat += [cat] * k
            sku_sup += [sup] * k
        return cls(
            sku_ids=tuple(ids),
            sku_category=tuple(sku_cat),
            sku_supplier=tuple(sku_sup),
            category_names=tuple(categories),
            supplier_names=tuple(dict.fromkeys(categories.values())),
        )

    def skus_of(self, category: str) -> tuple[str, ...]:
        """The SKU ids of one category, in catalogue order (empty for an unknown one)."""
        return self._by_category.get(category, ())

    @functools.cached_property
    def _by_category(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for sku, cat in zip(self.sku_ids, self.sku_category, strict=True):
            out.setdefault(cat, []).append(sku)
        return {c: tuple(v) for c, v in out.items()}


class _Index:
    """Exact, key, alias and typo look-up over one kind of name (suppliers or categories)."""

    def __init__(
        self,
        names: Iterable[str],
        kind: str,
        aliases: Mapping[str, Sequence[str]],
        cutoff: float,
    ) -> None:
        self.kind = kind
        self.cutoff = cutoff
        self.exact: dict[str, set[str]] = {}
        self.keys: dict[str, set[str]] = {}
        for name in names:
            self.exact.setdefault(_compact(name), set()).add(name)
            self.keys.setdefault(name_key(name, kind), set()).add(name)
        known = {n for ns in self.exact.values() for n in ns}
        self.aliases: dict[str, set[str]] = {}
        for phrase, targets in aliases.items():
            meant = {t for t in targets if t in known}
            if meant:
                self.aliases.setdefault(name_key(phrase, kind), set()).update(meant)

    def lookup(self, text: str) -> str | None:
        compact = _compact(text)
        if not compact:
            return None
        for found in (self.exact.get(compact), self._key(text)):
            if found:
                return next(iter(found)) if len(found) == 1 else None
        return self._typo(name_key(text, self.kind))

    def _key(self, text: str) -> set[str] | None:
        key = name_key(text, self.kind)
        return self.keys.get(key) or self.aliases.get(key)

    def _typo(self, key: str) -> str | None:
        if len(key) < 5:
            return None
        scored = sorted(
            ((difflib.SequenceMatcher(None, key, k).ratio(), k) for k in self.keys if len(k) >= 5),
            reverse=True,
        )
        if not scored or scored[0][0] < self.cutoff:
            return None
        if len(scored) > 1 and scored[1][0] > scored[0][0] - 0.05:
            return None
        found = self.keys[scored[0][1]]
        return next(iter(found)) if len(found) == 1 else None


class NameResolver:
    """Resolves written supplier, category and SKU names to one catalogue's names.

    Args:
        catalogue: the shop's names.
        aliases: optional synonyms, written phrase -> the catalogue names it may stand for
            (``{"gadgets": ["electronics"]}``); a phrase applies to a look-up only through
            its targets of that kind present in the catalogue, and only when the phrase's
            key matches no catalogue name itself. None by default.
        cutoff: the least :class:`difflib.SequenceMatcher` ratio for a typo to resolve.

    Every method returns the catalogue's name, or ``None`` when no single name is clearly
    meant (see the module docstring for the rules).
    """

    def __init__(
        self,
        catalogue: Catalogue,
        aliases: Mapping[str, Sequence[str]] | None = None,
        *,
        cutoff: float = 0.85,
    ) -> None:
        if not 0.5 <= cutoff <= 1.0:
            raise ValueError(f"cutoff must lie in [0.5, 1]; got {cutoff}")
        self.catalogue = catalogue
        alias_map = dict(aliases or {})
        self._suppliers = _Index(catalogue.supplier_names, "supplier", alias_map, cutoff)
        self._categories = _Index(catalogue.category_names, "category", alias_map, cutoff)
        self._sku_lower: dict[str, set[str]] = {}
        self._sku_numbered: dict[tuple[str, int], set[str]] = {}
        for sku in catalogue.sku_ids:
            self._sku_lower.setdefault(sku.lower(), set()).add(sku)
            key = _numbered_key(sku)
            if key is not None:
                self._sku_numbered.setdefault(key, set()).add(sku)

    def supplier(self, text: str) -> str | None:
        """The supplier ``text`` names (``"DRY GOODS LTD"`` -> ``dry-goods``), or ``None``."""
        return self._suppliers.lookup(text)

    def category(self, text: str) -> str | None:
        """The category ``text`` names (``"the pantry aisle"`` -> ``pantry``), or ``None``."""
        return self._categories.lookup(text)

    def sku(self, text: str) -> str | None:
        """The SKU id ``text`` names (``"SKU Electronics-24"`` -> ``electronics-00024``)."""
        raw = text.strip(_TRIM)
        bare = _SKU_LEAD.sub("", raw).strip(_TRIM)
        found: set[str] = set()
        for form in dict.fromkeys((raw, bare)):
            if not form:
                continue
            exact = self._sku_lower.get(form.lower())
            if exact:
                found |= exact
                continue
            key = _numbered_key(form)
            if key is not None:
                found |= self._sku_numbered.get(key, set())
        return next(iter(found)) if len(found) == 1 else None


def _numbered_key(text: str) -> tuple[str, int] | None:
    """``("electronics", 24)`` for ``electronics-00024``; None without a prefix or a number."""
    m = _SKU_NUMBERED.match(text.strip().lower())
    if m is None:
        return None
    prefix = _compact(m.group(1))
    return (prefix, int(m.group(2))) if prefix else None
