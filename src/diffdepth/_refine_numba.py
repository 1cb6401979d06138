"""Compiled CPU kernels of the edge refinement (see `diffdepth.refine`).

Images are float32 [H, W, C] (views [K, H, W, C]); every kernel is parallel over rows or over
the refined pixels.
"""

from __future__ import annotations

import numba
import numpy as np

#: cost of a pixel that no view of a subset sees (errors of images in 0..1 are <= 1)
UNSEEN = 100.0


@numba.njit(parallel=True, cache=True, nogil=True)
def map_costs(ref, views, offs, member, D, need, out):  # pragma: no cover - compiled
    """Per-pixel error of each view subset at each pixel's own disparity D[y, x].

    out[s, y, x] = mean over the views k of subset s whose sample lies inside the image of
    mean_c |ref(y, x) - view_k(x - D u_k, y - D v_k)| (bilinear), UNSEEN when no view of the
    subset sees the pixel or where need[y, x] is False.  offs [K, 2] (u, v); member bool [S, K].
    """
    K, H, W, C = views.shape
    S = member.shape[0]
    inv_c = 1.0 / C
    for y in numba.prange(H):
        acc = np.zeros(S)
        cnt = np.zeros(S)
        for x in range(W):
            if not need[y, x]:
                for s in range(S):
                    out[s, y, x] = UNSEEN
                continue
            acc[:] = 0.0
            cnt[:] = 0.0
            d = D[y, x]
            for k in range(K):
                sx = x - d * offs[k, 0]
                sy = y - d * offs[k, 1]
                if sx < 0.0 or sy < 0.0 or sx > W - 1 or sy > H - 1:
                    continue
                ix = min(int(sx), W - 2) if W > 1 else 0
                iy = min(int(sy), H - 2) if H > 1 else 0
                fx = sx - ix
                fy = sy - iy
                ix1 = min(ix + 1, W - 1)
                iy1 = min(iy + 1, H - 1)
                e = 0.0
                for c in range(C):
                    val = (1.0 - fy) * (
                        (1.0 - fx) * views[k, iy, ix, c] + fx * views[k, iy, ix1, c]
                    ) + fy * ((1.0 - fx) * views[k, iy1, ix, c] + fx * views[k, iy1, ix1, c])
                    e += abs(val - ref[y, x, c])
                e *= inv_c
                for s in range(S):
                    if member[s, k]:
                        acc[s] += e
                        cnt[s] += 1.0
            for s in range(S):
                out[s, y, x] = acc[s] / cnt[s] if cnt[s] > 0.0 else UNSEEN


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
            for dy in range(-radius, radius + 1):
                yy = y + dy
                if yy < 0 or yy >= H:
                    continue
                for dx in range(-radius, radius + 1):
                    xx = x + dx
                    if xx < 0 or xx >= W:
                        continue
                    w = weights[m, (dy + radius) * n + dx + radius]
                    t += w * costs[s, yy, xx]
                    ws += w
            t /= ws
            if t < best:
                best = t
        out[m] = best
