"""The whole schema in one metadata: the core tables (:mod:`agent.store.models`), the access
tables (:mod:`agent.store.auth`) and the real-shop tables (:mod:`agent.store.realdata`).

The table modules import ``Base`` from ``models`` and nothing imports them back; code that
needs every table (the migrations, a schema check) imports this module.
"""

from __future__ import annotations

from agent.store import auth, kb_models, realdata  # noqa: F401  (their tables join the metadata)
from agent.store.models import Base

__all__ = ["metadata"]

#: Every table of the store.
metadata = Base.metadata
