"""LM policy commands: ``shopops train sft|rl|reward-model`` and ``shopops bench policy``.

They join the ``train`` group that :mod:`agent.commands.train` registers (modules register
in name order, so it exists by now; if it does not, this module creates it). Heavy imports
(torch, transformers, TRL) happen inside the command bodies only.
"""

from __future__ import annotations

import inspect
from typing import Annotated

import typer

from agent.config_cli import config_command, parse_csv, parse_int_list
from policies.lm import recipe
from policies.lm.configs import RLRunConfig, SFTRunConfig

_LM_HELP = "Language-model policy: SFT from the expert, RL against the simulator."


def _train_group(app: typer.Typer) -> typer.Typer:
    for info in app.registered_groups:
        if info.name == "train" and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=_LM_HELP, no_args_is_help=True)
    app.add_typer(group, name="train")
    return group


def register(app: typer.Typer, bench: typer.Typer) -> None:
    train = _train_group(app)
    train.command("sft")(train_sft)
    train.command("rl")(train_rl)
    train.command("reward-model")(train_reward_model)
    train.command("register-lm")(train_register_lm)
    bench.command("policy")(bench_policy)
    bench.command("lm-eval")(bench_lm_eval)
    bench.command("lm-emptied")(bench_lm_emptied)
    bench.command("lm-grammar")(bench_lm_grammar)
    bench.command("lm-departures")(bench_lm_departures)


def _seeds(text: str) -> tuple[int, ...]:
    from policies.lm.errors import LMConfigError

    try:
        out = parse_int_list(text)
    except ValueError:
        raise LMConfigError(f"--seeds: expected '0-3' or '0,1'; got {text!r}") from None
    if not out:
        raise LMConfigError(f"--seeds: no seeds in {text!r}")
    return out


def _print_record(title: str, record: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("model_path", "parameters", "steps", "seconds_training", "train_loss"):
        if key in record:
            table.add_row(key, str(record[key]))
    for group in ("validation", "evaluation"):
        for key, value in (record.get(group) or {}).items():
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            table.add_row(f"{group}.{key}", shown)
    Console(markup=False).print(table)


@config_command(SFTRunConfig, rename={"drivers": "driver"})
def train_sft(cfg: SFTRunConfig) -> None:
    """Stage 1: teach the LM policy the expert's decisions with TRL's SFTTrainer.

    Runs the expert on training scenarios and seeds, trains a word-level tokenizer and a tiny
    Llama from a config (or fine-tunes --base-model, with --lora), reports accuracy and the
    invalid-output rate with and without the grammar mask, and saves a checkpoint with
    ``train_record.json`` (command, seeds, data, budget). TensorBoard logs: <out>/runs.
    Every option is a field of policies.lm.configs.SFTRunConfig (its default and help are
    the command's).
    """
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rich.console import Console

    from policies.lm.sft import train_sft as run

    console = Console(markup=False)
    with console.status("SFT") as status:
        record = run(cfg, progress=lambda line: status.update(line), show_bar=True)
    _print_record("LM policy after SFT", record)


@config_command(
    RLRunConfig,
    rename={"steps_per_round": "steps"},
    flags={"lora": "--lora/--full"},
    extra=(
        inspect.Parameter(
            "base_model", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[str | None, typer.Option(
                help="Local HF causal-LM folder to start from instead of --init.")]),
        inspect.Parameter(
            "register_db", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[str | None, typer.Option(
                help="Store database to register the checkpoint version in.")]),
    ),
)
def train_rl(cfg: RLRunConfig, base_model: str | None = None,
             register_db: str | None = None) -> None:
    """Stage 2: improve the LM policy against the simulator with TRL's GRPOTrainer (PPO-style).

    Prompts are SKU-mornings from the current policy's own rollouts. Each sampled completion
    is applied on forks sharing one random future; the policy being trained decides the SKU
    on the following mornings (--continuation policy, the decision kept for --hold-days
    first; 'hold' and 'expert' are the alternatives), the rest of the shop follows what the
    rolled-out policy decided (--rest-of-shop policy) so supplier order costs are shared as
    in its own shop, and the completion is scored by the profit over the next H days plus
    --tail-days, less what the SKU's left-over stock will still cost (perishables: the
    waste), relative to the policy's greedy decision. Ratio clipping, several passes per
    batch, a KL term to the starting policy, unscaled group advantages; LoRA by default.
    Saves <out>/model with train_record.json. Every option is a field of
    policies.lm.configs.RLRunConfig (its default and help are the command's).
    """
    import dataclasses
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rich.console import Console

    from policies.lm.rl import train_rl as run

    if base_model:
        cfg = dataclasses.replace(cfg, init=base_model)
    console = Console(markup=False)
    with console.status("RL") as status:
        record = run(cfg, progress=lambda line: status.update(line), show_bar=True)
    if register_db:
        version = register_checkpoint(register_db, record["model_path"], record)
        console.print(f"registered policy version lm/{version} in {register_db}")
    _print_record("LM policy after RL", record)


def register_checkpoint(db: str, model_path: str, record: dict) -> str:
    """Record a checkpoint in the store's ``model_versions`` (kind ``policy``, name ``lm``).

    The version is the first 12 hex digits of the SHA-256 of ``model.safetensors``, so the
    same weights always get the same version and a run can record which one decided.
    Registering the same version twice is a no-op. Returns the version.
    """
    import hashlib
    from pathlib import Path

    from sqlalchemy import select

    from agent.store import open_store
    from agent.store.models import ModelVersion

    weights = Path(model_path) / "model.safetensors"
    version = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    store = open_store(db)
    try:
        with store.session() as s:
            found = s.execute(select(ModelVersion).where(
                ModelVersion.kind == "policy", ModelVersion.name == "lm",
                ModelVersion.version == version)).scalar_one_or_none()
            if found is None:
                s.add(ModelVersion(kind="policy", name="lm", version=version, params={
                    "path": str(Path(model_path).resolve()), "stage": record.get("stage"),
                    "steps": record.get("steps"), "evaluation": record.get("evaluation"),
                }))
    finally:
        store.close()
    return version


def train_reward_model(
    feedback_from: Annotated[
        str | None,
        typer.Option(help="Store database (SQLAlchemy URL or SQLite path). Without it, "
                          "preference pairs are generated from the simulator."),
    ] = None,
    out: Annotated[str, typer.Option(help="Output folder.")] = "artifacts/lm/reward_model",
    policy_path: Annotated[
        str, typer.Option(help="LM checkpoint whose tokenizer the reward model uses.")
    ] = "artifacts/lm/sft/model",
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 2,
    report_to: Annotated[str, typer.Option(help="tensorboard or none.")] = "tensorboard",
) -> None:
    """Train a reward model (TRL RewardTrainer) on preference pairs from feedback.

    Pairs: approved or edited versus rejected actions, better versus worse realised
    outcomes; actions flagged as anomalous are excluded. Prints pair counts and accuracy.
    """
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from policies.lm.reward_model import RewardModelConfig
    from policies.lm.reward_model import train_reward_model as run

    cfg = RewardModelConfig(
        feedback_from=feedback_from, out=out, tokenizer_from=policy_path, max_steps=steps,
        seed=seed, threads=threads, report_to=report_to,
    )
    record = run(cfg, progress=typer.echo)
    _print_record("Reward model", record)


def bench_policy(
    skus: Annotated[int, typer.Option(help="SKUs in the shop (from the large scenario).")] = 1000,
    days: Annotated[int, typer.Option(help="Shop-days to time.")] = 3,
    path: Annotated[str | None, typer.Option(help="LM checkpoint (default: shipped).")] = None,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 2,
    batch_size: Annotated[int, typer.Option(help="Prompts per generate call.")] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Time the LM policy deciding a whole shop-day on CPU (target: 1,000 SKUs under 10 s)."""
    import json

    from eval.lm_bench import bench_lm_policy

    figures = bench_lm_policy(skus=skus, days=days, path=path, threads=threads,
                              batch_size=batch_size)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"LM policy: {skus:,}-SKU shop on CPU ({threads} threads)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else str(value))
    Console(markup=False).print(table)


def bench_lm_emptied(
    path: Annotated[str | None, typer.Option(help="LM checkpoint (default: shipped).")] = None,
    scenario: Annotated[str, typer.Option(help="Scenario of the shop.")] = "steady",
    seed: Annotated[int, typer.Option(help="Episode seed.")] = 7,
    idle_days: Annotated[int, typer.Option(help="Days without any order first.")] = 25,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Does an LM checkpoint restock a shop nobody ordered for in --idle-days days?

    Prints how many SKUs are empty with nothing on order and how many of them the policy
    orders for. A shipped checkpoint must order for at least 75 % of them.
    """
    import json

    from eval.lm_bench import emptied_shop_check

    figures = emptied_shop_check(path=path, scenario=scenario, seed=seed, idle_days=idle_days)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    typer.echo(f"{figures['scenario']} seed {figures['seed']} after {figures['idle_days']} idle "
               f"days: orders for {figures['ordered_for']} of {figures['empty_skus']} empty "
               f"SKUs ({figures['ordered_share']:.0%})")


def bench_lm_departures(
    path: Annotated[str | None, typer.Option(help="LM checkpoint that rolls out (default: "
                                                  "shipped).")] = None,
    scenarios: Annotated[str, typer.Option(help="Training scenarios, comma-separated.")] = (
        "steady,festival"
    ),
    seeds: Annotated[str, typer.Option(help="Training seeds (1000 and up).")] = "1010",
    variants: Annotated[int, typer.Option(help="Randomised shops per scenario and seed.")] = 0,
    launch_variants: Annotated[
        int, typer.Option(help="Launch shops per scenario and seed (an elastic category "
                          "launched into a festival behind a slow supplier).")
    ] = 0,
    horizon: Annotated[int, typer.Option(help="The reward's horizon H in days (default: "
                                         "train rl's).")] = recipe.HORIZON,
    tail_days: Annotated[int, typer.Option(help="The reward's tail days.")] = recipe.TAIL_DAYS,
    n_futures: Annotated[int, typer.Option(help="The reward's futures.")] = recipe.N_FUTURES,
    truth_futures: Annotated[int, typer.Option(help="Futures of the whole-episode truth.")] = 16,
    by_group: Annotated[
        bool, typer.Option("--by-group", help="One row per group and departure: the "
                           "scenarios, their randomised variants, the launch shops' launched "
                           "category and their other categories.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Is the RL reward right about departures from the tuned heuristic's decision?

    On the checkpoint's own mornings (saved as RL saves them), scores one restock level more
    (up), one less (down) and a 10 % or 20 % promotion for 7 days (promo, deep_promo) against
    the advised decision, with the RL reward's settings (estimate) and over the rest of the
    episode (truth, --truth-futures futures), in days of the SKU's revenue. Prints the means
    with 95 % intervals: an error interval away from zero is a bias RL learns
    (eval/lm_reward_check.py).
    """
    import json
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from rich.console import Console
    from rich.table import Table

    from eval.lm_reward_check import departure_values, summarise

    torch.set_num_threads(1)
    console = Console(markup=False)
    with console.status("scoring departures") as status:
        rows = departure_values(
            parse_csv(scenarios), _seeds(seeds), path=path, horizon=horizon, tail_days=tail_days,
            n_futures=n_futures, truth_futures=truth_futures, variants=variants,
            launch_variants=launch_variants, progress=lambda line: status.update(line),
        )
    summary = summarise(rows, by_group=by_group)
    if as_json:
        typer.echo(json.dumps({"summary": summary, "rows": rows}))
        return
    table = Table(title=f"departures from the heuristic's decision, days of revenue "
                  f"(reward H {horizon} + {tail_days}, {n_futures} futures; truth: whole "
                  f"episode, {truth_futures} futures)")
    for col in ("departure", "mornings", "truth > 0", "estimate", "truth", "estimate - truth"):
        table.add_column(col, justify="right")

    def fmt(v: list[float]) -> str:
        return f"{v[0]:+.3f} [{v[1]:+.3f}, {v[2]:+.3f}]"

    for kind, f in summary.items():
        table.add_row(kind, str(f["n"]), f"{f['pays']:.0%}", fmt(f["estimate"]),
                      fmt(f["truth"]), fmt(f["error"]))
    console.print(table)


def bench_lm_grammar(
    expert: Annotated[str, typer.Option(help="Expert policy (registered name).")] = "mpc",
    scenarios: Annotated[
        str, typer.Option(help="Scenarios, comma-separated (default: all but 'large').")
    ] = "",
    seeds: Annotated[int, typer.Option(help="Report seeds per scenario (0, 1, ...).")] = 3,
    jobs: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list of rows.")] = False,
) -> None:
    """What the completion grammar costs: the expert as it is, and with every plan rounded
    to the nearest decision the LM can write (the ceiling of imitating it).

    Prints % of the oracle bound per scenario, both ways, and the difference.
    """
    import json

    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from eval.lm_bench import grammar_ceiling
    from eval.splits import report_seeds

    console = Console(markup=False)
    with console.status("running the expert both ways") as status:
        rows = grammar_ceiling(expert, parse_csv(scenarios), tuple(report_seeds(seeds)), jobs,
                               progress=lambda line: status.update(line))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"{expert}: % of the oracle bound over {seeds} report seeds")
    for col in ("scenario", "as is", "through the grammar", "cost"):
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for sc in dict.fromkeys(r["scenario"] for r in rows):
        a = float(np.mean([r["pct_bound"] for r in rows if r["scenario"] == sc]))
        b = float(np.mean([r["pct_bound_via_grammar"] for r in rows if r["scenario"] == sc]))
        table.add_row(sc, f"{a:.1f}", f"{b:.1f}", f"{b - a:+.1f}")
    a = float(np.mean([r["pct_bound"] for r in rows]))
    b = float(np.mean([r["pct_bound_via_grammar"] for r in rows]))
    table.add_row("mean", f"{a:.1f}", f"{b:.1f}", f"{b - a:+.1f}")
    console.print(table)


def train_register_lm(
    path: Annotated[str, typer.Argument(help="LM checkpoint folder.")],
    db: Annotated[str | None, typer.Option(help="Store database (default: $SHOPOPS_DB).")] = None,
) -> None:
    """Register an LM checkpoint as a policy version in the store (idempotent)."""
    import json
    from pathlib import Path

    rec_path = Path(path) / "train_record.json"
    record = json.loads(rec_path.read_text()) if rec_path.exists() else {}
    from agent.store.url import resolve_db_url

    url = resolve_db_url(db)
    version = register_checkpoint(url, path, record)
    typer.echo(f"registered policy lm/{version} ({path}) in {url}")


def _lm_eval_rows(
    lm: dict[str, str], baselines: tuple[str, ...], scenarios: tuple[str, ...],
    seeds: list[int], progress, done: list[dict] | None = None,
) -> list[dict]:
    """One row per (policy, scenario, seed): profit, oracle bound, LM invalid rates.

    Rows already in ``done`` are kept and not run again.
    """
    import time

    from envs.simulator import MarketSimulator
    from eval.episode import make_named_policy, run_episode
    from policies.lm.policy import LMPolicy
    from policies.oracle import profit_bound

    rows: list[dict] = list(done or [])
    have = {(r["policy"], r["scenario"], int(r["seed"])) for r in rows}
    for scenario in scenarios:
        for seed in seeds:
            todo = [n for n in (*lm, *baselines) if (n, scenario, seed) not in have]
            if not todo:
                continue
            bound = float(profit_bound(MarketSimulator.from_scenario(scenario, seed=seed)))
            for name in todo:
                t0 = time.perf_counter()
                try:
                    policy = (LMPolicy(lm[name], threads=1) if name in lm
                              else make_named_policy(name))
                    res = run_episode(policy, scenario, seed)
                except Exception as exc:  # a baseline without its artifact: say so, go on
                    progress(f"{name} on {scenario}/{seed}: skipped ({type(exc).__name__}: "
                             f"{str(exc)[:80]})")
                    continue
                row = {"policy": name, "scenario": scenario, "seed": seed,
                       "profit": res.kpis.profit, "bound": bound,
                       "pct_bound": 100.0 * res.kpis.profit / bound,
                       "wall_s": time.perf_counter() - t0}
                if name in lm:
                    row.update(invalid_rate=policy.stats.invalid_rate,
                               invalid_unmasked_rate=policy.stats.invalid_unmasked_rate,
                               decisions=policy.stats.total)
                rows.append(row)
                progress(f"{name} {scenario}/{seed}: {row['pct_bound']:.1f}% of bound")
    return rows


def bench_lm_eval(
    sft: Annotated[str, typer.Option(help="LM checkpoint after SFT ('' skips it).")] = (
        "artifacts/lm/sft/model"
    ),
    rl: Annotated[str, typer.Option(help="LM checkpoint after RL ('' skips it).")] = (
        "artifacts/lm/rl/model"
    ),
    baselines: Annotated[str, typer.Option(help="Registered policies to compare.")] = (
        "mpc,base_stock_tuned,ppo,oracle"
    ),
    scenarios: Annotated[str, typer.Option(help="Scenarios (held-out new_category included).")] = (
        "steady,festival,disruption,drift,fresh,new_category,classic"
    ),
    seeds: Annotated[int, typer.Option(help="Report seeds per scenario (0, 1, ...).")] = 3,
    seed_offset: Annotated[int, typer.Option(
        help="First report seed: --seeds 7 --seed-offset 7 evaluates on seeds 7-13, to confirm "
        "a result on seeds nobody has looked at yet.")] = 0,
    out: Annotated[str, typer.Option(help="Folder for rows.csv and summary.json.")] = (
        "artifacts/lm/eval"
    ),
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep rows already in <out>/rows.csv.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """LM after SFT and after RL against baselines on held-out seeds, in % of the oracle bound.

    Prints per-scenario means, the paired difference RL - SFT and RL - base_stock_tuned in
    percentage points of the bound (t-interval over scenario-seed pairs), and the LM
    invalid-output rates with and without the grammar mask.
    """
    import json
    import os
    from pathlib import Path

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import torch
    from rich.console import Console
    from rich.table import Table

    from eval.splits import report_seeds
    from eval.stats import t_interval

    torch.set_num_threads(1)
    console = Console(width=160, markup=False)
    lm = {name: path for name, path in (("lm_sft", sft), ("lm_rl", rl)) if path}  # '': skip
    names = [*lm, *parse_csv(baselines)]
    import csv

    folder = Path(out)
    done: list[dict] = []
    if resume and (folder / "rows.csv").exists():
        with open(folder / "rows.csv", newline="") as fh:
            for r in csv.DictReader(fh):
                done.append({k: (v if k in ("policy", "scenario") else float(v) if v else 0.0)
                             for k, v in r.items()})
    seed_list = report_seeds(seeds, seed_offset)
    with console.status("evaluating") as status:
        rows = _lm_eval_rows(lm, parse_csv(baselines), parse_csv(scenarios), seed_list,
                             lambda line: status.update(line), done)
    folder.mkdir(parents=True, exist_ok=True)

    keys = sorted({k for r in rows for k in r})
    with open(folder / "rows.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)

    def pct(policy: str, scenario: str | None = None) -> list[float]:
        return [r["pct_bound"] for r in rows if r["policy"] == policy
                and (scenario is None or r["scenario"] == scenario)]

    def paired(a: str, b: str) -> dict:
        pa = {(r["scenario"], r["seed"]): r["pct_bound"] for r in rows if r["policy"] == a}
        pb = {(r["scenario"], r["seed"]): r["pct_bound"] for r in rows if r["policy"] == b}
        common = sorted(set(pa) & set(pb))
        ci = t_interval([pa[k] - pb[k] for k in common])
        return {"mean_pp": ci.mean, "low": ci.low, "high": ci.high, "n": ci.n}

    summary: dict = {"seeds": seed_list, "scenarios": list(parse_csv(scenarios)),
                     "pct_bound": {}, "paired": {}, "invalid": {}}
    table = Table(title=f"% of the oracle bound, mean over {seeds} held-out seeds "
                  f"({seed_offset}-{seed_offset + seeds - 1})")
    table.add_column("policy")
    for sc in parse_csv(scenarios):
        table.add_column(sc, justify="right")
    table.add_column("mean", justify="right")
    for name in names:
        if not pct(name):
            continue
        per = {sc: float(np.mean(pct(name, sc))) for sc in parse_csv(scenarios) if pct(name, sc)}
        summary["pct_bound"][name] = {**per, "mean_over_rows": float(np.mean(pct(name)))}
        table.add_row(name, *(f"{per[sc]:.1f}" if sc in per else "n/a"
                              for sc in parse_csv(scenarios)), f"{np.mean(pct(name)):.1f}")
    for a, b in (("lm_rl", "lm_sft"), ("lm_rl", "base_stock_tuned"),
                 ("lm_sft", "base_stock_tuned")):
        summary["paired"][f"{a} - {b}"] = paired(a, b)
    for name in lm:
        rs = [r for r in rows if r["policy"] == name]
        total = sum(r["decisions"] for r in rs) or 1
        summary["invalid"][name] = {
            "decisions": total,
            "invalid_rate": sum(r["invalid_rate"] * r["decisions"] for r in rs) / total,
            "invalid_unmasked_rate":
                sum(r["invalid_unmasked_rate"] * r["decisions"] for r in rs) / total,
        }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console.print(table)
    for key, v in summary["paired"].items():
        if not v["n"]:  # a policy of the pair was not evaluated
            continue
        console.print(f"paired {key}: {v['mean_pp']:+.2f} pp of bound "
                      f"[{v['low']:+.2f}, {v['high']:+.2f}] over {v['n']} scenario-seeds")
    for key, v in summary["invalid"].items():
        console.print(f"{key}: invalid after mask {v['invalid_rate']:.3%}, would be invalid "
                      f"without it {v['invalid_unmasked_rate']:.3%} ({v['decisions']:,} "
                      "decisions)")
