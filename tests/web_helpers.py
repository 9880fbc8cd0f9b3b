"""Shared set-up for the web tests: real runs left waiting, real tokens, a real HTTP server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from agent.runner import RunSummary, run_shop_days

REPO = Path(__file__).resolve().parents[1]


def pending_run(db: str, shop_id: str, days: int = 1, seed: int = 0) -> RunSummary:
    """``shopops run --approver none`` in confirm mode: every decision of ``days`` waits.

    The base-stock heuristic decides (its 50+ first-days orders are what the load test
    needs; the console's behaviour does not depend on the policy)."""
    return run_shop_days(
        scenario="steady",
        policy="base_stock",
        days=days,
        approval_mode="confirm",
        approver=None,
        deadline_days=20,
        shop_id=shop_id,
        signals="ema",
        seed=seed,
        db_url=db,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def live_server(db: str) -> Iterator[str]:
    """``create_app(db)`` served by uvicorn in a thread; yields the base URL."""
    import uvicorn

    from agent.web.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning")
    )
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not th.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        th.join(timeout=30)


@contextlib.contextmanager
def serve_process(db: str) -> Iterator[str]:
    """``shopops serve --db DB`` in its own process; yields the base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve", "--db", db, "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"shopops serve exited: {proc.stdout.read().decode()}")
            try:
                if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("shopops serve did not start within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def client(url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=120)
