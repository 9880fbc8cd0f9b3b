"""Command-line options generated from a config dataclass: one source for names, types,
defaults and help, so a command and its config cannot drift apart.

:func:`config_command` turns a function ``run(cfg, **extra)`` into a Typer command whose
options are the dataclass's fields (``--field-name``, the field's default and its
``metadata["help"]``), plus any ``extra`` options the command adds. Field types map to
options as:

=======================  ===============================================================
``int``/``float``/``str``  the same
``bool``                   a ``--name/--no-name`` flag (or the names given in ``flags``)
``X | None``               an optional ``X``
``tuple[str, ...]``        comma-separated text (``a,b``)
``tuple[int, ...]``        comma-separated numbers; ``a-b`` ranges (``1010-1013``); ``''``
                           for none
=======================  ===============================================================

Nested dataclasses (and fields listed in ``skip``) keep their defaults.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

__all__ = ["config_command", "parse_csv", "parse_int_list"]


def parse_csv(text: str) -> tuple[str, ...]:
    """``"a, b,,c"`` as ``("a", "b", "c")``: the one comma-separated list reader."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


def parse_int_list(text: str) -> tuple[int, ...]:
    """``"1,2"``, ``"1010-1013"`` or ``""`` as a tuple of ints (``ValueError`` otherwise):
    the one reader of seed and day lists; each command wraps the error in its own type."""
    out: list[int] = []
    for part in parse_csv(text):
        if "-" in part[1:]:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return tuple(out)


def _int_list_option(text: str, option: str) -> tuple[int, ...]:
    try:
        return parse_int_list(text)
    except ValueError:
        raise typer.BadParameter(
            f"expected numbers like '12,25' or a range '1010-1013'; got {text!r}",
            param_hint=option,
        ) from None


def _option(f: dataclasses.Field, tp: Any, rename: Mapping[str, str],
            flags: Mapping[str, str]) -> tuple[inspect.Parameter, Callable[[Any], Any]]:
    name = rename.get(f.name, f.name)
    flag = "--" + name.replace("_", "-")
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    help_ = f.metadata.get("help")
    if not help_:
        raise TypeError(f"config field {f.name!r} has no metadata help: write one")
    optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in (
        typing.get_args(tp))
    base = next(a for a in typing.get_args(tp) if a is not type(None)) if optional else tp
    convert: Callable[[Any], Any] = lambda v: v  # noqa: E731
    if typing.get_origin(base) is tuple:
        (item, _) = typing.get_args(base)
        cli_type, cli_default = str, ",".join(map(str, default))
        convert = functools.partial(_int_list_option, option=flag) if item is int else parse_csv
    elif base is bool:
        cli_type, cli_default = bool, default
        flag = flags.get(f.name, f"{flag}/--no-{flag[2:]}")
    else:
        cli_type, cli_default = base, default
    annotation = Annotated[cli_type | None if optional else cli_type,
                           typer.Option(flag, help=help_)]
    param = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=cli_default,
                              annotation=annotation)
    return param, convert


def config_command(
    config_cls: type,
    *,
    rename: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
    skip: tuple[str, ...] = (),
    extra: tuple[inspect.Parameter, ...] = (),
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate ``run(cfg, **extra)``: the result is a Typer command with one option per
    field of ``config_cls`` (see the module docstring) and the ``extra`` parameters.

    Args:
        config_cls: the dataclass (its fields need ``metadata={"help": ...}``).
        rename: field name to option name (``steps_per_round`` -> ``steps``).
        flags: a bool field's option declaration (``"--lora/--full"``).
        skip: fields left at their defaults.
        extra: options of the command that are not config fields (passed to ``run``).
    """
    rename, flags = dict(rename or {}), dict(flags or {})
    hints = typing.get_type_hints(config_cls)

    def deco(run: Callable[..., None]) -> Callable[..., None]:
        params, converters = [], {}
        for f in dataclasses.fields(config_cls):
            if f.name in skip or not f.init or dataclasses.is_dataclass(hints[f.name]):
                continue
            p, conv = _option(f, hints[f.name], rename, flags)
            params.append(p)
            converters[p.name] = (f.name, conv)
        extra_names = {p.name for p in extra}

        @functools.wraps(run)
        def command(**kwargs: Any) -> None:
            fields = {}
            for cli_name, (field_name, conv) in converters.items():
                fields[field_name] = conv(kwargs[cli_name])
            cfg = config_cls(**fields)
            run(cfg, **{k: v for k, v in kwargs.items() if k in extra_names})

        sig = inspect.Signature([*params, *extra])
        command.__signature__ = sig  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in sig.parameters.values()}
        del command.__wrapped__  # typer must read the generated signature, not run's
        return command

    return deco
