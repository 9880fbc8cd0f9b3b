"""The console end to end in a real headless Chromium (Debian's, driven by Playwright).

A real run is left waiting (confirm mode, no approver); a real server serves the console.
In the browser: sign in with a token, see the pending decision with its card and charts,
edit the quantity and approve, and see the run resume and the edited action executed; ask
the chat box about another decision. Skips with the reason when Chromium or Playwright is
missing (``eval "$(bash .ci/chromium.sh)"`` installs Chromium).

``SHOPOPS_UPDATE_SCREENSHOT=1`` also writes the console's screenshot to docs/console.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from agent.store import open_store
from agent.store.models import Action, Approval, Execution
from agent.web.auth import create_token
from tests.web_helpers import REPO, live_server, pending_run

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = os.environ.get("SHOPOPS_CHROMIUM") or shutil.which("chromium") or ""
    if not path or not Path(path).exists():
        pytest.skip('no Chromium (run `eval "$(bash .ci/chromium.sh)"` to install it)')
    return path


@pytest.fixture
def browser_page(tmp_path):
    exe = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "profile"),  # a fresh profile every time
            executable_path=exe,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1500, "height": 1000},
            timeout=60_000,
        )
        page = ctx.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "console",
            lambda m: (
                errors.append(m.text)
                if m.type == "error"
                and "Failed to load resource" not in m.text  # the 401 we provoke
                else None
            ),
        )
        try:
            yield page, errors
        finally:
            ctx.close()


def test_sign_in_edit_and_approve_then_see_it_executed(browser_page, tmp_path):
    page, errors = browser_page
    db = str(tmp_path / "console.db")
    run = pending_run(db, "demo-shop", days=3)
    store = open_store(db)
    token, _ = create_token(store, "alice", role="approver", shops=["demo-shop"])
    with live_server(db) as url:
        page.goto(url + "/")
        page.fill("#token", "sot_wrong")
        page.click("#login")
        page.wait_for_selector("#login-error:has-text('invalid API token')")
        page.fill("#token", token)
        page.click("#login")
        page.wait_for_selector("#pending li.decision")
        assert "alice" in page.inner_text("#user")

        first = page.locator("#pending li.decision").first
        aid = int(first.get_attribute("data-id"))
        with store.session() as s:
            act = s.get(Action, aid)
            assert act.status == "pending" and act.run_id == run.run_id
            proposed = int(act.params["quantity"])
        first.click()
        page.wait_for_selector("#card:not([hidden])")
        assert page.inner_text("#card-status") == "pending"
        assert f"#{aid}" in page.inner_text("#card-title")
        assert page.locator("#chart-forecast polyline.mean").count() == 1
        assert page.locator("#chart-forecast polygon.band").count() == 1
        assert page.locator("#chart-cover polyline").count() >= 1
        assert "What-if" in page.inner_text("#card-facts")
        assert page.locator("#chart-profit rect.bar").count() == 3  # three closed days

        new_qty = max(1, proposed // 2)
        page.fill("#quantity", str(new_qty))
        page.fill("#reason", "half now, review next week")
        assert page.inner_text("#btn-approve") == "Approve with edit"
        page.click("#btn-approve")
        page.wait_for_selector("#answer-result.ok")
        result = page.inner_text("#answer-result")
        assert "Executed" in result and f"×{new_qty}" in result and "alice" in result
        page.wait_for_selector("#card-status:has-text('executed')")
        page.locator(f"#pending li[data-id='{aid}']").wait_for(state="detached")  # list refreshed

        with store.session() as s:
            ex = s.scalars(select(Execution).where(Execution.action_id == aid)).all()
            assert [e.params["quantity"] for e in ex] == [new_qty]
            ap = s.scalar(select(Approval).where(Approval.action_id == aid))
            assert (ap.decision, ap.by, ap.reason, ap.edit) == (
                "edit",
                "alice",
                "half now, review next week",
                {"quantity": new_qty},
            )

        other = int(page.locator("#pending li.decision").first.get_attribute("data-id"))
        page.fill("#chat-input", f"why {other}")
        page.press("#chat-input", "Enter")
        page.wait_for_selector("#chat-log pre.bot")
        assert "waits because its risk" in page.inner_text("#chat-log")

        shot = tmp_path / "console.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("SHOPOPS_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, REPO / "docs" / "console.png")
    store.close()
    assert not errors, errors
