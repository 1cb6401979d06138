"""Compiled CPU kernels of the plane sweep's winner-take-all (see `diffdepth.points.sweep`);
the costs themselves come from `diffdepth.photo.subset_errors`."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True, nogil=True)
def box_min_at(costs, radius, px, py, out):  # pragma: no cover - compiled
    """out[m] = min over subsets s of the mean of costs[s] over the (2 radius + 1)^2 box
    around pixel (py[m], px[m]), the box clipped at the image border.  costs [S, H, W]."""
    S, H, W = costs.shape
    for m in numba.prange(px.shape[0]):
        x, y = px[m], py[m]
        x_lo, x_hi = max(0, x - radius), min(W - 1, x + radius)
        y_lo, y_hi = max(0, y - radius), min(H - 1, y + radius)
        inv = 1.0 / ((x_hi - x_lo + 1) * (y_hi - y_lo + 1))
        best = np.inf
        for s in range(S):
            t = 0.0
            for i in range(y_lo, y_hi + 1):
                for j in range(x_lo, x_hi + 1):
                    t += costs[s, i, j]
            t *= inv
            if t < best:
                best = t
        out[m] = best


@numba.njit(parallel=True, cache=True, nogil=True)
def best_two(volume, exclude, best_idx, best, second):  # pragma: no cover - compiled
    """Per column m of volume [L, M]: the level of the smallest cost, that cost, and the
    smallest cost among the levels more than ``exclude`` levels away from it."""
    L, M = volume.shape
    for m in numba.prange(M):
        b = np.inf
        bi = 0
        for i in range(L):
            c = volume[i, m]
            if c < b:
                b = c
                bi = i
        s2 = np.inf
        for i in range(L):
            if abs(i - bi) > exclude:
                c = volume[i, m]
                if c < s2:
                    s2 = c
        best_idx[m] = bi
        best[m] = b
        second[m] = s2
