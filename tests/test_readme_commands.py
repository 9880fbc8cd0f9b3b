"""Every command line the README shows runs as written (issue 18: "the README's commands
all run as written").

The command lines are read from the README itself (its ``bash`` blocks and inline
``shopops ...`` spans), so a line added there is tested here. Each runs in a fresh home
(``~/.shopops`` is a temporary folder) from the repository root, in the README's order:

* most run exactly as written, as a subprocess of the installed ``shopops``;
* ``<RUN_ID>`` is the id of the run the earlier lines made;
* lines that never end or run long by design (``--schedule``, ``serve``, the five-seed
  ``eval`` at about 90 s, training, benchmarks, ``make``) have their arguments parsed by
  the real CLI instead, and ``make demo``/``make test`` are what CI runs anyway;
* the real-shop lines need ``../shared/data`` and skip with a reason without it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED_DATA

README = REPO / "README.md"
PARSE_ONLY = (
    "--schedule", "shopops serve", "shopops eval ", "shopops train ", "shopops bench ",
    "shopops kb train",
)  # fmt: skip
REAL = ("--shop real-example", "--mapping uci-online-retail")


def readme_lines() -> list[str]:
    """The ``shopops`` / ``make`` lines of the README's ``bash`` blocks, comments removed."""
    text = README.read_text(encoding="utf-8")
    out: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line.startswith(("shopops ", "make ")) or line == "shopops":
                out.append(" ".join(line.split()))
    return out


def readme_spans() -> list[str]:
    """The ``shopops ...`` commands quoted in the README's prose and tables (whole commands
    only: spans with ``[optional]`` or ``<placeholder>`` syntax are descriptions)."""
    text = README.read_text(encoding="utf-8")
    spans = [" ".join(s.split()) for s in re.findall(r"`(shopops [^`]+)`", text)]
    return sorted({s for s in spans if not re.search(r"[\[<]", s)})


def _parse(argv: list[str]) -> None:
    """Parse ``argv`` with the real CLI (options and values), without running it."""
    from typer.main import get_command

    from agent.cli import app

    cmd = get_command(app)  # typer's click (typer may carry its own copy): duck-typed here
    try:
        ctx = cmd.make_context("shopops", list(argv), resilient_parsing=False)
        while hasattr(cmd, "resolve_command"):
            protected = list(getattr(ctx, "_protected_args", None) or [])
            name, cmd, rest = cmd.resolve_command(ctx, protected + list(ctx.args))
            ctx = cmd.make_context(name, rest, parent=ctx)
    except Exception as exc:
        if type(exc).__name__ != "Exit":  # --help ends parsing with Exit(0)
            raise AssertionError(f"shopops {' '.join(argv)}: {exc}") from exc


def _names_a_command(argv: list[str]) -> None:
    """``argv`` (no options) names an existing command or group."""
    from typer.main import get_command

    from agent.cli import app

    cmd = get_command(app)
    ctx = cmd.make_context("shopops", [], resilient_parsing=True)
    for word in argv:
        assert hasattr(cmd, "get_command"), argv
        sub = cmd.get_command(ctx, word)
        assert sub is not None, f"README names `shopops {' '.join(argv)}`: no such command"
        cmd = sub


def test_every_command_the_readme_quotes_parses():
    """Prose and tables quote benchmark and training commands that run for minutes to hours:
    each must at least be accepted, options and values, by the real CLI."""
    spans = readme_spans()
    assert len(spans) >= 20
    for span in spans:
        argv = shlex.split(span)[1:]
        if any(a.startswith("-") for a in argv):
            _parse(argv)
        else:
            _names_a_command(argv)


@pytest.mark.slow
def test_every_readme_command_runs_as_written(tmp_path):
    lines = readme_lines()
    assert any(x.startswith("shopops run") for x in lines) and len(lines) >= 15
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    # The reader's converted model is a cache, not state: share the user's (converted once).
    env.setdefault("SHOPOPS_MODELS", str(Path("~/.shopops/models").expanduser()))
    env.pop("SHOPOPS_DB", None)
    shopops = str(Path(sys.executable).with_name("shopops"))
    run_id = None
    ran, parsed, skipped = [], [], []
    outputs: dict[str, str] = {}
    for line in lines:
        if line.startswith("make "):
            parsed.append(line)  # CI runs `make test`; tests/test_cli.py runs the demo
            continue
        argv = shlex.split(line.replace("<RUN_ID>", run_id or "none"))[1:]
        if any(k in line for k in PARSE_ONLY):
            _parse(argv)
            parsed.append(line)
            continue
        if any(k in line for k in REAL) and not SHARED_DATA.is_dir():
            skipped.append(line)
            continue
        if "../shared/data" in line:
            argv = [str(SHARED_DATA) if a == "../shared/data" else a for a in argv]
        argv = [str(home) + a[1:] if a.startswith("~/") else a for a in argv]  # as a shell
        res = subprocess.run([shopops, *argv], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=600, stdin=subprocess.DEVNULL)
        assert res.returncode == 0, f"{line}\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
        assert "Traceback" not in res.stderr, (line, res.stderr[-3000:])
        ran.append(line)
        outputs[line] = res.stdout
        if argv[:1] == ["run"] and run_id is None:
            m = re.search(r"Run ([0-9a-f]{12})", res.stdout)
            run_id = m.group(1) if m else None
    assert not (REPO / "orders.csv").exists()  # nothing is written into the repository
    # a scenario replay keeps out of the live store (it never becomes the open run)
    from sqlalchemy import select

    from agent.store import open_store
    from agent.store.models import Run

    live = open_store(str(home / ".shopops" / "shopops.db"))
    with live.session() as s:
        shops = set(s.scalars(select(Run.shop_id)))
    live.close()
    assert (home / ".shopops" / "replays.db").exists() and not any(
        x.startswith("replay-") for x in shops), shops
    for line, out in outputs.items():  # a real shop's hints name its own store
        if line.startswith("shopops run --shop"):
            assert "outbox list --shop real-example" in out, out[-500:]
    assert not (REPO / "~").exists()
    assert run_id and len(ran) + len(skipped) >= 8, (ran, parsed, skipped)
    assert len(ran) + len(parsed) + len(skipped) == len(lines)
    real_db = home / ".shopops" / "real-example.db"
    if real_db.exists():  # break 8: no proposal goes to a person against its own what-if
        from agent.runner import pending_cards
        from agent.store import open_store

        store = open_store(str(real_db))
        cards = pending_cards(store)
        store.close()
        for c in cards:
            eff, need = c.get("effect", {}), c["why"]["need_units"]
            assert not (eff.get("profit_delta", 0) < 0 and need <= 0), c["summary"]
    if skipped:
        pytest.skip(f"ran {len(ran)}, parsed {len(parsed)}; real-data lines skipped: no "
                    f"{SHARED_DATA}")


def test_the_checkpoint_records_commands_still_parse():
    """RECORD.md says how each shipped checkpoint was trained, command by command; those
    commands must stay runnable as written (options generated from the run configs)."""
    record = REPO / "policies" / "lm" / "checkpoints" / "default" / "RECORD.md"
    lines = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", record.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if "shopops " in line and not re.search(r"[<\[|&]", line):
                lines.append(line[line.index("shopops "):])
    assert len(lines) >= 20
    for line in lines:
        _parse(shlex.split(line)[1:])
