"""``shopops kb add | list | show | retire | search | review | pending``: the knowledge base's
documents and the directives read from them, in the store (:mod:`agent.store.kb`).

``add`` files a text (``@path`` reads it from a UTF-8 file, byte for byte; ``@-`` from
stdin) and, with ``--read`` (the default), reads it with the LLM reader: readings at or above
``--min-confidence`` are filed ``proposed`` (in force at once), the others
``pending_review``, for ``review`` (confirm, edit or reject, recorded with who and why).
``--no-read`` stores the text only.

``--shop`` is the shop id the documents belong to (what ``shopops run --shop`` calls the shop;
a simulated run's default is ``sim-<scenario>``). Reading resolves names against a catalogue:
``--scenario`` (a scenario name or file), else ``--shop`` taken as a scenario name.

Errors: a bad date or JSON names its option; an invalid field the store refuses is reported
against the option that gave it (``--valid-to: ... is before valid_from ...``); a missing
document, a conflict (reviewing twice, retiring a retired version) is one ``error:`` line.

The JSON shapes (:mod:`agent.kb_json`) are the API's too (:mod:`agent.web.kb`), so
``--json`` and ``/api/kb`` agree.
"""

from __future__ import annotations

import contextlib
import json as _json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.commands.kb import AdapterOpt, LlmOpt, _date
from agent.kb_json import directive_counts, directive_json, document_detail, document_json

_DB_HELP = "Store URL or SQLite file (default $SHOPOPS_DB or ~/.shopops/shopops.db)."
DbOpt = Annotated[str | None, typer.Option(help=_DB_HELP)]
ShopOpt = Annotated[str, typer.Option(help="The shop id the documents belong to.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

# The store's field names (KnowledgeBaseInputError.field, up to "[" or ".") -> the options.
_OPTION_OF = {
    "shop_id": "--shop",
    "text": "TEXT",
    "kind": "--kind",
    "doc_date": "--date",
    "title": "--title",
    "source": "--source",
    "author": "--author",
    "valid_from": "--valid-from",
    "valid_to": "--valid-to",
    "on_date": "--on",
    "skus": "--sku",
    "categories": "--category",
    "suppliers": "--supplier",
    "supersedes": "--supersedes",
    "status": "--status",
    "by": "--by",
    "reason": "--reason",
    "verdict": "--verdict",
    "edited_payload": "--edit",
    "limit": "--limit",
    "query": "QUERY",
    "doc_key_or_id": "KEY_OR_ID",
}


def register(app: typer.Typer, bench: typer.Typer) -> None:
    from agent.commands.kb import kb

    kb.command("add")(kb_add)
    kb.command("list")(kb_list)
    kb.command("show")(kb_show)
    kb.command("retire")(kb_retire)
    kb.command("search")(kb_search)
    kb.command("review")(kb_review)
    kb.command("pending")(kb_pending)


# ---------------------------------------------------------------------------------- helpers
def _option_errors() -> Any:
    """A context manager: the store's input errors become usage errors naming the option."""
    import contextlib

    from agent.store.kb import KnowledgeBaseInputError

    @contextlib.contextmanager
    def translate():
        try:
            yield
        except KnowledgeBaseInputError as exc:
            base = exc.field.split("[", 1)[0].split(".", 1)[0]
            option = _OPTION_OF.get(base)
            if option is None:
                raise
            detail = exc.field[len(base) :]
            raise typer.BadParameter(f"{option}{detail}: {exc.problem}") from None

    return translate()


@contextlib.contextmanager
def _session(db: str | None) -> Iterator[Any]:
    """One transaction on the store ``db`` (input errors name their option), then closed."""
    from agent.store import open_store

    store = open_store(db)
    try:
        with _option_errors(), store.session() as s:
            yield s
    finally:
        store.close()


def _text_arg(text: str) -> str:
    """TEXT as given, or the contents of ``@path`` (``@-``: stdin), unchanged."""
    if not text.startswith("@"):
        return text
    where = text[1:]
    if where == "-":
        return sys.stdin.read()
    path = Path(where).expanduser()
    try:
        with path.open(encoding="utf-8", newline="") as f:  # newline="": keep \r\n as is
            return f.read()
    except OSError as exc:
        raise typer.BadParameter(f"TEXT: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(
            f"TEXT: {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None


def _opt_date(text: str | None, field: str) -> Any:
    return None if text is None else _date(text, field)


def _ref(ref: str) -> int | str:
    """KEY_OR_ID: digits are a row id, anything else a document key."""
    return int(ref) if ref.isdigit() else ref


def _find(session: Any, shop: str, ref: str) -> Any:
    """The document version ``ref`` names: an id, else (digits too) a key."""
    from agent.store.kb import DocumentNotFoundError, get_document

    ident = _ref(ref)
    try:
        return get_document(session, shop, ident)
    except DocumentNotFoundError:
        if isinstance(ident, str):
            raise
        return get_document(session, shop, ref)  # a key that happens to be all digits


def _console() -> Any:
    from rich.console import Console

    return Console(markup=False, highlight=False)


def _one_line(text: str | None, width: int = 60) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _window(d: dict[str, Any]) -> str:
    if d["valid_from"] is None and d["valid_to"] is None:
        return "always"
    return f"{d['valid_from'] or '…'} .. {d['valid_to'] or '…'}"


_WIDTH = {"key": 12, "dated": 10}  # keys and dates are copied from tables: never cut them


def _confidence(c: float | None) -> str:
    return "–" if c is None else f"{c:.2f}"


def kb_add(
    text: Annotated[
        str,
        typer.Argument(
            metavar="TEXT_OR_@FILE", help="The text, or @FILE to read it from a UTF-8 file."
        ),
    ],
    shop: ShopOpt,
    kind: Annotated[
        str,
        typer.Option(
            help="compliance, supplier_notice, brand_policy, pricing_policy, marketing, "
            "instruction or other."
        ),
    ],
    date: Annotated[
        str, typer.Option(help="The date the text is dated or was received, YYYY-MM-DD.")
    ],
    title: Annotated[str | None, typer.Option(help="A title.")] = None,
    source: Annotated[str | None, typer.Option(help="Where it came from.")] = None,
    author: Annotated[str | None, typer.Option(help="Who wrote or sent it.")] = None,
    valid_from: Annotated[str | None, typer.Option(help="Applies from, YYYY-MM-DD.")] = None,
    valid_to: Annotated[
        str | None, typer.Option(help="Applies until (inclusive), YYYY-MM-DD.")
    ] = None,
    sku: Annotated[list[str] | None, typer.Option(help="A SKU it is about (repeatable).")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="A category it is about (repeatable).")
    ] = None,
    supplier: Annotated[
        list[str] | None, typer.Option(help="A supplier it is about (repeatable).")
    ] = None,
    supersedes: Annotated[
        str | None, typer.Option(help="The key of the document this one replaces.")
    ] = None,
    read: Annotated[
        bool, typer.Option("--read/--no-read", help="Read it into directives with the LLM.")
    ] = True,
    scenario: Annotated[
        str | None,
        typer.Option(help="With --read: the catalogue to resolve names against (default: --shop)."),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            help="With --read: readings at least this confident are in force at once; the "
            "others wait for a review (default: agent.kb.DEFAULT_MIN_CONFIDENCE)."
        ),
    ] = None,
    llm: LlmOpt = None,
    adapter: AdapterOpt = "default",
    db: DbOpt = None,
    json: JsonOpt = False,
) -> None:
    """File a document (TEXT or @FILE) and, with --read, the directives read from it."""
    from agent.kb import DEFAULT_MIN_CONFIDENCE, add_and_read
    from agent.store.kb import DOCUMENT_KINDS

    body = _text_arg(text)
    day = _date(date, "--date")
    window = _opt_date(valid_from, "--valid-from"), _opt_date(valid_to, "--valid-to")
    if kind not in DOCUMENT_KINDS:  # checked before a reading costs seconds
        raise typer.BadParameter(f"--kind: {kind!r} is not one of {', '.join(DOCUMENT_KINDS)}")
    threshold = DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence
    if not 0.0 <= threshold <= 1.0:
        raise typer.BadParameter(f"--min-confidence: must lie in [0, 1], got {threshold}")
    reading = names = None
    if read:
        if not body.strip():
            raise typer.BadParameter("TEXT: must be a non-empty string (not only whitespace)")
        from agent.commands.kb import _reader
        from agent.kb import shop_names
        from envs.errors import ScenarioError

        try:
            names = shop_names(scenario or shop)
        except ScenarioError as exc:
            raise typer.BadParameter(
                f"--scenario: reading resolves names against a catalogue and {exc}; give "
                "--scenario NAME (the shop's scenario) or --no-read"
            ) from None
        reading = _reader(llm, adapter, False).read(body, day, names)
    with _session(db) as s:
        doc, rows = add_and_read(
            s, shop, text=body, doc_date=day,
            reader=None, reading=reading, names=names,
            min_confidence=threshold, kind=kind, title=title, source=source,
            author=author, valid_from=window[0], valid_to=window[1], skus=sku or (),
            categories=category or (), suppliers=supplier or (), supersedes=supersedes,
        )  # fmt: skip
        out = document_json(doc, text=False)
        out["directives"] = [directive_json(r) for r in rows]
    if json:
        typer.echo(_json.dumps(out))
        return
    typer.echo(
        f"filed document {out['doc_key']} version {out['version']} (id {out['id']}) for shop "
        f"{shop}" + (f", superseding version {out['version'] - 1}" if supersedes else "")
    )
    if not read:
        typer.echo("not read (--no-read): no directives")
        return
    _print_directives(out["directives"], f"Directives read by {reading.model}")
    waiting = sum(d["status"] == "pending_review" for d in out["directives"])
    if waiting:
        typer.echo(
            f"{waiting} reading(s) below confidence {threshold:g} wait for a person: "
            f"shopops kb pending --shop {shop}"
        )


def _print_directives(rows: list[dict[str, Any]], title: str) -> None:
    from rich.table import Table

    t = Table(title=title)
    for c in ("id", "directive", "confidence", "status", "review"):
        t.add_column(c, justify="right" if c in ("id", "confidence") else "left")
    for d in rows:
        review = ""
        if d["reviewed_by"]:
            review = f"{d['reviewed_by']} {d['reviewed_at']}"
            if d["review_reason"]:
                review += f": {d['review_reason']}"
        t.add_row(str(d["id"]), d["summary"], _confidence(d["confidence"]), d["status"], review)
    _console().print(t)


def kb_list(
    shop: ShopOpt,
    status: Annotated[
        str | None, typer.Option(help="Only this status: active, superseded or retired.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    on: Annotated[str | None, typer.Option(help="Only versions valid on this date.")] = None,
    json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """List the shop's document versions, newest first (every status unless --status)."""
    from agent.store.kb import list_documents

    day = _opt_date(on, "--on")
    with _session(db) as s:
        docs = list_documents(s, shop, status=status, kind=kind, on_date=day)
        counts = directive_counts(s, [d.id for d in docs])
        rows = [document_json(d, counts[d.id], text=False) for d in docs]
    if json:
        typer.echo(_json.dumps(rows))
        return
    from rich.table import Table

    t = Table(title=f"Knowledge base of {shop} ({len(rows)} versions)")
    for c in ("key", "v", "kind", "title", "dated", "valid", "status", "directives"):
        t.add_column(c, min_width=_WIDTH.get(c), overflow="fold")
    for d in rows:
        t.add_row(
            d["doc_key"], str(d["version"]), d["kind"], _one_line(d["title"], 40),
            d["doc_date"], _window(d), d["status"], _counts_text(d),
        )  # fmt: skip
    _console().print(t)


def _counts_text(d: dict[str, Any]) -> str:
    if not d["directive_count"]:
        return "0"
    parts = ", ".join(f"{n} {st}" for st, n in sorted(d["directive_statuses"].items()))
    return f"{d['directive_count']} ({parts})"


def kb_show(
    ref: Annotated[
        str,
        typer.Argument(
            metavar="KEY_OR_ID",
            help="A document key (its active or latest version) or a version's id.",
        ),
    ],
    shop: ShopOpt,
    json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Show one document version: its text, scope, history and directives with reviews."""

    with _session(db) as s:
        out = document_detail(s, _find(s, shop, ref))
    if json:
        typer.echo(_json.dumps(out))
        return
    con = _console()
    con.print(
        f"{out['doc_key']} version {out['version']} (id {out['id']}), {out['kind']}, "
        f"{out['status']}: {out['title'] or '(no title)'}"
    )
    facts = [
        ("dated", out["doc_date"]),
        ("valid", _window(out)),
        ("source", out["source"]),
        ("author", out["author"]),
        ("skus", ", ".join(out["skus"])),
        ("categories", ", ".join(out["categories"])),
        ("suppliers", ", ".join(out["suppliers"])),
        ("versions", ", ".join(f"{v['version']} {v['status']}" for v in out["versions"])),
    ]
    if out["status"] == "retired":
        facts.append(("retired", f"by {out['retired_by']} at {out['retired_at']}: "
                                 f"{out['retire_reason']}"))  # fmt: skip
    for k, v in facts:
        if v:
            con.print(f"  {k}: {v}")
    con.print("")
    con.print(out["text"])
    con.print("")
    if out["directives"]:
        _print_directives(out["directives"], "Directives")
    else:
        con.print("no directives (not read)")


def kb_retire(
    ref: Annotated[
        str, typer.Argument(metavar="KEY_OR_ID", help="A document key or an active version's id.")
    ],
    shop: ShopOpt,
    by: Annotated[str, typer.Option(help="Who retires it (recorded).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    db: DbOpt = None,
) -> None:
    """Retire a document: no longer searched, its directives no longer in force."""
    from agent.store import open_store
    from agent.store.kb import DocumentNotFoundError, retire_document

    store = open_store(db)
    ident = _ref(ref)
    try:
        try:
            with _option_errors(), store.session() as s:
                doc = retire_document(s, shop, ident, by=by, reason=reason)
                key, version = doc.doc_key, doc.version
        except DocumentNotFoundError:
            if isinstance(ident, str):
                raise
            with _option_errors(), store.session() as s:  # a key that is all digits
                doc = retire_document(s, shop, ref, by=by, reason=reason)
                key, version = doc.doc_key, doc.version
    finally:
        store.close()
    typer.echo(f"retired document {key} version {version} of shop {shop} (by {by})")


def kb_search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="Words to look for (any of them).")],
    shop: ShopOpt,
    on: Annotated[str | None, typer.Option(help="Only documents valid on this date.")] = None,
    sku: Annotated[
        list[str] | None, typer.Option(help="Only documents about this SKU or the whole shop.")
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(help="Only documents about this category or the whole shop."),
    ] = None,
    supplier: Annotated[
        list[str] | None,
        typer.Option(help="Only documents about this supplier or the whole shop."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many hits (1-100).")] = 10,
    json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Full-text search over the shop's active documents, most relevant first."""
    from agent.store.kb import search

    day = _opt_date(on, "--on")
    with _session(db) as s:
        hits = search(
            s, shop, query, on_date=day, skus=sku or (), categories=category or (),
            suppliers=supplier or (), limit=limit,
        )  # fmt: skip
        counts = directive_counts(s, [h.document.id for h in hits])
        rows = [
            {**document_json(h.document, counts[h.document.id], text=False),
             "score": h.score, "excerpt": _one_line(h.document.text, 160)}
            for h in hits
        ]  # fmt: skip
    if json:
        typer.echo(_json.dumps(rows))
        return
    from rich.table import Table

    t = Table(title=f"{len(rows)} documents of {shop} for {query!r}")
    for c in ("score", "key", "v", "kind", "title", "dated", "text"):
        t.add_column(
            c, justify="right" if c == "score" else "left", min_width=_WIDTH.get(c), overflow="fold"
        )
    for d in rows:
        t.add_row(
            f"{d['score']:.3f}", d["doc_key"], str(d["version"]), d["kind"],
            _one_line(d["title"], 30), d["doc_date"], _one_line(d["excerpt"], 60),
        )  # fmt: skip
    _console().print(t)


def kb_review(
    directive_id: Annotated[int, typer.Argument(help="The directive's id (see `kb pending`).")],
    shop: ShopOpt,
    verdict: Annotated[str, typer.Option(help="confirm, edit or reject.")],
    by: Annotated[str, typer.Option(help="Who reviews (recorded).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
    edit: Annotated[
        str | None,
        typer.Option(
            help='With --verdict edit: the directive as JSON, e.g. \'{"kind": "stop_sale", '
            '"skus": ["kettle-1"], "start": "2026-01-05", "reason": "recall"}\'.'
        ),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Confirm, edit or reject one reading; a review is final and recorded with who and why."""
    from agent.store.kb import review_directive

    payload = None
    if edit is not None:
        try:
            payload = _json.loads(edit)
        except ValueError as exc:
            raise typer.BadParameter(f"--edit: not valid JSON ({exc})") from None
    with _session(db) as s:
        row = review_directive(
            s, directive_id, verdict=verdict, by=by, reason=reason,
            edited_payload=payload, shop_id=shop,
        )  # fmt: skip
        done = directive_json(row)
    typer.echo(f"directive {done['id']} {done['status']} by {by}: {done['summary']}")


def kb_pending(
    shop: ShopOpt,
    include_proposed: Annotated[
        bool,
        typer.Option(
            "--include-proposed",
            help="Also list confident readings no person has reviewed (already in force).",
        ),
    ] = False,
    json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """The readings that wait for a person, oldest first, with their documents."""
    from agent.store.kb import pending_reviews

    with _session(db) as s:
        pairs = pending_reviews(s, shop, include_proposed=include_proposed)
        rows = [{**directive_json(d), "document": document_json(doc)} for d, doc in pairs]
    if json:
        typer.echo(_json.dumps(rows))
        return
    from rich.table import Table

    t = Table(title=f"{len(rows)} readings of {shop} waiting for a person")
    for c in ("id", "document", "dated", "directive", "confidence", "status"):
        t.add_column(c, justify="right" if c in ("id", "confidence") else "left")
    for d in rows:
        doc = d["document"]
        t.add_row(
            str(d["id"]), f"{doc['doc_key']} v{doc['version']} {_one_line(doc['title'], 30)}",
            doc["doc_date"], d["summary"], _confidence(d["confidence"]), d["status"],
        )  # fmt: skip
    _console().print(t)
    if rows:
        typer.echo(
            "review one: shopops kb review ID --shop SHOP --verdict confirm|edit|reject "
            "--by NAME --reason TEXT"
        )
