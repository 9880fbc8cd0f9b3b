"""Training commands: ``shopops train base-stock`` (tune the heuristic), ``shopops train ppo``."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer, bench: typer.Typer) -> None:
    train = typer.Typer(
        help="Tune or train policies (the tuned heuristic, PPO).", no_args_is_help=True
    )
    train.command("base-stock")(train_base_stock)
    train.command("ppo")(train_ppo)
    app.add_typer(train, name="train")
    bench.command("policies")(bench_policies)


def _parse_seeds(text: str) -> list[int]:
    """``"1000-1003"`` or ``"1000,1001"`` to a list of ints (typed error on bad input)."""
    from agent.config_cli import parse_int_list
    from policies.errors import PolicyConfigError

    try:
        seeds = list(parse_int_list(text))
    except ValueError:
        raise PolicyConfigError(
            f"--seeds: expected numbers like '1000-1003' or '1000,1001'; got {text!r}"
        ) from None
    if not seeds:
        raise PolicyConfigError(f"--seeds: no seeds in {text!r}")
    return seeds


def train_base_stock(
    scenario: Annotated[
        str, typer.Option(help="Scenario name, or several comma-separated to pool them.")
    ] = "steady",
    seeds: Annotated[str, typer.Option(help="Training seeds ('1000-1003' or '1000,1001').")] = (
        "1000-1003"
    ),
    passes: Annotated[int, typer.Option(help="Maximum coordinate-search passes.")] = 2,
    shared: Annotated[
        bool, typer.Option("--shared", help="One parameter set for all categories.")
    ] = False,
    out: Annotated[
        str | None, typer.Option(help="Output JSON (default policies/tuned/<scenario>.json).")
    ] = None,
    allow_held_out: Annotated[
        bool, typer.Option("--allow-held-out", help="Permit tuning on a held-out scenario.")
    ] = False,
) -> None:
    """Tune the base-stock heuristic per category on training seeds and save the parameters.

    Coordinate search over service level, review period, joint-replenishment threshold,
    forecast weight and markdown rules (see ``policies/tuning.py``); writes the parameters,
    the seeds used and the profit before and after to a JSON file that
    ``base_stock_tuned`` loads.
    """
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from policies.tuning import tune_base_stock

    names = [s.strip() for s in scenario.split(",") if s.strip()]
    console = Console(markup=False)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("tuning", total=None)
        record = tune_base_stock(
            names if len(names) > 1 else names[0],
            seeds=_parse_seeds(seeds),
            passes=passes,
            out=out,
            shared=shared,
            allow_held_out=allow_held_out,
            progress=lambda line: bar.update(task, description=line),
        )
    t = Table(title=f"Tuned base-stock: {record['scenario']} (seeds {record['seeds']})")
    t.add_column("group")
    fields = list(record["default"])
    for field in fields:
        t.add_column(field, justify="right")
    rows = {"default": record["default"], **record["per_category"]}
    for group, params in rows.items():
        t.add_row(group, *(str(params[k]) for k in fields))
    console.print(t)
    console.print(
        f"mean profit: default parameters {record['profit_default_params']:,.0f} -> "
        f"tuned {record['profit_tuned']:,.0f} ({record['evaluations']} evaluations)"
    )


def train_ppo(
    scenario: Annotated[str, typer.Option(help="Scenario to train on.")] = "steady",
    timesteps: Annotated[int, typer.Option(help="Total environment steps (days).")] = 200_000,
    n_envs: Annotated[int, typer.Option(help="Parallel environments (DummyVecEnv).")] = 4,
    seed: Annotated[int, typer.Option(help="Training seed (env seeds derive from it).")] = 1000,
    out: Annotated[
        str | None, typer.Option(help="Run folder (default artifacts/ppo/<scenario>__<seed>).")
    ] = None,
    n_steps: Annotated[int, typer.Option(help="Rollout steps per env per update.")] = 180,
    batch_size: Annotated[int, typer.Option(help="Minibatch size.")] = 180,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = 3e-4,
    device: Annotated[str, typer.Option(help="Torch device (cpu, cuda, auto).")] = "cpu",
) -> None:
    """Train stable-baselines3 PPO on the Gymnasium env; save model, VecNormalize and curve.

    Writes ``model.zip``, ``vecnormalize.pkl``, ``curve.csv``, ``curve.png`` and
    ``run.json`` (the budget, hyperparameters and final figures) to the run folder;
    ``make_policy("ppo", path=<folder>)`` loads it.
    """
    from rich.console import Console

    from policies.ppo_train import PPOTrainConfig, train_ppo_run

    cfg = PPOTrainConfig(
        scenario=scenario,
        timesteps=timesteps,
        n_envs=n_envs,
        seed=seed,
        out=out,
        n_steps=n_steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        device=device,
    )
    console = Console(markup=False)
    summary = train_ppo_run(cfg, progress=True)
    console.print(
        f"saved to {summary['out']}: {summary['timesteps']:,} steps in {summary['seconds']:.0f} s; "
        f"last mean episode profit {summary['last_mean_episode_profit']:,.0f}"
    )


def bench_policies(
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    days: Annotated[int, typer.Option(help="Days timed per policy.")] = 10,
) -> None:
    """Decision time per shop-day: base-stock on 1,000 and 10,000 SKUs, MPC on 30 SKUs.

    Target: the heuristic decides a 1,000-SKU shop-day in well under a second.
    """
    import json as _json
    import time

    import numpy as np

    from envs import MarketSimulator
    from envs.scenario import load_scenario
    from policies.registry import make_policy

    large = load_scenario("large")
    cats = [c.model_copy(update={"n_skus": max(1, c.n_skus // 10)}) for c in large.categories]
    spec_1k = large.model_copy(update={"categories": cats, "name": "large-1k"})
    cases = [
        ("base_stock", spec_1k, {}),
        ("base_stock", large, {}),
        ("mpc", "steady", {}),
    ]
    result = {}
    for name, scenario, kw in cases:
        sim = MarketSimulator.from_scenario(scenario, seed=0)
        policy = make_policy(name, **kw)
        policy.reset(sim)
        times = []
        for _ in range(days):
            view = sim.view()
            t0 = time.perf_counter()
            plan = policy.act(view, sim)
            times.append(time.perf_counter() - t0)
            sim.step(plan)
        result[f"{name}_{sim.n}_skus_ms_per_day"] = float(np.median(times) * 1000)
    if json:
        typer.echo(_json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Policy decision time (median of {days} days)")
    t.add_column("measure")
    t.add_column("ms per shop-day", justify="right")
    for k, v in result.items():
        t.add_row(k, f"{v:,.1f}")
    Console(markup=False).print(t)
