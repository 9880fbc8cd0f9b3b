"""The web app: the API (:mod:`agent.web.routes`, :mod:`agent.web.kb`), the console's static
files, error mapping.

:func:`create_app` opens (and migrates) the store once, at creation, so a bad ``--db`` fails
before the server listens; the store is closed when the app shuts down. Typed errors become
JSON ``{"detail": ..., "code": ...}`` with their status (see :mod:`agent.web.errors`);
request validation errors keep FastAPI's 422 field errors. Nothing here logs a header or a
body, so tokens never reach the logs (uvicorn's access log has the path only).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from agent.answers import DecisionConflictError
from agent.errors import AgentConfigError, ApprovalError, RunNotFoundError, RunStateError
from agent.web.errors import AuthError, ForbiddenError, NotFoundError
from envs.errors import ShopOpsError
from policies.llm.errors import ReaderError

__all__ = ["STATIC", "create_app"]

#: The console's files.
STATIC = Path(__file__).resolve().parent / "static"

# (error class, HTTP status, code), most specific first.
_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (AuthError, 401, "auth"),
    (ForbiddenError, 403, "forbidden"),
    (NotFoundError, 404, "not_found"),
    (RunNotFoundError, 404, "not_found"),
    (DecisionConflictError, 409, "conflict"),
    (ApprovalError, 422, "invalid"),
    (RunStateError, 409, "state"),
    (AgentConfigError, 503, "unavailable"),
    (ReaderError, 422, "invalid"),
)


def _problem(_request: Request, exc: Exception) -> JSONResponse:
    status, code = 500, "error"  # a store failure, say: the message names no secret
    for cls, st, c in _STATUS:
        if isinstance(exc, cls):
            status, code = st, c
            break
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body: dict[str, Any] = {"detail": str(exc), "code": code}
    if isinstance(exc, DecisionConflictError):
        body["status"] = exc.status  # the real status: the reply tells who won and how
    return JSONResponse(body, status_code=status, headers=headers)


def _finite(x: Any) -> Any:
    """``x`` with non-finite floats as strings (JSON has no NaN or Infinity)."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body, safe for inputs JSON cannot carry back (``NaN``, ``Infinity``)."""
    from fastapi.encoders import jsonable_encoder

    errors = [_finite(jsonable_encoder(e)) for e in exc.errors()]  # type: ignore[attr-defined]
    return JSONResponse({"detail": errors}, status_code=422)


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    """Any other failure (the store, say): a JSON 500 that says nothing was changed. An
    answer is one transaction, so a failure anywhere in it left nothing behind."""
    return JSONResponse(
        {"detail": f"the request failed and nothing was changed ({type(exc).__name__}); "
                   "try again", "code": "error"},
        status_code=500,
    )


def create_app(db_url: str | None = None, chat_model: str | None = None) -> FastAPI:
    """The console and API over the store at ``db_url`` (default: ``$SHOPOPS_DB``...).

    Args:
        db_url: store URL or SQLite file.
        chat_model: ``module:factory`` of a LangChain chat model for free-form chat lines.

    Raises:
        StoreError: the store cannot be opened or migrated.
        AgentConfigError: the chat model cannot be loaded.
    """
    from agent.store import open_store

    store = open_store(db_url)
    model: Any = None
    if chat_model:
        from agent.chat import load_chat_model

        model = load_chat_model(chat_model)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="ShopOps approval API",
        version="1",
        summary="Pending decisions with their cards; approve, edit or reject; runs and alerts.",
        description=(
            "Every request needs `Authorization: Bearer <token>` (`shopops tokens create`). "
            "Viewers read; approvers answer decisions of the shops they are granted; admins "
            "answer everywhere. Every answer is recorded with its user and reason. Two "
            "answers to one decision: exactly one wins, the other gets 409."
        ),
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.chat_model = model
    app.state.answerer = None  # shopops serve --chat-llm: the local model for questions
    app.state.chat_memory = {}  # instructions waiting for `file it`, by (person, run)
    app.add_exception_handler(ShopOpsError, _problem)
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _unexpected)

    from agent.web import kb
    from agent.web.routes import router

    app.include_router(router)
    kb.install(app)  # /api/kb and its errors
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)

    @app.get("/kb", include_in_schema=False)
    def kb_page() -> FileResponse:
        return FileResponse(STATIC / "kb.html", headers=_PAGE_HEADERS)

    return app


# The console's pages: never cached, scripts and data from this origin only.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
    ),
}
