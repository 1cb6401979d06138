"""The compiled photo-consistency kernel (see `diffdepth.photo.consistency`).

Images are float32 or float64, channel-last: ref [H, W, C], views [K, H, W, C], so that the
channels of a pixel are adjacent.  Parallel over image rows (over views for per-view errors).
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: error of a pixel that no view of a subset sees (errors of images in 0..1 are <= 1)
UNSEEN = 100.0


@numba.njit(cache=True, nogil=True, inline="always")
def _view_error(ref, views, k, y, x, ix, iy, fx, fy, H, W, C, u, v, grad):  # pragma: no cover
    """(mean_c |view_k(ix + fx, iy + fy) - ref(y, x)|, its derivative w.r.t. the disparity)
    for a sample inside the image (fx, fy in [0, 1]); bilinear, along one axis when the other
    weight is 0 (views on the reference row or column)."""
    ix1 = min(ix + 1, W - 1)
    iy1 = min(iy + 1, H - 1)
    e = 0.0
    s = 0.0
    for c in range(C):
        a = views[k, iy, ix, c]
        if fy == 0.0:  # along x only
            dx = views[k, iy, ix1, c] - a
            val = a + fx * dx
            dy = 0.0
            if grad and v != 0.0:
                dy = (
                    views[k, iy1, ix, c] + fx * (views[k, iy1, ix1, c] - views[k, iy1, ix, c]) - val
                )
        elif fx == 0.0:  # along y only
            dy = views[k, iy1, ix, c] - a
            val = a + fy * dy
            dx = 0.0
            if grad and u != 0.0:
                dx_top = views[k, iy, ix1, c] - a
                dx = dx_top + fy * (views[k, iy1, ix1, c] - views[k, iy1, ix, c] - dx_top)
        else:
            dx_top = views[k, iy, ix1, c] - a
            top = a + fx * dx_top
            cc = views[k, iy1, ix, c]
            dx_bot = views[k, iy1, ix1, c] - cc
            dy = cc + fx * dx_bot - top
            val = top + fy * dy
            dx = dx_top + fy * (dx_bot - dx_top)
        diff = val - ref[y, x, c]
        e += abs(diff)
        if grad:
            g = -(dx * u) - dy * v  # d val / d disparity
            # d |diff| = sign(diff) g, 0 at diff == 0; without a branch: the sign of a
            # photometric difference is unpredictable, and mispredicted branches cost 2x here
            s += g * np.sign(diff)
    return e / C, s / C


@numba.njit(cache=True, nogil=True, inline="always")
def _sample_at(x, y, d, u, v, H, W):  # pragma: no cover - compiled
    """(inside, ix, iy, fx, fy) of the sample (x - d u, y - d v): its cell and weights."""
    X = x - d * u
    Y = y - d * v
    if X < 0.0 or Y < 0.0 or X > W - 1 or Y > H - 1:
        return False, 0, 0, 0.0, 0.0
    ix = min(int(X), W - 2) if W > 1 else 0
    iy = min(int(Y), H - 2) if H > 1 else 0
    return True, ix, iy, X - ix, Y - iy


@numba.njit(parallel=True, cache=True, nogil=True)
def subset_errors_kernel(ref, views, offs, member, D, need, out, sens):  # pragma: no cover
    """out[s, y, x] = mean over the views k of subset s (member[s, k]) whose sample
    (x - d u_k, y - d v_k) lies inside the image of mean_c |ref(y, x) - view_k(sample)|,
    UNSEEN where no view of the subset sees the pixel or where need[y, x] is False.

    d is D[y, x] for a map D [H, W], or D[0, 0] for every pixel when D is [1, 1]: a plane of
    constant disparity, where every view is one translation, so each view's cell offset and
    weights are found once (the plane sweep's fast path).  offs [K, 2] float64 (u, v);
    member bool [S, K]; need bool [H, W]; out [S, H, W]; sens [S, H, W] receives d out / d d
    (0 where UNSEEN), or is [0, 0, 0] (not wanted).
    """
    K, H, W, C = views.shape
    S = member.shape[0]
    constant = D.shape[0] == 1 and D.shape[1] == 1
    grad = sens.shape[0] > 0
    n_of = np.zeros(K, np.int64)  # the subsets each view belongs to
    subsets_of = np.empty((K, S), np.int64)
    for k in range(K):
        for s in range(S):
            if member[s, k]:
                subsets_of[k, n_of[k]] = s
                n_of[k] += 1
    # constant disparity: the sample of pixel (x, y) in view k is (x + ox[k] + fx[k], y + ...),
    # inside for x_lo[k] <= x <= x_hi[k] and y_lo[k] <= y <= y_hi[k]
    ox = np.zeros(K, np.int64)
    oy = np.zeros(K, np.int64)
    fxs = np.zeros(K)
    fys = np.zeros(K)
    x_lo = np.zeros(K, np.int64)
    x_hi = np.zeros(K, np.int64)
    y_lo = np.zeros(K, np.int64)
    y_hi = np.zeros(K, np.int64)
    if constant:
        for k in range(K):
            X0 = -D[0, 0] * offs[k, 0]
            Y0 = -D[0, 0] * offs[k, 1]
            ox[k] = int(math.floor(X0))
            oy[k] = int(math.floor(Y0))
            fxs[k] = X0 - ox[k]
            fys[k] = Y0 - oy[k]
            x_lo[k] = max(0, int(math.ceil(-X0)))
            x_hi[k] = min(W - 1, int(math.floor(W - 1 - X0)))
            y_lo[k] = max(0, int(math.ceil(-Y0)))
            y_hi[k] = min(H - 1, int(math.floor(H - 1 - Y0)))
    per_view = S == K  # one subset per view, subset k = view k: the loss's per-view errors
    for k in range(K):
        per_view = per_view and n_of[k] == 1 and subsets_of[k, 0] == k
    if per_view:  # view by view: each view's pixels stream through the cache once
        for k in numba.prange(K):
            u = offs[k, 0]
            v = offs[k, 1]
            for y in range(H):
                for x in range(W):
                    inside, ix, iy, fx, fy = _sample_at(
                        x, y, D[0, 0] if constant else D[y, x], u, v, H, W
                    )
                    if not (inside and need[y, x]):
                        out[k, y, x] = UNSEEN
                        if grad:
                            sens[k, y, x] = 0.0
                        continue
                    e, g = _view_error(ref, views, k, y, x, ix, iy, fx, fy, H, W, C, u, v, grad)
                    out[k, y, x] = e
                    if grad:
                        sens[k, y, x] = g
        return
    for y in numba.prange(H):
        acc = np.empty(S)
        cnt = np.empty(S)
        gacc = np.empty(S)
        for x in range(W):
            if not need[y, x]:
                for s in range(S):
                    out[s, y, x] = UNSEEN
                    if grad:
                        sens[s, y, x] = 0.0
                continue
            acc[:] = 0.0
            cnt[:] = 0.0
            gacc[:] = 0.0
            for k in range(K):
                u = offs[k, 0]
                v = offs[k, 1]
                if constant:
                    if x < x_lo[k] or x > x_hi[k] or y < y_lo[k] or y > y_hi[k]:
                        continue
                    ix = x + ox[k]
                    iy = y + oy[k]
                    fx = fxs[k]
                    fy = fys[k]
                else:
                    inside, ix, iy, fx, fy = _sample_at(x, y, D[y, x], u, v, H, W)
                    if not inside:
                        continue
                e, g = _view_error(ref, views, k, y, x, ix, iy, fx, fy, H, W, C, u, v, grad)
                for j in range(n_of[k]):
                    s = subsets_of[k, j]
                    acc[s] += e
                    cnt[s] += 1.0
                    gacc[s] += g
            for s in range(S):
                n = cnt[s]
                out[s, y, x] = acc[s] / n if n > 0.0 else UNSEEN
                if grad:
                    sens[s, y, x] = gacc[s] / n if n > 0.0 else 0.0
