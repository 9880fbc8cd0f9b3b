"""LM policy commands: ``shopops train sft|rl|reward-model`` and ``shopops bench policy``.

They join the ``train`` group that :mod:`agent.commands.train` registers (modules register
in name order, so it exists by now; if it does not, this module creates it). Heavy imports
(torch, transformers, TRL) happen inside the command bodies only.
"""

from __future__ import annotations

from typing import Annotated

import typer

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


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _seeds(text: str) -> tuple[int, ...]:
    from policies.lm.errors import LMConfigError

    out: list[int] = []
    try:
        for part in _csv(text):
            if "-" in part:
                a, b = part.split("-", 1)
                out.extend(range(int(a), int(b) + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise LMConfigError(f"--seeds: expected '0-3' or '0,1'; got {text!r}") from None
    if not out:
        raise LMConfigError(f"--seeds: no seeds in {text!r}")
    return tuple(out)


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
    Console().print(table)


def train_sft(
    out: Annotated[str, typer.Option(help="Run folder (model saved to <out>/model).")] = (
        "artifacts/lm/sft"
    ),
    scenarios: Annotated[str, typer.Option(help="Training scenarios, comma-separated.")] = (
        "steady,festival,disruption,drift,fresh,classic"
    ),
    seeds: Annotated[str, typer.Option(help="Training seeds ('0-2' or '0,1').")] = "0-1",
    day_stride: Annotated[int, typer.Option(help="Label every k-th morning.")] = 2,
    driver: Annotated[
        str, typer.Option(help="Policy driving the episodes ('expert': the expert itself).")
    ] = "base_stock",
    expert: Annotated[
        str | None, typer.Option(help="Expert policy (default: mpc if present, else base_stock).")
    ] = None,
    base_model: Annotated[
        str | None, typer.Option(help="Local HF causal-LM folder instead of the tiny model.")
    ] = None,
    lora: Annotated[bool, typer.Option("--lora", help="Train a LoRA adapter (PEFT).")] = False,
    epochs: Annotated[float, typer.Option(help="Passes over the demonstrations.")] = 3.0,
    max_steps: Annotated[int, typer.Option(help="Stop after this many steps (-1: epochs).")] = -1,
    batch_size: Annotated[int, typer.Option(help="Rows per step.")] = 128,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-3,
    seed: Annotated[int, typer.Option(help="Initialisation and shuffling seed.")] = 0,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 2,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    report_to: Annotated[str, typer.Option(help="tensorboard or none.")] = "tensorboard",
) -> None:
    """Stage 1: teach the LM policy the expert's decisions with TRL's SFTTrainer.

    Runs the expert on training scenarios and seeds, trains a word-level tokenizer and a tiny
    Llama from a config (or fine-tunes --base-model, with --lora), reports accuracy and the
    invalid-output rate with and without the grammar mask, and saves a checkpoint with
    ``train_record.json`` (command, seeds, data, budget). TensorBoard logs: <out>/runs.
    """
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rich.console import Console

    from policies.lm.sft import SFTRunConfig
    from policies.lm.sft import train_sft as run

    cfg = SFTRunConfig(
        out=out, scenarios=_csv(scenarios), seeds=_seeds(seeds), expert=expert,
        day_stride=day_stride, driver=None if driver == "expert" else driver,
        base_model=base_model, lora=lora, epochs=epochs, max_steps=max_steps,
        batch_size=batch_size, learning_rate=learning_rate, seed=seed, threads=threads,
        device=device, report_to=report_to,
    )
    console = Console()
    with console.status("SFT") as status:
        record = run(cfg, progress=lambda line: status.update(line), show_bar=True)
    _print_record("LM policy after SFT", record)


def train_rl(
    init: Annotated[str, typer.Option(help="Checkpoint to start from (an SFT model folder).")] = (
        "artifacts/lm/sft/model"
    ),
    out: Annotated[str, typer.Option(help="Run folder (model saved to <out>/model).")] = (
        "artifacts/lm/rl"
    ),
    scenarios: Annotated[str, typer.Option(help="Training scenarios, comma-separated.")] = (
        "steady,festival,disruption,drift,fresh"
    ),
    seeds: Annotated[str, typer.Option(help="Training seeds for the rollouts.")] = "10-13",
    base_model: Annotated[
        str | None,
        typer.Option(help="Local HF causal-LM folder to start from instead of --init."),
    ] = None,
    lora: Annotated[bool, typer.Option("--lora/--full", help="LoRA adapter or full weights.")] = (
        True
    ),
    feedback_from: Annotated[
        str | None,
        typer.Option(help="Store database (SQLAlchemy URL or SQLite path): train a reward "
                          "model on its feedback and add it as a weighted reward."),
    ] = None,
    feedback_weight: Annotated[float, typer.Option(help="Weight of the feedback reward.")] = 0.2,
    rounds: Annotated[int, typer.Option(help="Rollout-then-train rounds.")] = 2,
    steps: Annotated[int, typer.Option(help="Optimiser steps per round.")] = 40,
    prompts_per_step: Annotated[int, typer.Option(help="Prompts per step.")] = 16,
    num_generations: Annotated[int, typer.Option(help="Completions per prompt.")] = 8,
    horizon: Annotated[int, typer.Option(help="Reward horizon H in days.")] = 14,
    learning_rate: Annotated[float, typer.Option(help="Learning rate.")] = 5e-4,
    beta: Annotated[float, typer.Option(help="KL coefficient to the starting policy.")] = 0.02,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    threads: Annotated[int, typer.Option(help="torch CPU threads.")] = 2,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    report_to: Annotated[str, typer.Option(help="tensorboard or none.")] = "tensorboard",
    register_db: Annotated[
        str | None, typer.Option(help="Store database to register the checkpoint version in.")
    ] = None,
) -> None:
    """Stage 2: improve the LM policy against the simulator with TRL's GRPOTrainer (PPO-style).

    Prompts are states from the current policy's own rollouts; each sampled completion is
    applied on a fork sharing one random future and scored by the profit over the next H
    days relative to the expert's action. Ratio clipping, several passes per batch and a KL
    term to the starting policy; LoRA by default. Saves <out>/model with train_record.json.
    """
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from rich.console import Console

    from policies.lm.rl import RLRunConfig
    from policies.lm.rl import train_rl as run

    cfg = RLRunConfig(
        init=base_model or init, out=out, scenarios=_csv(scenarios), seeds=_seeds(seeds),
        lora=lora, feedback_from=feedback_from, feedback_weight=feedback_weight,
        rounds=rounds, steps_per_round=steps, prompts_per_step=prompts_per_step,
        num_generations=num_generations, horizon=horizon, learning_rate=learning_rate,
        beta=beta, seed=seed, threads=threads, device=device, report_to=report_to,
    )
    console = Console()
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

    from policies.lm.bench import bench_lm_policy

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
    Console().print(table)


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
