"""Shipped LoRA adapters of the reader, and how a command-line value picks one.

``reader/`` holds the adapter ``Reader.load(adapter="default")`` uses (its
``train_record.json`` says how it was trained and what it scored). No torch import here.
"""

from __future__ import annotations

from pathlib import Path

from policies.llm.errors import LlmError

__all__ = ["DEFAULT_ADAPTER", "resolve_adapter"]

#: The shipped reader adapter's folder.
DEFAULT_ADAPTER = Path(__file__).parent / "reader"


def resolve_adapter(value: str | Path | None) -> Path | None:
    """``"default"``: the shipped adapter (``None`` when none is shipped); ``"none"`` or
    ``None``: no adapter; anything else: a folder path, which must hold an adapter.

    Raises:
        LlmError: the folder has no ``adapter_config.json``.
    """
    if value is None or str(value) == "none":
        return None
    if str(value) == "default":
        return DEFAULT_ADAPTER if (DEFAULT_ADAPTER / "adapter_config.json").is_file() else None
    path = Path(value).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise LlmError(
            f"--adapter {value}: no adapter_config.json there; pass a folder written by "
            "`shopops kb train`, 'default' or 'none'"
        )
    return path
