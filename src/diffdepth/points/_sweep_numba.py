"""Compiled CPU kernels of the plane sweep (see `diffdepth.points.sweep`).

Images are float32 [H, W, C] (views [K, H, W, C]), so that the channels of a pixel are adjacent;
every kernel is parallel over image rows.
"""

from __future__ import annotations

import numba
import numpy as np

#: cost of a pixel that no view of a subset sees (errors of images in 0..1 are <= 1)
UNSEEN = 100.0


@numba.njit(parallel=True, cache=True, nogil=True)
def subset_costs(ref, views, offs, member, need, d, acc, cnt, out):  # pragma: no cover - compiled
    """Per-pixel error of each view subset at one disparity ``d``.

    out[s, y, x] = mean over the views k of subset s (member[s, k]) whose sample lies inside
    the image of mean_c |ref(y, x) - view_k(y - d v_k, x - d u_k)| (bilinear), UNSEEN when no
    view of the subset sees the pixel.  At one disparity every view is a translation by
    (d u_k, d v_k), so the interpolation weights are the same for all pixels of a view.
    Only pixels with need[y, x] are computed (the others get UNSEEN).  offs [K, 2] (u, v);
    member bool [S, K]; need bool [H, W]; acc, cnt [S, H, W] float64 scratch; out [S, H, W].
    """
    K, H, W, C = views.shape
    S = member.shape[0]
    inv_c = 1.0 / C
    acc[:] = 0.0
    cnt[:] = 0.0
    for k in range(K):
        X0 = -d * offs[k, 0]  # sample x = x + X0
        Y0 = -d * offs[k, 1]
        ix = int(np.floor(X0))
        iy = int(np.floor(Y0))
        fx = X0 - ix
        fy = Y0 - iy
        w00 = (1.0 - fx) * (1.0 - fy)
        w01 = fx * (1.0 - fy)
        w10 = (1.0 - fx) * fy
        w11 = fx * fy
        # pixels whose sample lies inside the image: 0 <= x + X0 <= W - 1 (same for y)
        x_lo = max(0, int(np.ceil(-X0)))
        x_hi = min(W - 1, int(np.floor(W - 1 - X0)))
        y_lo = max(0, int(np.ceil(-Y0)))
        y_hi = min(H - 1, int(np.floor(H - 1 - Y0)))
        for y in numba.prange(y_lo, y_hi + 1):
            r0 = min(y + iy, H - 1)
            r1 = min(r0 + 1, H - 1)
            for x in range(x_lo, x_hi + 1):
                if not need[y, x]:
                    continue
                c0 = min(x + ix, W - 1)
                c1 = min(c0 + 1, W - 1)
                e = 0.0
                if fy == 0.0:  # a view on the reference row: linear along x
                    for c in range(C):
                        val = w00 * views[k, r0, c0, c] + w01 * views[k, r0, c1, c]
                        e += abs(val - ref[y, x, c])
                elif fx == 0.0:  # on the reference column: linear along y
                    for c in range(C):
                        val = w00 * views[k, r0, c0, c] + w10 * views[k, r1, c0, c]
                        e += abs(val - ref[y, x, c])
                else:
                    for c in range(C):
                        val = (
                            w00 * views[k, r0, c0, c]
                            + w01 * views[k, r0, c1, c]
                            + w10 * views[k, r1, c0, c]
                            + w11 * views[k, r1, c1, c]
                        )
                        e += abs(val - ref[y, x, c])
                e *= inv_c
                for s in range(S):
                    if member[s, k]:
                        acc[s, y, x] += e
                        cnt[s, y, x] += 1.0
    for s in range(S):
        for y in numba.prange(H):
            for x in range(W):
                n = cnt[s, y, x]
                out[s, y, x] = acc[s, y, x] / n if n > 0.0 else UNSEEN


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
