"""The tagger: find the dates, day counts, percents, factors and catalogue names in a text.

The LLM reads; this module only finds *candidates* and writes them into the text the model
sees, so the model copies a resolved value instead of doing calendar arithmetic. Dates are
found by ``dateparser`` (a well-kept library) against the document's date; numbers, durations
and names by small patterns. Nothing here decides what a text asks: a date found in chatter
("the team lunch is on Friday the 12th") is a candidate like any other, and the model must
learn to ignore it.

Annotations are appended right after the phrase they read, in brackets::

    "... will slip by five days [=5d] from Monday [=2025-03-10] ..."
    "... Dry Goods Co. [=dry-goods] ..."   "... 15% [=15%] ..."   "... double [=x2] ..."

:class:`Tagged` also holds every candidate per slot type; the reader offers the model those
values (and a few defaults) at each slot of its constrained output.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Mention", "Tagged", "tag_text"]

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "couple of": 2, "a couple of": 2, "several": 3,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_UNITS = {w: v for w, v in _NUMBER_WORDS.items() if 1 <= v <= 9 and w not in ("a", "an")}
_WORDS_ALT = "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len)[::-1])
_COMPOUND = "(?:" + "|".join(_TENS) + r")[\s-](?:" + "|".join(_UNITS) + ")"
_NUM = r"(?:\d+(?:\.\d+)?|" + _COMPOUND + "|" + _WORDS_ALT + ")"
_DURATION = re.compile(
    rf"\b(?P<n>{_NUM})[\s-]+(?:(?:extra|additional|more|further|working|business|calendar)\s+)*"
    r"(?P<unit>days?|weeks?|months?)\b",
    re.IGNORECASE,
)
_FORTNIGHT = re.compile(r"\b(?:a\s+)?fortnight\b", re.IGNORECASE)
_BARE_WEEK = re.compile(
    r"\b(?:an?|one)\s+(?:(?:extra|additional|more|further|full|working|business)\s+)*week\b",
    re.IGNORECASE,
)
_PERCENT = re.compile(rf"(?P<n>{_NUM})\s*(?:%|per\s*cent|percent|pct)", re.IGNORECASE)
_MULT = re.compile(
    r"\b(?:(?P<word>double[sd]?|doubling|twice|triple[sd]?|tripling|halve[sd]?|half)|"
    r"(?P<n>\d+(?:\.\d+)?)\s*(?:x|times)\b|x\s*(?P<m>\d+(?:\.\d+)?))",
    re.IGNORECASE,
)
_FRACTION_MORE = re.compile(
    r"\b(?:a|one)\s+(?P<f>third|quarter|fifth|half)\s+(?P<dir>more|higher|up|lower|less|down|fewer)",
    re.IGNORECASE,
)
_END_OF = re.compile(
    r"\b(?:end|rest|remainder)\s+of\s+(?:the\s+|this\s+)?(?P<unit>month|week)\b", re.IGNORECASE
)
_SKU = re.compile(r"\b(?P<prefix>[A-Za-z][A-Za-z_]*)[-_ ]?#?(?P<num>\d{1,6})\b")
_WORD_FACTOR = {
    "double": 2.0, "doubles": 2.0, "doubled": 2.0, "doubling": 2.0, "twice": 2.0,
    "triple": 3.0, "triples": 3.0, "tripled": 3.0, "tripling": 3.0,
    "half": 0.5, "halve": 0.5, "halves": 0.5, "halved": 0.5,
}  # fmt: skip
_FRACTIONS = {"third": 1 / 3, "quarter": 0.25, "fifth": 0.2, "half": 0.5}


@dataclass(frozen=True)
class Mention:
    """One phrase read as a value: where it is and what it means.

    ``kind`` is ``date`` (ISO value), ``days`` (a duration in days), ``percent``,
    ``factor``, ``sku``, ``category`` or ``supplier`` (catalogue names).
    """

    kind: str
    start: int
    end: int
    value: str

    @property
    def label(self) -> str:
        """The annotation written after the phrase."""
        suffix = {"days": "d", "percent": "%"}.get(self.kind, "")
        prefix = "x" if self.kind == "factor" else ""
        return f"[={prefix}{self.value}{suffix}]"


@dataclass
class Tagged:
    """A text with its candidate values (see the module docstring)."""

    text: str
    doc_date: dt.date
    mentions: list[Mention] = field(default_factory=list)
    end_of_month: bool = False
    end_of_week: bool = False

    def values(self, kind: str) -> list[str]:
        """Distinct values of one mention kind, in order of appearance."""
        out: list[str] = []
        for m in sorted(self.mentions, key=lambda m: m.start):
            if m.kind == kind and m.value not in out:
                out.append(m.value)
        return out

    def annotated(self) -> str:
        """The text with every mention's annotation after its phrase."""
        inserts: dict[int, list[str]] = {}
        for m in self.mentions:
            inserts.setdefault(m.end, [])
            if m.label not in inserts[m.end]:
                inserts[m.end].append(m.label)
        pieces, last = [], 0
        for pos in sorted(inserts):
            pieces.append(self.text[last:pos])
            pieces.append(" " + " ".join(inserts[pos]))
            last = pos
        pieces.append(self.text[last:])
        return "".join(pieces)


def _number(word: str) -> float | None:
    w = " ".join(word.lower().replace("-", " ").split())
    if w in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[w])
    parts = w.split()
    if len(parts) == 2 and parts[0] in _TENS and parts[1] in _UNITS:
        return float(_TENS[parts[0]] + _UNITS[parts[1]])
    try:
        return float(w)
    except ValueError:
        return None


def _fmt_factor(x: float) -> str:
    return f"{round(x, 2):g}"


_MONTHS = {
    m.lower(): i for i, m in enumerate(calendar.month_name) if m
} | {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m} | {"sept": 9}
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len)[::-1])
_WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_WEEKDAY_ALT = "|".join(_WEEKDAYS)
_ORD = r"(?:st|nd|rd|th)?"
_ISO = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")
_SLASH = re.compile(r"(?<![\d/])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{2,4}))?(?![\d/])")
_DAY_MONTH = re.compile(
    rf"\b(?P<d>\d{{1,2}}){_ORD}(?:\s+of)?\s+(?P<mon>{_MONTH_ALT})\b\.?(?:,?\s+(?P<y>\d{{4}}))?",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    rf"\b(?P<mon>{_MONTH_ALT})\.?\s+(?P<d>\d{{1,2}}){_ORD}\b(?:,?\s+(?P<y>\d{{4}}))?",
    re.IGNORECASE,
)
_WEEKDAY = re.compile(
    rf"\b(?P<wd>{_WEEKDAY_ALT})(?:\s+the\s+(?P<d>\d{{1,2}}){_ORD}\b)?", re.IGNORECASE
)
_THE_NTH = re.compile(r"\bthe\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b", re.IGNORECASE)
_RELATIVE = re.compile(
    rf"\b(?:(?P<today>today|immediately|immediate\s+effect|now)|"
    rf"(?P<after>(?:the\s+)?day\s+after\s+tomorrow)|(?P<tomorrow>tomorrow)|"
    rf"(?P<nextweek>next\s+week)|"
    rf"(?:in\s+)?(?P<n>{_NUM})\s+(?P<unit>days?|weeks?)(?:'s?)?\s*(?:time|from\s+(?:today|now))|"
    rf"in\s+(?P<n2>{_NUM})\s+(?P<unit2>days?|weeks?)\b|"
    rf"(?P<aweek>(?:a|one)\s+week\s+from\s+(?:today|now)|in\s+a\s+week))",
    re.IGNORECASE,
)
_MONTH_FIRST = re.compile(r"month\s*/\s*day|mm\s*/\s*dd|month-first|month first", re.I)
_DAY_FIRST = re.compile(r"day\s*/\s*month|dd\s*/\s*mm|day-first|day first", re.I)


def _next_on_or_after(doc_date: dt.date, month: int, day: int) -> dt.date | None:
    for year in (doc_date.year, doc_date.year + 1):
        try:
            d = dt.date(year, month, day)
        except ValueError:
            continue
        if d >= doc_date:
            return d
    return None


def _ymd(y: str | None, m: int, d: int, doc_date: dt.date) -> dt.date | None:
    if y is None:
        return _next_on_or_after(doc_date, m, d)
    year = int(y) + (2000 if len(y) == 2 else 0)
    try:
        return dt.date(year, m, d)
    except ValueError:
        return None


def _dates(text: str, doc_date: dt.date) -> list[Mention]:
    """Date phrases resolved against ``doc_date`` (conventions: :mod:`policies.llm.corpus`)."""
    out: list[Mention] = []

    def add(m: re.Match, day: dt.date | None) -> None:
        if day is not None and abs((day - doc_date).days) <= 800:
            out.append(Mention("date", m.start(), m.end(), day.isoformat()))

    for m in _ISO.finditer(text):
        add(m, _ymd(m.group("y"), int(m.group("m")), int(m.group("d")), doc_date))
    month_first = bool(_MONTH_FIRST.search(text))
    day_first = bool(_DAY_FIRST.search(text))
    for m in _SLASH.finditer(text):
        a, b = int(m.group("a")), int(m.group("b"))
        orders = [(a, b)] if month_first else [(b, a)] if day_first else [(b, a), (a, b)]
        for month, day in orders:
            if 1 <= month <= 12:
                add(m, _ymd(m.group("y"), month, day, doc_date))
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for m in pattern.finditer(text):
            add(m, _ymd(m.group("y"), _MONTHS[m.group("mon").lower().rstrip(".")],
                        int(m.group("d")), doc_date))  # fmt: skip
    for m in _WEEKDAY.finditer(text):
        wd = _WEEKDAYS[m.group("wd").lower()]
        if m.group("d"):
            want = int(m.group("d"))
            for k in range(0, 40):
                d = doc_date + dt.timedelta(days=k)
                if d.weekday() == wd and d.day == want:
                    add(m, d)
                    break
        else:
            ahead = (wd - doc_date.weekday()) % 7 or 7
            add(m, doc_date + dt.timedelta(days=ahead))
    for m in _THE_NTH.finditer(text):
        want = int(m.group("d"))
        for k in range(0, 62):
            d = doc_date + dt.timedelta(days=k)
            if d.day == want:
                add(m, d)
                break
    for m in _RELATIVE.finditer(text):
        if m.group("today"):
            add(m, doc_date)
        elif m.group("after"):
            add(m, doc_date + dt.timedelta(days=2))
        elif m.group("tomorrow"):
            add(m, doc_date + dt.timedelta(days=1))
        elif m.group("nextweek"):
            add(m, doc_date + dt.timedelta(days=7 - doc_date.weekday()))
        elif m.group("aweek"):
            add(m, doc_date + dt.timedelta(days=7))
        else:
            n = _number(m.group("n") or m.group("n2") or "")
            unit = (m.group("unit") or m.group("unit2") or "day").lower()
            if n is not None:
                add(m, doc_date + dt.timedelta(days=int(n * (7 if unit.startswith("w") else 1))))
    if not out:
        out.extend(_dateparser_dates(text, doc_date))
    return out


def _dateparser_dates(text: str, doc_date: dt.date) -> list[Mention]:
    """A fallback for texts none of the patterns read: ``dateparser``'s search."""
    from dateparser.search import search_dates

    settings = {
        "RELATIVE_BASE": dt.datetime.combine(doc_date, dt.time()),
        "PREFER_DATES_FROM": "future",
        "DATE_ORDER": "DMY",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    try:
        found = search_dates(text, languages=["en"], settings=settings) or []
    except Exception:  # dateparser raises assorted errors on odd input: no dates then
        found = []
    out: list[Mention] = []
    for phrase, when in found:
        if re.search(r"%|\bpercent\b|[$€£]|^\W*\w{1,3}\W*$", phrase, re.IGNORECASE):
            continue
        pos = text.find(phrase)
        day = when.date()
        if pos >= 0 and abs((day - doc_date).days) <= 800:
            out.append(Mention("date", pos, pos + len(phrase), day.isoformat()))
    return out


def _durations(text: str) -> list[Mention]:
    out: list[Mention] = []
    for m in _DURATION.finditer(text):
        n = _number(m.group("n"))
        if n is None or n <= 0:
            continue
        unit = m.group("unit").lower()
        days = n * (7 if unit.startswith("week") else 30 if unit.startswith("month") else 1)
        out.append(Mention("days", m.start(), m.end(), str(round(days))))
    for pattern, days in ((_FORTNIGHT, 14), (_BARE_WEEK, 7)):
        for m in pattern.finditer(text):
            if not any(x.start <= m.start() < x.end for x in out):
                out.append(Mention("days", m.start(), m.end(), str(days)))
    return out


def _percents_and_factors(text: str) -> list[Mention]:
    out: list[Mention] = []
    for m in _PERCENT.finditer(text):
        n = _number(m.group("n"))
        if n is None or not 0 < n <= 500:
            continue
        out.append(Mention("percent", m.start(), m.end(), f"{round(n):d}"))
    for m in _MULT.finditer(text):
        if m.group("word"):
            value = _WORD_FACTOR.get(m.group("word").lower())
        else:
            value = _number(m.group("n") or m.group("m"))
        if value is None or not 0.1 <= value <= 10:
            continue
        out.append(Mention("factor", m.start(), m.end(), _fmt_factor(value)))
    for m in _FRACTION_MORE.finditer(text):
        f = _FRACTIONS[m.group("f").lower()]
        up = m.group("dir").lower() in ("more", "higher", "up")
        out.append(Mention("factor", m.start(), m.end(), _fmt_factor(1 + f if up else 1 - f)))
    return out


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", s.lower()).split())


def _name_forms(name: str) -> set[str]:
    base = _norm(name)
    forms = {base}
    if base.endswith("s"):
        forms.add(base[:-1])
    else:
        forms.add(base + "s")
    return {f for f in forms if len(f) >= 3}


def _names(
    text: str, categories: Sequence[str], suppliers: Sequence[str], sku_ids: Sequence[str]
) -> list[Mention]:
    out: list[Mention] = []
    for kind, names in (("supplier", suppliers), ("category", categories)):
        for name in names:
            for form in _name_forms(name):
                words = [re.escape(w) for w in form.split()]
                pattern = re.compile(r"\b" + r"[\s_-]+".join(words) + r"\b", re.IGNORECASE)
                for m in pattern.finditer(text):
                    out.append(Mention(kind, m.start(), m.end(), name))
    by_key = {}
    for sku in sku_ids:
        m = re.fullmatch(r"(?P<prefix>.*?)[-_]?(?P<num>\d+)", sku)
        if m:
            by_key[(_norm(m.group("prefix")).replace(" ", ""), int(m.group("num")))] = sku
        by_key[(_norm(sku).replace(" ", ""), -1)] = sku
    for m in _SKU.finditer(text):
        key = (_norm(m.group("prefix")).replace(" ", ""), int(m.group("num")))
        sku = by_key.get(key)
        if sku is not None:
            out.append(Mention("sku", m.start(), m.end(), sku))
    # A name inside a longer name of the other kind (the supplier "gadgets" inside a SKU id)
    # is not a mention of its own.
    keep = []
    for a in out:
        inside = any(
            b is not a
            and b.start <= a.start
            and a.end <= b.end
            and (b.end - b.start) > (a.end - a.start)
            for b in out
        )
        if not inside:
            keep.append(a)
    return keep


def tag_text(
    text: str,
    doc_date: dt.date,
    *,
    categories: Sequence[str] = (),
    suppliers: Sequence[str] = (),
    sku_ids: Sequence[str] = (),
) -> Tagged:
    """Find every candidate value in ``text`` (dated ``doc_date``) for one catalogue."""
    mentions = _names(text, categories, suppliers, sku_ids)
    taken = [(m.start, m.end) for m in mentions if m.kind == "sku"]
    for m in _durations(text) + _percents_and_factors(text):
        mentions.append(m)
    for m in _dates(text, doc_date):
        if any(a <= m.start < b for a, b in taken):
            continue
        mentions.append(m)
    mentions.sort(key=lambda m: (m.start, m.kind))
    return Tagged(
        text=text,
        doc_date=doc_date,
        mentions=mentions,
        end_of_month=any(m.group("unit").lower() == "month" for m in _END_OF.finditer(text)),
        end_of_week=any(m.group("unit").lower() == "week" for m in _END_OF.finditer(text)),
    )


def end_candidates(tagged: Tagged, start: dt.date) -> list[dt.date]:
    """Dates a window starting on ``start`` may end on: a later date in the text, the start
    plus a duration in the text (inclusive: "for two weeks" from Monday ends on the Sunday
    13 days later), or the end of that month or week when the text says so."""
    out: list[dt.date] = []
    for v in tagged.values("date"):
        d = dt.date.fromisoformat(v)
        if d >= start:
            out.append(d)
    for v in tagged.values("days"):
        out.append(start + dt.timedelta(days=int(v) - 1))
    if tagged.end_of_month:
        out.append(start.replace(day=calendar.monthrange(start.year, start.month)[1]))
    if tagged.end_of_week:
        out.append(start + dt.timedelta(days=6 - start.weekday()))
    seen: list[dt.date] = []
    for d in out:
        if d not in seen:
            seen.append(d)
    return seen
