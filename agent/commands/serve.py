"""``shopops serve``: the web approval console and its HTTP API over the store."""

from __future__ import annotations

import os
from typing import Annotated

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    db: Annotated[str | None, typer.Option(help="Store URL or SQLite file.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (localhost by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    model: Annotated[
        str | None,
        typer.Option(
            help="module:factory returning a LangChain chat model for free-form questions "
            "in the chat box (default $SHOPOPS_CHAT_MODEL)."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    kb_reader: Annotated[
        str | None,
        typer.Option(
            help="Read documents filed over the API (POST /api/kb/documents with read=true) "
            "with this reader adapter: 'default', 'none' or a folder (loads the LLM at start)."
        ),
    ] = None,
    chat_llm: Annotated[
        str | None,
        typer.Option(
            help="A local language model for questions in the chat box and POST "
            "/api/decisions/{id}/ask (answered from the card and the knowledge base, citing "
            "them, with no number not in them): 'default' (the converted SmolLM2) or a "
            "checkpoint path. With --kb-reader, chat lines that are instructions are read "
            "too, and filed on `file it`."
        ),
    ] = None,
) -> None:
    """Serve the approval console at http://HOST:PORT/ and the API under /api.

    The API is documented at /docs (OpenAPI at /openapi.json). Every request needs a token
    (`shopops tokens create --user NAME --role approver --shop SHOP`), sent as
    `Authorization: Bearer <token>`; the console asks for it once per browser tab.
    """
    import uvicorn

    from agent.web.app import create_app

    app = create_app(db, chat_model=model or os.environ.get("SHOPOPS_CHAT_MODEL"))
    if kb_reader is not None:
        from agent.kb import cached_reader

        app.state.kb_reader = cached_reader({"adapter": kb_reader})
    if chat_llm is not None:
        from policies.llm.grounded import GroundedAnswerer

        app.state.answerer = GroundedAnswerer.load(None if chat_llm == "default" else chat_llm)
    typer.echo(f"ShopOps console on http://{host}:{port}/ (API docs: /docs); Ctrl+C stops it")
    uvicorn.run(app, host=host, port=port, log_level=log_level)
