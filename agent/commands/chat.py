"""``shopops chat``: the approval chat in the terminal."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("chat")(chat)


def chat(
    db: Annotated[str | None, typer.Option(help="Store URL or SQLite file.")] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    by: Annotated[str | None, typer.Option(help="Your name, recorded with decisions.")] = None,
    say: Annotated[
        list[str] | None,
        typer.Option(
            help="Lines to handle without a terminal (repeatable): --say list --say 'accept 12 ok'."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="module:factory returning a LangChain chat model for "
            "free-form questions (default $SHOPOPS_CHAT_MODEL)."
        ),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option(
            help="A local language model for free-form questions (answered from the card, "
            "its signals and the knowledge base, citing them, with no number not in them) and "
            "instructions (read into directives, filed on `file it`): `default` (the converted "
            "SmolLM2) or a Hugging Face checkpoint path."
        ),
    ] = None,
    reader_adapter: Annotated[
        str,
        typer.Option(help="The reader's LoRA adapter for instructions: default, none or a path."),
    ] = "default",
) -> None:
    """List pending decisions, show cards, ask why, approve / edit / reject with a reason.

    Type `help` for the commands. Without a terminal and without --say it prints the pending
    decisions and stops instead of waiting for input.
    """
    import sys

    from rich.console import Console
    from rich.text import Text

    from agent.chat import ChatSession, load_chat_model, read_tools
    from agent.store import open_store

    console = Console()
    who = by or os.environ.get("USER") or _user()
    spec = model or os.environ.get("SHOPOPS_CHAT_MODEL")
    chat_model = load_chat_model(spec) if spec else None
    store = open_store(db)
    try:
        tools = read_tools(store, run_id) if chat_model is not None else []
        answerer, reader = load_local_llm(llm, reader_adapter) if llm else (None, None)
        session = ChatSession(store, who, run_id, chat_model, tools, answerer, reader)
        if say:
            for line in say:
                console.print(Text(f"> {line}", style="bold"))
                reply = session.handle(line)
                if reply is None:
                    break
                console.print(reply)
            return
        console.print(session.handle("list"))
        if not sys.stdin.isatty():
            console.print(
                "No terminal: not waiting for input (use --say to answer unattended)."
            )
            return
        console.print("Type `help` for commands, `quit` to leave.")
        while True:
            try:
                line = console.input("[bold cyan]you> [/bold cyan]")
            except (EOFError, KeyboardInterrupt):
                break
            reply = session.handle(line)
            if reply is None:
                break
            console.print(reply)
    finally:
        store.close()


def load_local_llm(llm: str, reader_adapter: str) -> tuple[object, object]:
    """The grounded answerer and the instruction reader on the local model ``llm``."""
    from agent.kb import cached_reader
    from policies.llm.grounded import GroundedAnswerer

    path = None if llm == "default" else llm
    return GroundedAnswerer.load(path), cached_reader({"llm": path, "adapter": reader_adapter})


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"
