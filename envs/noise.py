"""Counter-based random numbers: the future of an episode is a pure function of (seed, day).

Every random quantity of day ``t`` (demand shocks, lead-time jitter, delivery reliability) is
read from a block of pre-drawn arrays; block ``b`` covers days ``b*B .. b*B+B-1`` and is drawn
from ``SeedSequence(seed, spawn_key=(b,))``. Nothing about the draws depends on the actions
taken, so:

* two identically seeded simulators under the same actions give identical trajectories;
* a fork shares the same future draws (common random numbers), so two plans are compared on
  the same future, and demand is monotone in price and promotion for a fixed draw (inverse
  transform sampling, :func:`poisson_icdf`);
* forking is cheap: blocks are immutable and shared by reference.

Demand for SKU ``i`` on day ``t`` with mean ``mu`` is a gamma-Poisson (negative binomial)
draw ``Poisson^-1(U; mu * G)`` with ``G ~ Gamma(k, 1/k)``, so its variance is
``mu + mu^2 / k``; ``demand_noise: poisson`` drops ``G`` and ``normal`` uses
``round(mu + cv * mu * Z)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from scipy.special import ndtri

from envs.kernel import poisson_quantile

BLOCK_DAYS = 32


@numba.njit(cache=True, nogil=True)
def _poisson_icdf(lam: np.ndarray, u: np.ndarray, z: np.ndarray, out: np.ndarray) -> None:
    for i in range(lam.size):
        out[i] = poisson_quantile(lam[i], u[i], z[i])


def poisson_icdf(lam: np.ndarray, u: np.ndarray, z: np.ndarray | None = None) -> np.ndarray:
    """Poisson quantile ``min{k : P(X <= k) >= u}`` for each element, as float64.

    Exact (sequential search) below a mean of 30; above, a skew-corrected normal quantile
    using ``z = Phi^-1(u)``. Monotone non-decreasing in ``lam`` for fixed ``u``.

    >>> poisson_icdf(np.array([0.0, 1.0, 1.0, 100.0]), np.array([0.5, 0.2, 0.9, 0.5]))
    array([  0.,   0.,   2., 100.])
    """
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    u = np.ascontiguousarray(u, dtype=np.float64)
    zz = ndtri(u) if z is None else np.ascontiguousarray(z, dtype=np.float64)
    out = np.empty_like(lam)
    _poisson_icdf(lam, u, zz, out)
    return out


class DayNoise(NamedTuple):
    """The random numbers of one day, one value per SKU (read-only views)."""

    gamma: np.ndarray | None  # demand multiplier, mean 1 (None for Poisson/normal noise)
    u_demand: np.ndarray  # uniform, for the inverse-transform demand draw
    z_demand: np.ndarray  # Phi^-1(u_demand)
    z_lead: np.ndarray  # standard normal, lead-time jitter of an order placed today
    u_reliability: np.ndarray  # uniform; below the supplier's reliability = delivered in full
    u_fill: np.ndarray  # uniform; position inside the partial-fill range otherwise


class NoiseSource:
    """Deterministic per-day noise for ``n`` SKUs, drawn in blocks of :data:`BLOCK_DAYS`.

    Args:
        seed: the episode seed (from ``reset(seed=...)``).
        n: number of SKUs.
        dispersion: negative-binomial shape per SKU, or ``None`` for no gamma shock.
    """

    def __init__(self, seed: int, n: int, dispersion: np.ndarray | None) -> None:
        self.seed = int(seed)
        self.n = int(n)
        self._dispersion = None if dispersion is None else np.asarray(dispersion, dtype=float)
        self._blocks: dict[int, dict[str, np.ndarray]] = {}

    def _draw_block(self, b: int) -> dict[str, np.ndarray]:
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(entropy=self.seed, spawn_key=(b,)))
        )
        shape = (BLOCK_DAYS, self.n)
        arrays: dict[str, np.ndarray] = {}
        u = rng.random(shape)
        np.clip(u, 1e-12, 1 - 1e-12, out=u)
        arrays["u_demand"] = u
        arrays["z_demand"] = ndtri(u)
        arrays["z_lead"] = rng.standard_normal(shape)
        arrays["u_reliability"] = rng.random(shape)
        arrays["u_fill"] = rng.random(shape)
        if self._dispersion is not None:
            k = self._dispersion
            arrays["gamma"] = rng.standard_gamma(np.broadcast_to(k, shape)) / k
        for a in arrays.values():
            a.flags.writeable = False
        return arrays

    def day(self, t: int) -> DayNoise:
        """The noise of day ``t`` (any non-negative integer)."""
        b, r = divmod(int(t), BLOCK_DAYS)
        block = self._blocks.get(b)
        if block is None:
            block = self._draw_block(b)
            # Keep the current and the next few blocks; forks running ahead share them.
            for old in [k for k in self._blocks if k < b - 1 or k > b + 4]:
                del self._blocks[old]
            self._blocks[b] = block
        g = block.get("gamma")
        return DayNoise(
            gamma=None if g is None else g[r],
            u_demand=block["u_demand"][r],
            z_demand=block["z_demand"][r],
            z_lead=block["z_lead"][r],
            u_reliability=block["u_reliability"][r],
            u_fill=block["u_fill"][r],
        )

    def share(self) -> NoiseSource:
        """A source with the same future that shares the already-drawn blocks (for forks)."""
        other = NoiseSource.__new__(NoiseSource)
        other.seed, other.n, other._dispersion = self.seed, self.n, self._dispersion
        other._blocks = dict(self._blocks)
        return other
