"""Crash safety: SIGKILL in the middle of a run, then resume from a new process.

The run (risky mode, no inline approver) leaves two risky orders of day 0 pending, closes
day 0, and is killed on day 1 inside ``act`` after some executions committed. A new process
resumes: every automatic action of day 1 executes exactly once, none is lost, day 1's
outcome equals an uncrashed reference run, and the day-0 approval is still pending and can
be answered (its actions then execute once, on the open day).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from agent.store import open_store
from agent.store.models import Action, DayOutcome, Execution, Run

SCRIPT = textwrap.dedent('''
    import os, signal, sys
    from envs import PlanArrays
    from tools.sim_shop import SimShop
    from tools.risk import ApprovalPolicy
    from agent.store import open_store
    from agent.checkpoint import open_checkpointer
    from agent.runner import RunOptions, Runner, create_run, load_context

    class ManyOrders:
        """Every day 10 units of each pantry/household SKU; on day 0 400 units of two of them
        (which wait for a person; no later order supersedes them)."""
        name = "many_orders"
        def reset(self, sim):
            self.n = sim.n
            cheap = [i for i, c in enumerate(sim.catalog.category)
                     if sim.catalog.category_names[c] in ("pantry", "household")]
            self.cheap = cheap
        def act(self, view, sim):
            a = PlanArrays.empty(self.n)
            a.order_qty[self.cheap] = 10
            a.order_qty[self.cheap[:2]] = 400 if view.day == 0 else 0
            return a

    class KillingShop(SimShop):
        """The real simulator backend; SIGKILLs its own process after N executions."""
        def execute(self, line, key):
            out = super().execute(line, key)
            left = int(os.environ.get("KILL_AFTER", "0"))
            if left and self.day == 1:
                self.count = getattr(self, "count", 0) + 1
                if self.count >= left:
                    os.kill(os.getpid(), signal.SIGKILL)
            return out

    mode, db = sys.argv[1], sys.argv[2]
    store = open_store(db)
    if mode == "start":
        ap = ApprovalPolicy(mode="risky", threshold=0.5, spend_alert=1000.0, deadline_days=5,
                            weights={"deviation": 0, "drift": 0, "anomaly": 0},
                            execute_safe_part=False)
        run_id = create_run(store, RunOptions(scenario="steady", seed=7, policy="many_orders",
                                              approval=ap, signals="ema", exec_chunk=2),
                            policy=ManyOrders())
        print(run_id, flush=True)
        with open_checkpointer(store.url) as saver:
            ctx = load_context(store, run_id, shop_factory=KillingShop)
            runner = Runner(ctx, saver, approver=None)
            runner.run(days=int(sys.argv[3]))
    elif mode == "resume":
        run_id = sys.argv[3]
        with open_checkpointer(store.url) as saver:
            ctx = load_context(store, run_id)
            runner = Runner(ctx, saver, approver=None)
            runner.run(days=1)
''')


def _run(script: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    root = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        cwd=root,
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_mid_run_then_resume(backend, request, tmp_path):
    script = tmp_path / "crashrun.py"
    script.write_text(SCRIPT)
    db = (
        str(tmp_path / "crash.db")
        if backend == "sqlite"
        else request.getfixturevalue("pg_database")
    )

    # 1. start and get killed on day 1 after 5 executions (chunks of 2: 4 committed)
    first = _run(script, "start", db, "3", env_extra={"KILL_AFTER": "5"})
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    run_id = first.stdout.split()[0]

    store = open_store(db)
    with store.session() as s:
        run = s.get(Run, run_id)
        assert run.current_day == 1  # day 0 closed, day 1 open
        day0 = s.scalars(select(Action).where(Action.run_id == run_id, Action.day == 0)).all()
        pending0 = sorted(a.id for a in day0 if a.status == "pending")
        assert len(pending0) == 2  # the two 400-unit orders wait for a person
        day1_before = s.scalars(
            select(Execution).where(Execution.run_id == run_id, Execution.day == 1)
        ).all()
        assert 0 < len(day1_before) < 10  # killed mid-act, some executions committed

    # 2. resume from a new process: finishes day 1 and closes it
    second = _run(script, "resume", db, run_id)
    assert second.returncode == 0, second.stderr[-3000:]

    with store.session() as s:
        acts1 = s.scalars(select(Action).where(Action.run_id == run_id, Action.day == 1)).all()
        auto1 = {a.idempotency_key for a in acts1 if a.risk < 0.5}
        ex1 = s.scalars(
            select(Execution).where(Execution.run_id == run_id, Execution.day == 1)
        ).all()
        keys = Counter(e.idempotency_key for e in ex1)
        assert all(n == 1 for n in keys.values())  # exactly once
        assert set(keys) == auto1  # none lost, nothing else executed
        assert s.get(Run, run_id).current_day == 2
        out1 = s.get(DayOutcome, (run_id, 1))
        assert out1.totals["lines_applied"] == len(auto1)
        still = sorted(
            a.id
            for a in s.scalars(
                select(Action).where(
                    Action.run_id == run_id, Action.day == 0, Action.status == "pending"
                )
            )
        )
        assert still == pending0  # the approval is still pending

    # 3. the same two days without a crash give the same outcome (backend-independent)
    if backend == "sqlite":
        ref_db = str(tmp_path / "ref.db")
        ref = _run(script, "start", ref_db, "2")
        assert ref.returncode == 0, ref.stderr[-2000:]
        ref_store = open_store(ref_db)
        ref_id = ref.stdout.split()[0]
        with ref_store.session() as s:
            ref1 = s.get(DayOutcome, (ref_id, 1))
            assert ref1.profit == pytest.approx(out1.profit)
            assert ref1.totals == out1.totals
        ref_store.close()

    # 4. the pending approval can still be answered; its actions execute once, on day 2
    from agent.answers import DecisionConflictError
    from agent.runner import answer_pending

    answer = {
        "by": "dana",
        "decisions": {str(i): {"choice": "accept", "reason": "ok"} for i in pending0},
    }
    res = answer_pending(store, run_id, answer)
    assert {d.status for d in res.decisions} == {"executed"}
    with pytest.raises(DecisionConflictError, match="already answered by dana"):
        answer_pending(store, run_id, answer)  # answering twice: nothing is pending any more
    with store.session() as s:
        late = s.scalars(select(Execution).where(Execution.action_id.in_(pending0))).all()
        assert sorted(e.action_id for e in late) == pending0
        assert {e.applied_day for e in late} == {2}
    store.close()


@pytest.mark.slow
def test_two_runs_of_one_run_id_at_once_fail_cleanly(tmp_path):
    """Issue 18: two concurrent `shopops run --run ID` died with a raw IntegrityError. One
    drives the run; the other stops with a one-line error; nothing executes twice."""
    db = str(tmp_path / "two.db")
    shopops = str(Path(sys.executable).with_name("shopops"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.run([shopops, "run", "--db", db, "--policy", "base_stock", "--json"],
                           capture_output=True, text=True, env=env, timeout=240)
    assert first.returncode == 0, first.stderr[-2000:]
    import json

    run_id = json.loads(first.stdout)["run_id"]
    cmd = [shopops, "run", "--db", db, "--run", run_id, "--days", "4"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err and "IntegrityError:" not in err, err[-3000:]
        if p.returncode != 0:
            assert "another process" in err, err[-2000:]
    assert any(p.returncode == 0 for p in procs)
    store = open_store(db)
    with store.session() as s:
        keys = Counter(s.scalars(select(Execution.idempotency_key)
                                 .where(Execution.run_id == run_id)))
        days = list(s.scalars(select(DayOutcome.day).where(DayOutcome.run_id == run_id)))
    assert all(n == 1 for n in keys.values())
    assert sorted(days) == sorted(set(days))  # each day closed once
    store.close()
