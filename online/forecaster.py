"""Per-SKU online demand forecaster: level x season x effects, with a negative-binomial band.

Model, for SKU ``i`` of category ``c`` on period ``t`` (season position ``s``)::

    mean(i, t) = level_i * season_eff(i, s) * exp(beta_c . x(i, t))
    demand     ~ NegativeBinomial(mean, dispersion_i)     (variance mean + phi * mean^2)

* ``level_i`` is an exponentially weighted mean of the deseasonalised, de-promoted
  observation ``y / (season * exp(beta . x))`` with rate ``alpha`` (the running mean while
  the SKU is young). A *fast* (``alpha_fast``) and a *slow* (``alpha_slow``) level ride
  alongside: the slow one is the reference the drift detector compares against, the fast
  one is where the level jumps to when drift is confirmed (:meth:`DemandForecaster.adapt`).
* ``season_eff`` shrinks the SKU's own season profile towards its category's, by the
  units the SKU has sold (``season_shrink_units``): slow sellers borrow the category's
  weekly shape.
* ``beta_c`` holds per-category effects of the features in :data:`online.features.FEATURES`
  (discount elasticity, promotion, feature/display, festival windows, list-price moves),
  learnt by one River ``LinearRegression`` per category on the log residual, starting from
  the prior ``elasticity_prior`` on ``log(1 - discount)``. Pooling by category shares
  strength across SKUs, so a new SKU reacts to a promotion before it ever had one.
* ``dispersion_i`` is a moment estimate ``E[(y - mean)^2 - mean] / E[mean^2]`` shrunk to
  the category's (``dispersion_shrink_obs``); quantiles come from the negative binomial.
* A new SKU starts from its category's typical level (``prior_weight`` pseudo-observations).
* Censored periods (stock ran out) never pull the level down.

The hub calls the vectorised :meth:`learn_many` / :meth:`predict_many` once per period for
all SKUs; :meth:`learn_one` / :meth:`predict_one` run the same code for one row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from online.features import FEATURES, N_FEATURES, featurize

__all__ = ["DemandForecaster", "ForecasterConfig", "nb_quantiles"]

_EPS = 1e-9
_PHI_MIN = 1e-3


class ForecasterConfig(BaseModel):
    """Settings of :class:`DemandForecaster` (defaults suit daily retail demand)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    season_length: int = Field(
        default=7, ge=1, le=366, description="Periods per season cycle (7: weekly on daily data)."
    )
    first_dow: int = Field(default=0, ge=0, description="Season position of period 0.")
    alpha: float = Field(default=0.08, gt=0, le=1, description="Level learning rate.")
    alpha_fast: float = Field(
        default=0.3, gt=0, le=1, description="Fast level rate (drift size and adaptation)."
    )
    alpha_slow: float = Field(default=0.02, gt=0, le=1, description="Drift reference rate.")
    season_rate: float = Field(default=0.05, gt=0, le=1, description="Season profile rate.")
    season_shrink_units: float = Field(
        default=300.0, ge=0, description="Units sold at which a SKU's own season gets weight 1/2."
    )
    dispersion_rate: float = Field(default=0.03, gt=0, le=1)
    dispersion_shrink_obs: float = Field(
        default=30.0, ge=0, description="Periods at which a SKU's own dispersion gets weight 1/2."
    )
    prior_weight: float = Field(
        default=2.0, ge=0, description="Pseudo-observations of the category level for a new SKU."
    )
    effect_lr: float = Field(default=0.03, gt=0, le=1, description="SGD rate of the effects.")
    elasticity_prior: float = Field(
        default=-1.5, le=0, description="Prior coefficient of log(1 - discount)."
    )
    adapt_periods: int = Field(
        default=7, ge=0, description="Periods of fast learning after a confirmed drift."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ForecasterConfig:
        if not self.alpha_slow <= self.alpha <= self.alpha_fast:
            raise ValueError(
                "rates must satisfy alpha_slow <= alpha <= alpha_fast; got "
                f"alpha_slow={self.alpha_slow}, alpha={self.alpha}, alpha_fast={self.alpha_fast}"
            )
        if self.first_dow >= self.season_length:
            raise ValueError(
                f"first_dow ({self.first_dow}) must be below season_length ({self.season_length})"
            )
        return self


def nb_quantiles(mean: np.ndarray, phi: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of a negative binomial with ``mean`` and dispersion ``phi``.

    >>> nb_quantiles(np.array([10.0]), np.array([0.1]), 0.9).tolist()
    [16.0]
    """
    from scipy.stats import nbinom

    mean = np.asarray(mean, dtype=float)
    phi = np.maximum(np.asarray(phi, dtype=float), _PHI_MIN)
    size = 1.0 / phi
    p = 1.0 / (1.0 + phi * np.maximum(mean, _EPS))
    out = nbinom.ppf(q, size, p)
    return np.where(mean > _EPS, out, 0.0).astype(float)


_SKU_FLOAT = ("level", "fast", "slow", "n_obs", "n_ref", "units", "d_num", "d_den")


class DemandForecaster:
    """Online per-SKU demand forecaster (see the module docstring for the model).

    Args:
        config: the settings; defaults when omitted.

    >>> f = DemandForecaster()
    >>> for day in range(28):
    ...     f.learn_one({"sku": "tea", "category": "pantry", "day": day}, 10.0)
    >>> round(f.predict_one({"sku": "tea", "day": 28}), 2)
    10.0
    >>> round(f.predict_one({"sku": "tea", "day": 28, "discount": 0.2}), 2)
    13.98
    """

    def __init__(self, config: ForecasterConfig | None = None) -> None:
        self.config = config or ForecasterConfig()
        m = self.config.season_length
        self.sku_ids: list[str] = []
        self.sku_index: dict[str, int] = {}
        self.categories: list[str] = []
        self.category_index: dict[str, int] = {}
        self._cap = 0
        self.cat = np.zeros(0, dtype=np.int64)
        for name in _SKU_FLOAT:
            setattr(self, name, np.zeros(0))
        self.season = np.ones((0, m))
        self.boost_until = np.zeros(0, dtype=np.int64)
        self.cat_season = np.ones((0, m))
        self.cat_d_num = np.zeros(0)
        self.cat_d_den = np.zeros(0)
        self.cat_n = np.zeros(0)
        self.beta = np.zeros((0, N_FEATURES))
        self.effect_models: list[Any] = []

    # ------------------------------------------------------------------ River style
    def clone(self) -> Self:
        """A fresh forecaster with the same configuration."""
        return type(self)(self.config)

    def learn_one(self, x: Mapping[str, Any], y: float | None = None) -> None:
        """Learn one SKU-period: ``x`` as in :mod:`online.features` (``sku`` required).

        ``x["censored"]`` (default False) marks a period whose sales were cut by a stock-out.
        """
        if y is None:
            raise ValueError("DemandForecaster.learn_one needs the observed demand y")
        i = self.ensure_sku(str(x["sku"]), _opt_str(x.get("category")))
        day = int(x.get("day", 0))
        self.learn_many(
            np.array([i]),
            np.array([float(y)]),
            featurize(x)[None, :],
            np.array([self.season_pos(day)]),
            np.array([bool(x.get("censored", False))]),
            day,
        )

    def predict_one(self, x: Mapping[str, Any]) -> float:
        """Expected demand for one SKU-period (a new SKU gets its category's typical level)."""
        mean, _ = self._one(x)
        return float(mean)

    def predict_interval_one(
        self, x: Mapping[str, Any], quantiles: Sequence[float] = (0.1, 0.9)
    ) -> tuple[float, ...]:
        """The demand quantiles for one SKU-period."""
        mean, phi = self._one(x)
        return tuple(
            float(nb_quantiles(np.array([mean]), np.array([phi]), q)[0]) for q in quantiles
        )

    def _one(self, x: Mapping[str, Any]) -> tuple[float, float]:
        sku = str(x["sku"])
        day = int(x.get("day", 0))
        X = featurize(x)[None, :]
        pos = np.array([self.season_pos(day)])
        i = self.sku_index.get(sku)
        if i is None:  # cold start from the category, without registering the SKU
            c = self.category_index.get(_opt_str(x.get("category")) or "")
            if c is None:
                return 0.0, 1.0
            prior = self.category_levels()[c]
            base = self.cat_season[c, pos[0]] * np.exp(self.beta[c] @ X[0])
            return float(prior * base), float(self._cat_phi()[c])
        idx = np.array([i])
        return float(self.predict_many(idx, X, pos)[0]), float(self.dispersion(idx)[0])

    # ------------------------------------------------------------------ registry
    @property
    def n_skus(self) -> int:
        """Number of SKUs known."""
        return len(self.sku_ids)

    def season_pos(self, day: int) -> int:
        """Position of period ``day`` in the season cycle."""
        return (self.config.first_dow + day) % self.config.season_length

    def ensure_category(self, name: str) -> int:
        """Index of category ``name``, adding it (with the prior effects) if new."""
        c = self.category_index.get(name)
        if c is not None:
            return c
        from river import linear_model, optim

        c = len(self.categories)
        self.categories.append(name)
        self.category_index[name] = c
        m = self.config.season_length
        self.cat_season = np.vstack([self.cat_season, np.ones((1, m))])
        self.cat_d_num = np.append(self.cat_d_num, 0.0)
        self.cat_d_den = np.append(self.cat_d_den, 0.0)
        self.cat_n = np.append(self.cat_n, 0.0)
        prior = np.zeros(N_FEATURES)
        prior[0] = self.config.elasticity_prior
        self.beta = np.vstack([self.beta, prior[None, :]])
        self.effect_models.append(
            linear_model.LinearRegression(
                optimizer=optim.SGD(self.config.effect_lr), intercept_lr=0.0, clip_gradient=5.0
            )
        )
        return c

    def ensure_sku(self, sku: str, category: str | None = None) -> int:
        """Index of ``sku``, registering it in ``category`` (default ``"_default"``) if new."""
        i = self.sku_index.get(sku)
        if i is not None:
            return i
        return int(self.add_skus([sku], [category])[0])

    def add_skus(self, skus: Sequence[str], categories: Sequence[str | None]) -> np.ndarray:
        """Register new SKUs (ids must be new); returns their indices."""
        cats = np.array(
            [self.ensure_category(c if c else "_default") for c in categories], dtype=np.int64
        )
        start = self.n_skus
        need = start + len(skus)
        if need > self._cap:
            self._grow(max(need, 2 * self._cap, 64))
        for k, sku in enumerate(skus):
            self.sku_ids.append(sku)
            self.sku_index[sku] = start + k
        sl = slice(start, need)
        self.cat[sl] = cats
        for name in _SKU_FLOAT:
            getattr(self, name)[sl] = 0.0
        self.season[sl] = 1.0
        self.boost_until[sl] = -1
        return np.arange(start, need)

    def _grow(self, cap: int) -> None:
        n = self.n_skus
        m = self.config.season_length

        def grow(a: np.ndarray, fill: float, shape: tuple[int, ...] = ()) -> np.ndarray:
            out = np.full((cap, *shape), fill, dtype=a.dtype)
            out[:n] = a[:n]
            return out

        self.cat = grow(self.cat, 0)
        for name in _SKU_FLOAT:
            setattr(self, name, grow(getattr(self, name), 0.0))
        self.season = grow(self.season, 1.0, (m,))
        self.boost_until = grow(self.boost_until, -1)
        self._cap = cap

    # ------------------------------------------------------------------ vectorised path
    def category_levels(self) -> np.ndarray:
        """Typical level per category: mean level of its SKUs with a season of history."""
        n = self.n_skus
        ok = self.n_obs[:n] >= min(self.config.season_length, 7)
        cats = self.cat[:n][ok]
        C = len(self.categories)
        s = np.bincount(cats, weights=self.level[:n][ok], minlength=C)
        k = np.bincount(cats, minlength=C)
        return np.where(k > 0, s / np.maximum(k, 1), 0.0)

    def _cat_phi(self) -> np.ndarray:
        return np.where(
            self.cat_d_den > _EPS,
            np.maximum(self.cat_d_num / np.maximum(self.cat_d_den, _EPS), _PHI_MIN),
            0.3,
        )

    def dispersion(self, idx: np.ndarray) -> np.ndarray:
        """Negative-binomial dispersion per SKU (shrunk towards the category's)."""
        own = np.maximum(self.d_num[idx] / np.maximum(self.d_den[idx], _EPS), _PHI_MIN)
        n = self.n_obs[idx]
        k = self.config.dispersion_shrink_obs
        w = n / (n + k) if k > 0 else np.ones_like(n)
        w = np.where(self.d_den[idx] > _EPS, w, 0.0)
        return np.maximum(w * own + (1 - w) * self._cat_phi()[self.cat[idx]], _PHI_MIN)

    def _season_eff(self, idx: np.ndarray, pos: np.ndarray) -> np.ndarray:
        own = self.season[idx, pos]
        cat = self.cat_season[self.cat[idx], pos]
        k = self.config.season_shrink_units
        u = self.units[idx]
        w = u / (u + k) if k > 0 else np.ones_like(u)
        return w * own + (1 - w) * cat

    def _base(self, idx: np.ndarray, X: np.ndarray, pos: np.ndarray) -> np.ndarray:
        eff = np.exp(np.einsum("ij,ij->i", self.beta[self.cat[idx]], X))
        return self._season_eff(idx, pos) * eff

    def _levels(self, idx: np.ndarray) -> np.ndarray:
        lev = self.level[idx]
        new = self.n_obs[idx] == 0
        if new.any():
            lev = np.where(new, self.category_levels()[self.cat[idx]], lev)
        return lev

    def predict_many(self, idx: np.ndarray, X: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Expected demand for rows ``idx`` with effect features ``X`` at season ``pos``."""
        return self._levels(idx) * self._base(idx, X, pos)

    def learn_many(
        self,
        idx: np.ndarray,
        y: np.ndarray,
        X: np.ndarray,
        pos: np.ndarray,
        censored: np.ndarray,
        period: int,
    ) -> dict[str, np.ndarray]:
        """Learn one period for distinct SKUs ``idx``; returns the pre-update forecasts.

        Returns a dict of arrays aligned with ``idx``: ``mean`` (the forecast the model
        held), ``reference`` (the slow level's forecast), ``phi`` (dispersion) and
        ``residual`` (the Pearson residual against the reference; NaN where not usable:
        censored, or the SKU's first period).
        """
        cfg = self.config
        c = self.cat[idx]
        base = self._base(idx, X, pos)
        lev = self._levels(idx)
        mean = lev * base
        first = self.n_obs[idx] == 0
        phi = self.dispersion(idx)
        ref = np.where(first, mean, self.slow[idx] * base)
        sd = np.sqrt(ref + phi * ref * ref + 0.25)
        residual = np.where(first | censored, np.nan, np.clip((y - ref) / sd, -8.0, 8.0))

        # censored periods never pull the level down
        y_lvl = np.where(censored & (y < mean), mean, y)
        z = y_lvl / np.maximum(base, _EPS)
        n = self.n_obs[idx]
        pw = cfg.prior_weight
        has_prior = lev > 0
        # first period: blend with the category prior; afterwards an EWMA (running mean early)
        z_first = np.where(has_prior, (pw * lev + z) / (pw + 1.0), z)
        boosted = period < self.boost_until[idx]
        a = np.where(boosted, cfg.alpha_fast, np.maximum(cfg.alpha, 1.0 / (n + 1.0 + pw)))
        new_level = np.where(first, z_first, lev + a * (z - lev))
        self.fast[idx] = np.where(
            first, z_first, self.fast[idx] + cfg.alpha_fast * (z - self.fast[idx])
        )
        # the reference is a running mean of the current regime (restarted by adapt)
        n_ref = self.n_ref[idx]
        a_s = np.maximum(cfg.alpha_slow, 1.0 / (n_ref + 1.0 + pw))
        self.slow[idx] = np.where(first, z_first, self.slow[idx] + a_s * (z - self.slow[idx]))
        self.n_ref[idx] = n_ref + 1.0

        # season and dispersion from uncensored periods with a usable level
        ok = ~censored & (lev > _EPS)
        if ok.any() and cfg.season_length > 1:
            io, po, co = idx[ok], pos[ok], c[ok]
            r = np.clip(
                y[ok] / np.maximum(lev[ok] * (base[ok] / self._season_eff(io, po)), _EPS), 0.0, 4.0
            )
            s = self.season[io, po]
            self.season[io, po] = s + cfg.season_rate * (r - s)
            self.season[io] *= cfg.season_length / self.season[io].sum(axis=1, keepdims=True)
            C, m = len(self.categories), cfg.season_length
            key = co * m + po
            cnt = np.bincount(key, minlength=C * m).reshape(C, m)
            tot = np.bincount(key, weights=r, minlength=C * m).reshape(C, m)
            hit = cnt > 0
            upd = self.cat_season + cfg.season_rate * (tot / np.maximum(cnt, 1) - self.cat_season)
            self.cat_season = np.where(hit, upd, self.cat_season)
            rows = np.unique(co)
            self.cat_season[rows] *= m / self.cat_season[rows].sum(axis=1, keepdims=True)
        okd = ok & ~first
        if okd.any():
            io, mu, yy = idx[okd], mean[okd], y[okd]
            rd = np.maximum(cfg.dispersion_rate, 1.0 / (self.n_obs[io] + 1.0))
            num = (yy - mu) ** 2 - mu
            den = mu * mu
            self.d_num[io] += rd * (num - self.d_num[io])
            self.d_den[io] += rd * (den - self.d_den[io])
            C = len(self.categories)
            co = c[okd]
            cnt = np.bincount(co, minlength=C)
            hit = cnt > 0
            rc = np.maximum(cfg.dispersion_rate, 1.0 / (self.cat_n + 1.0))
            mnum = np.bincount(co, weights=num, minlength=C) / np.maximum(cnt, 1)
            mden = np.bincount(co, weights=den, minlength=C) / np.maximum(cnt, 1)
            self.cat_d_num = np.where(
                hit, self.cat_d_num + rc * (mnum - self.cat_d_num), self.cat_d_num
            )
            self.cat_d_den = np.where(
                hit, self.cat_d_den + rc * (mden - self.cat_d_den), self.cat_d_den
            )
            self.cat_n += hit

        # effects: River linear models per category on the log residual, rows with features
        active = ok & ~first & (np.abs(X).sum(axis=1) > 0)
        if active.any():
            self._learn_effects(c[active], X[active], y[active], mean[active])

        self.level[idx] = np.maximum(new_level, 0.0)
        self.n_obs[idx] = n + 1.0
        self.units[idx] += np.where(censored, 0.0, y)
        return {"mean": mean, "reference": ref, "phi": phi, "residual": residual}

    def _learn_effects(self, c: np.ndarray, X: np.ndarray, y: np.ndarray, mean: np.ndarray):
        target = np.log1p(y) - np.log1p(mean)
        prior = np.zeros(N_FEATURES)
        prior[0] = self.config.elasticity_prior
        used = self.beta - prior  # the learnt part of the coefficients behind `mean`
        touched = set()
        for k in range(len(c)):
            ci = int(c[k])
            model = self.effect_models[ci]
            row = X[k]
            nz = np.flatnonzero(row)
            x = {FEATURES[j]: float(row[j]) for j in nz}
            # the target is the effect that would have made the forecast right, given the
            # coefficients the forecast used (not the ones moved by earlier rows of today)
            model.learn_one(x, float(target[k]) + float(used[ci] @ row))
            touched.add(ci)
        for ci in touched:
            w = self.effect_models[ci].weights
            self.beta[ci] = prior + np.array([w.get(name, 0.0) for name in FEATURES])

    def adapt(self, idx: np.ndarray, period: int) -> None:
        """Drift confirmed for ``idx``: jump to the fast level and learn fast for a while."""
        self.level[idx] = self.fast[idx]
        self.slow[idx] = self.fast[idx]
        self.n_ref[idx] = 0.0
        self.boost_until[idx] = period + 1 + self.config.adapt_periods

    def change_size(self, idx: np.ndarray) -> np.ndarray:
        """Relative change of the recent (fast) level over the reference (slow) level."""
        return self.fast[idx] / np.maximum(self.slow[idx], _EPS) - 1.0


def _opt_str(v: object) -> str | None:
    return None if v is None else str(v)
