"""Compiled CPU kernels of the edge refinement's window aggregation (see `diffdepth.refine`);
the costs themselves come from `diffdepth.photo.subset_errors`.  Parallel over the refined
pixels."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, cache=True, nogil=True)
def support_weights(ref, py, px, radius, inv_gamma, out):  # pragma: no cover - compiled
    """out[m, i] = exp(-sum_c |ref(q) - ref(p_m)| / gamma) for the i-th pixel q of the
    (2 radius + 1)^2 window around p_m = (px[m], py[m]) (row-major), 0 outside the image."""
    H, W, C = ref.shape
    n = 2 * radius + 1
    for m in numba.prange(px.shape[0]):
        x, y = px[m], py[m]
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                i = (dy + radius) * n + dx + radius
                yy, xx = y + dy, x + dx
                if yy < 0 or yy >= H or xx < 0 or xx >= W:
                    out[m, i] = 0.0
                    continue
                t = 0.0
                for c in range(C):
                    t += abs(ref[yy, xx, c] - ref[y, x, c])
                out[m, i] = np.exp(-t * inv_gamma)


@numba.njit(parallel=True, cache=True, nogil=True)
def aggregate_min(costs, weights, py, px, radius, out):  # pragma: no cover - compiled
    """out[m] = min over subsets s of the support-weighted mean of costs[s] over the window
    around (px[m], py[m]).  costs [S, H, W]; weights [M, (2 radius + 1)^2]."""
    S, H, W = costs.shape
    n = 2 * radius + 1
    for m in numba.prange(px.shape[0]):
        x, y = px[m], py[m]
        best = np.inf
        for s in range(S):
            t = 0.0
            ws = 0.0
            for yy in range(max(0, y - radius), min(H, y + radius + 1)):
                row = (yy - y + radius) * n + radius - x
                for xx in range(max(0, x - radius), min(W, x + radius + 1)):
                    w = weights[m, row + xx]
                    t += w * costs[s, yy, xx]
                    ws += w
            t /= ws
            if t < best:
                best = t
        out[m] = best
