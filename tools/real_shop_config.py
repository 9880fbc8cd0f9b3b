"""A real shop's definition: ``shop.yaml`` (:class:`RealShopConfig`) and where to find it.

A shop file names the imported history the shop runs on and what the history cannot tell::

    name: real-example                 # the shop's id in the store
    mapping: uci-online-retail         # the mapping the history was imported with
    data: null                         # the data folder (default ../shared/data)
    db: ~/.shopops/real-example.db     # the store (overridden by --db)
    skus: {top: 30}                    # or {series: [85123A, 22423, ...]}
    lead_time_days: 7                  # supplier lead time, per SKU or category below
    lead_times: {"22423": 10}
    default_margin: 0.3                # unit cost = list price x (1 - margin) if no cost
    opening_stock_days: 14             # assumed stock where no snapshot was imported
    twin: null                         # a calibrated scenario (shopops calibrate) for what-if

Relative paths (``data``, ``db``, ``twin``, a mapping file) are read from the shop file's
folder. :func:`load_shop_config` takes a path, or a name looked up as
``examples/NAME/shop.yaml`` in the repository.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from envs.config_files import load_model_file
from tools.errors import ShopBackendError

__all__ = [
    "DEFAULT_DATA",
    "RealShopConfig",
    "ShopConfigError",
    "SkuSelection",
    "find_shop_config",
    "load_shop_config",
]

REPO = Path(__file__).resolve().parents[1]
#: The real data folder when a shop file does not name one (beside the repository).
DEFAULT_DATA = REPO.parent / "shared" / "data"


class ShopConfigError(ShopBackendError):
    """A shop file is missing or invalid; the message names the file and the field."""


class SkuSelection(BaseModel):
    """Which imported series the shop manages: an explicit list, or the top N by units."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    top: int | None = Field(default=None, ge=1, le=100_000,
                            description="The N series with the most units sold.")
    series: list[str] | None = Field(default=None, min_length=1,
                                     description="Series ids as imported (sku or sku@location).")

    @model_validator(mode="after")
    def _one(self) -> SkuSelection:
        if (self.top is None) == (self.series is None):
            raise ValueError("give exactly one of skus.top (a number) or skus.series (a list)")
        return self


class RealShopConfig(BaseModel):
    """A real shop (see the module docstring for the file's shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64,
                      description="The shop's id in the store (lower case, digits, - and _).")
    mapping: str = Field(min_length=1, description="Mapping name or file used by the import.")
    data: str | None = Field(default=None, description="Data folder; default ../shared/data.")
    db: str | None = Field(default=None, description="Store URL or SQLite file.")
    skus: SkuSelection = SkuSelection(top=30)
    lead_time_days: int = Field(default=7, ge=0, le=120, description="Default lead time.")
    lead_times: dict[str, int] = Field(
        default_factory=dict, description="Lead time per series or category (overrides)."
    )
    default_margin: float = Field(
        default=0.3, gt=0, lt=0.95,
        description="Gross margin assumed where the history has no unit cost.",
    )
    moq: float = Field(default=0.0, ge=0, description="Minimum order quantity per line.")
    max_discount: float = Field(default=0.5, ge=0, le=0.9, description="Discount cap.")
    opening_stock_days: float = Field(
        default=14.0, ge=0,
        description="Stock assumed at day 0 (days of recent sales) where no snapshot exists.",
    )
    start_date: dt.date | None = Field(
        default=None, description="The date of day 0 (default: the day after the last sale)."
    )
    ema_window_days: int = Field(default=120, ge=28, le=3650,
                                 description="Days of history the sales averages read.")
    warehouse_capacity: float | None = Field(default=None, gt=0, description="Total units.")
    twin: str | None = Field(
        default=None, description="Calibrated scenario YAML for what-if (none: unavailable)."
    )

    @model_validator(mode="after")
    def _leads(self) -> RealShopConfig:
        bad = {k: v for k, v in self.lead_times.items() if not 0 <= v <= 120}
        if bad:
            raise ValueError(f"lead_times: days must be within 0..120; got {bad}")
        return self


def find_shop_config(ref: str | Path) -> Path | None:
    """The shop file ``ref`` names (a path, or ``examples/NAME/shop.yaml``), or None."""
    p = Path(ref).expanduser()
    if p.is_file():
        return p.resolve()
    if p.is_dir() and (p / "shop.yaml").is_file():
        return (p / "shop.yaml").resolve()
    named = REPO / "examples" / str(ref) / "shop.yaml"
    if "/" not in str(ref) and named.is_file():
        return named
    return None


def load_shop_config(ref: str | Path) -> tuple[RealShopConfig, Path]:
    """``(config, folder)`` of the shop file ``ref`` names; paths in it are relative to folder.

    Raises:
        ShopConfigError: no such shop file, not YAML, or an invalid field (named).
    """
    path = find_shop_config(ref)
    if path is None:
        raise ShopConfigError(
            f"no shop file {ref!r}: give a path to a shop.yaml or the name of a folder in "
            f"{REPO / 'examples'} (e.g. real-example)"
        )
    cfg = load_model_file(path, RealShopConfig, ShopConfigError, "shop file")
    return cfg, path.parent


def resolve(base: Path, value: str | None) -> str | None:
    """``value`` as a path relative to ``base`` (URLs and absolute paths unchanged)."""
    if value is None or "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def mapping_ref(cfg: RealShopConfig, base: Path) -> str:
    """The mapping as :func:`online.ingest_real.mapping.load_mapping` takes it."""
    p = Path(cfg.mapping)
    if p.suffix in (".yaml", ".yml") or "/" in cfg.mapping:
        return str(p if p.is_absolute() else (base / p).resolve())
    return cfg.mapping


def data_dir(cfg: RealShopConfig, base: Path) -> Path:
    """The shop's data folder (default :data:`DEFAULT_DATA`)."""
    return Path(resolve(base, cfg.data)) if cfg.data else DEFAULT_DATA
