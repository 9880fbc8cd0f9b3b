"""The web approval console and its API (``shopops serve``).

* :mod:`agent.web.auth`: API users, tokens (stored hashed) and shop grants; who may do what.
* :mod:`agent.web.schemas`: the API's request and response models (OpenAPI comes from them).
* :mod:`agent.web.queries`: what the API reads from the store (decisions, runs, alerts).
* :mod:`agent.web.chat`: the chat box, a :class:`agent.chat.ChatSession` that checks roles.
* :mod:`agent.web.routes`: the endpoints; :mod:`agent.web.app`: the app factory.
* ``static/``: the console, one HTML page and a small vanilla JS file drawing SVG charts;
  it touches data only through the API.

Light on import: FastAPI and SQLAlchemy are imported by :mod:`agent.web.app` and the
modules it loads, never by ``shopops --help``.
"""
