"""``shopops tokens``: create prints the token once, list never shows secrets, revoke works."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agent.cli import app
from agent.store import open_store
from agent.web.auth import authenticate
from agent.web.errors import AuthError


def test_create_list_revoke(tmp_path):
    db = str(tmp_path / "t.db")
    r = CliRunner()
    res = r.invoke(app, ["tokens", "create", "--user", "ann", "--db", db])
    assert res.exit_code != 0 and "give a --role" in str(res.exception)
    res = r.invoke(
        app,
        [
            "tokens",
            "create",
            "--user",
            "ann",
            "--role",
            "approver",
            "--shop",
            "s1",
            "--shop",
            "s2",
            "--db",
            db,
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    made = json.loads(res.output)
    token = made["token"]
    assert token.startswith("sot_") and len(token) > 40 and made["shops"] == ["s1", "s2"]
    store = open_store(db)
    try:
        who = authenticate(store, token)
        assert (who.name, who.role, who.shops) == ("ann", "approver", frozenset({"s1", "s2"}))
        listed = r.invoke(app, ["tokens", "list", "--db", db, "--json"]).output
        assert token not in listed and token[8:20] not in listed
        assert json.loads(listed)[0]["prefix"] == token[:8]
        assert r.invoke(app, ["tokens", "list", "--db", db]).exit_code == 0
        res = r.invoke(app, ["tokens", "revoke", token[:8], "--db", db])
        assert res.exit_code == 0 and "revoked token" in res.output
        try:
            authenticate(store, token)
        except AuthError as exc:
            assert "revoked" in str(exc) and token not in str(exc)
        else:
            raise AssertionError("a revoked token still authenticates")
        bad = r.invoke(app, ["tokens", "revoke", "nope", "--db", db])
        assert bad.exit_code != 0 and "no token" in str(bad.exception)
    finally:
        store.close()
