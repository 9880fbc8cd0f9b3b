"""Reading a YAML configuration file into a pydantic model, with errors a user can act on.

Every ShopOps file a person writes (scenarios, rules, column mappings, shop files) goes
through the same two steps: read a YAML mapping, then validate it. This module owns both so
each file type reports problems the same way: the file, the field path, what is wrong and,
for type errors, the offending value.

>>> from pydantic import BaseModel
>>> class Shop(BaseModel):
...     days: int
>>> try:
...     Shop.model_validate({"days": "many"})
... except Exception as exc:
...     print(validation_problem(exc))
('days', "Input should be a valid integer, unable to parse string as an integer (got 'many')")
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["load_model_file", "read_yaml_mapping", "validation_problem", "validation_problems"]

M = TypeVar("M", bound=BaseModel)


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """Every problem of ``exc`` as ``(field path, message)``.

    The field path drops pydantic's internal steps; a cross-field check that starts its
    message with ``field.path: ...`` is reported at that field; type errors carry the
    offending value.
    """
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged-"))]
        field = ".".join(loc) or "<root>"
        msg = err["msg"].removeprefix("Value error, ")
        head, sep, rest = msg.partition(": ")
        if field == "<root>" and sep and re.fullmatch(r"[\w.]+", head):
            field, msg = head, rest
        if err["type"] not in ("value_error", "missing") and not isinstance(
            err.get("input"), dict | list
        ):
            msg = f"{msg} (got {err.get('input')!r})"
        problems.append((field, msg))
    return problems


def validation_problem(exc: ValidationError) -> tuple[str, str]:
    """The first problem of ``exc`` as ``(field path, message)``."""
    return validation_problems(exc)[0]


def read_yaml_mapping(path: Path, error: type[Exception], what: str, hint: str = "") -> dict:
    """The YAML mapping in ``path``; ``error`` names the file otherwise.

    Args:
        path: the file.
        error: the exception type to raise (called with one message).
        what: what the file is, for messages ("rules file", "mapping").
        hint: appended to the message of a missing file (what to do instead).
    """
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: cannot read the {what}: not found{hint}") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: the {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
                    ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise error(f"{path}: not valid YAML{where}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{path}: the {what} must be a YAML mapping, not {type(data).__name__}")
    return data


def load_model_file(
    path: Path, model: type[M], error: type[Exception], what: str, hint: str = ""
) -> M:
    """Read ``path`` and validate it as ``model``; ``error`` names the file and the field."""
    data = read_yaml_mapping(path, error, what, hint)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        field, msg = validation_problem(exc)
        raise error(f"{path}: {field}: {msg}") from None
