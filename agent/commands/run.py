"""``shopops run``: one scheduled run for a shop (cron), N simulated days, or a schedule."""

from __future__ import annotations

import contextlib
import json as _json
from typing import Annotated

import typer

from agent.defaults import DEFAULT_POLICY

_DB_HELP = "Store URL or SQLite file (default $SHOPOPS_DB or ~/.shopops/shopops.db)."


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.command("run")(run)


def run(
    scenario: Annotated[str, typer.Option(help="Scenario of a new simulated shop.")] = "steady",
    days: Annotated[int, typer.Option(help="Days to run back to back (progress bar).")] = 1,
    policy: Annotated[str, typer.Option(help="Decision policy (registry name).")] = DEFAULT_POLICY,
    approval_mode: Annotated[
        str, typer.Option(help="auto | confirm | risky (only actions above the threshold wait).")
    ] = "risky",
    approver: Annotated[
        str,
        typer.Option(
            help="Who answers now: none (wait for `shopops chat`) | scripted | "
            "accept | reject | terminal."
        ),
    ] = "none",
    threshold: Annotated[float, typer.Option(help="Risk from which an action waits.")] = 0.5,
    deadline_days: Annotated[
        int, typer.Option(help="Days a pending action waits, then expires.")
    ] = 2,
    rules: Annotated[str | None, typer.Option(help="Rules file (YAML).")] = None,
    seed: Annotated[int, typer.Option(help="Episode seed of a new simulated shop.")] = 0,
    run_id: Annotated[str | None, typer.Option("--run", help="Continue this run.")] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Start a new run even if the shop has an open one.")
    ] = False,
    shop: Annotated[
        str | None,
        typer.Option(
            help="Shop name (default sim-<scenario>), or a real shop: a shop.yaml path or an "
            "examples/ name (e.g. real-example) runs on imported data and writes the outbox."
        ),
    ] = None,
    signals: Annotated[str, typer.Option(help="auto | hub | ema.")] = "auto",
    schedule: Annotated[
        str | None,
        typer.Option(
            help="Cron expression ('0 6 * * *'): run one day per tick, in-process, until stopped."
        ),
    ] = None,
    max_ticks: Annotated[
        int | None, typer.Option(help="With --schedule: stop after N ticks.")
    ] = None,
    db: Annotated[str | None, typer.Option(help=_DB_HELP)] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    kb: Annotated[
        bool,
        typer.Option(
            "--kb/--no-kb",
            help="A new simulated run reads the day's notices into the knowledge base with "
            "the LLM reader and applies the directives in force (see `shopops kb --help`).",
        ),
    ] = False,
    llm: Annotated[
        str | None, typer.Option(help="With --kb: the reader's local checkpoint folder.")
    ] = None,
    reader_adapter: Annotated[
        str, typer.Option(help="With --kb: the reader's LoRA adapter (default | none | path).")
    ] = "default",
) -> None:
    """Run the agent: sense, plan, check, route, act, learn for each day; risky decisions wait.

    Without --run it continues the shop's open run (cron-friendly: one call per day) or
    starts a new one. Pending approvals never block the run; answer them with `shopops chat`.
    """
    from agent.runner import run_shop_days
    from tools.real_shop_config import find_shop_config

    state = {"run_id": run_id, "new": new, "ticks": 0}
    real = shop is not None and find_shop_config(shop) is not None

    def once(n: int, progress: bool) -> None:
        if real:  # --- a real shop (SqlShop, outbox): agent/real_run.py ---
            _once_real(n, progress)
            return
        summary = run_shop_days(
            scenario=scenario,
            days=n,
            policy=policy,
            approval_mode=approval_mode,
            approver=approver,
            threshold=threshold,
            deadline_days=deadline_days,
            rules_path=rules,
            seed=seed,
            run_id=state["run_id"],
            new=state["new"],
            shop_id=shop,
            signals=signals,
            db_url=db,
            progress=progress and not json,
            knowledge=kb,
            llm=llm,
            reader_adapter=reader_adapter,
        )
        state["run_id"], state["new"] = summary.run_id, False  # later ticks continue it
        if json:
            typer.echo(_json.dumps(summary.to_dict(), default=str))
        else:
            from agent.commands.status import print_summary

            print_summary(summary)

    def _once_real(n: int, progress: bool) -> None:
        from agent.real_run import run_real_shop

        res = run_real_shop(
            shop,
            days=n,
            policy=policy,
            approval_mode=approval_mode,
            approver=approver,
            threshold=threshold,
            deadline_days=deadline_days,
            rules_path=rules,
            run_id=state["run_id"],
            new=state["new"],
            db_url=db,
            progress=progress and not json,
        )
        state["run_id"], state["new"] = res.summary.run_id, False
        if json:
            typer.echo(_json.dumps(res.to_dict(), default=str))
            return
        from rich.console import Console

        Console(markup=False).print(res.render())
        pend = res.summary.pending
        db_flag = f" --db {db}" if db else ""
        typer.echo(
            f"see `shopops outbox list --shop {shop}{db_flag}`"
            + (f"; answer {pend} pending with `shopops chat --db {res.summary.db_url}`"
               if pend else "")
        )

    if schedule is None:
        once(days, progress=days > 1)
        return
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    from agent.errors import AgentConfigError

    try:
        trigger = CronTrigger.from_crontab(schedule)
    except ValueError as exc:
        raise AgentConfigError(
            f"--schedule: {schedule!r} is not a cron expression (minute hour day month "
            f"weekday): {exc}"
        ) from None
    sched = BlockingScheduler()

    def tick() -> None:
        once(1, progress=False)
        state["ticks"] += 1
        if max_ticks is not None and state["ticks"] >= max_ticks:
            sched.shutdown(wait=False)

    sched.add_job(tick, trigger, max_instances=1, coalesce=True)
    typer.echo(f"scheduled: {schedule} (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        sched.start()
