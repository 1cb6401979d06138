"""Compiled CPU kernels of the light-field warping error and the occlusion masks.

Same arithmetic as the torch paths in `diffdepth.losses.lightfield` (bilinear sampling at
(x - D u, y - D v) with coordinates clamped to the image; a z-buffer of the largest disparity per
rounded target pixel), fused into one pass over the pixels of each view, parallel over views.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _lerp_row(img, C, y, X, W, ref, x, u, need, inv_c):  # pragma: no cover - compiled
    """(error, sensitivity) of a view on the reference row: linear along x at row y."""
    okx = 1.0 if (X > 0.0 and X < W - 1) else 0.0
    X = min(max(X, 0.0), W - 1.0)
    x0 = min(int(np.floor(X)), W - 2)
    fx = X - x0
    e = 0.0
    s = 0.0
    for c in range(C):
        a = img[c, y, x0]
        dx = img[c, y, x0 + 1] - a
        diff = a + fx * dx - ref[c, y, x]
        e += abs(diff)
        if need:
            g = -(dx * okx * u)
            if diff > 0:
                s += g
            elif diff < 0:
                s -= g
    return e * inv_c, s * inv_c


@numba.njit(cache=True, nogil=True, inline="always")
def _lerp_col(img, C, x, Y, H, ref, y, v, need, inv_c):  # pragma: no cover - compiled
    """(error, sensitivity) of a view on the reference column: linear along y at column x."""
    oky = 1.0 if (Y > 0.0 and Y < H - 1) else 0.0
    Y = min(max(Y, 0.0), H - 1.0)
    y0 = min(int(np.floor(Y)), H - 2)
    fy = Y - y0
    e = 0.0
    s = 0.0
    for c in range(C):
        a = img[c, y0, x]
        dy = img[c, y0 + 1, x] - a
        diff = a + fy * dy - ref[c, y, x]
        e += abs(diff)
        if need:
            g = -(dy * oky * v)
            if diff > 0:
                s += g
            elif diff < 0:
                s -= g
    return e * inv_c, s * inv_c


@numba.njit(parallel=True, cache=True, nogil=True)
def view_errors_kernel(D, ref, views, offs, need, err, sens):  # pragma: no cover - compiled
    """err[k] = mean_c |W_k - ref|, sens[k] = d err[k] / dD (when need).

    D [H, W], ref [C, H, W], views [K, C, H, W], offs [K, 2] float64 (u, v),
    err, sens [K, H, W] (outputs). Views on the reference row (v = 0) or column (u = 0)
    interpolate along one axis only (the other weight is 0), like the torch path.
    """
    K, C, H, W = views.shape
    inv_c = 1.0 / C
    for k in numba.prange(K):
        u = offs[k, 0]
        v = offs[k, 1]
        img = views[k]
        if v == 0.0:
            for y in range(H):
                for x in range(W):
                    e, s = _lerp_row(img, C, y, x - D[y, x] * u, W, ref, x, u, need, inv_c)
                    err[k, y, x] = e
                    if need:
                        sens[k, y, x] = s
            continue
        if u == 0.0:
            for y in range(H):
                for x in range(W):
                    e, s = _lerp_col(img, C, x, y - D[y, x] * v, H, ref, y, v, need, inv_c)
                    err[k, y, x] = e
                    if need:
                        sens[k, y, x] = s
            continue
        for y in range(H):
            for x in range(W):
                d = D[y, x]
                X = x - d * u
                Y = y - d * v
                okx = 1.0 if (X > 0.0 and X < W - 1) else 0.0
                oky = 1.0 if (Y > 0.0 and Y < H - 1) else 0.0
                X = min(max(X, 0.0), W - 1.0)
                Y = min(max(Y, 0.0), H - 1.0)
                x0 = min(int(np.floor(X)), W - 2)
                y0 = min(int(np.floor(Y)), H - 2)
                fx = X - x0
                fy = Y - y0
                e = 0.0
                s = 0.0
                for c in range(C):
                    a = img[c, y0, x0]
                    b = img[c, y0, x0 + 1]
                    cc = img[c, y0 + 1, x0]
                    dd = img[c, y0 + 1, x0 + 1]
                    dx_top = b - a
                    dx_bot = dd - cc
                    top = a + fx * dx_top
                    dy = cc + fx * dx_bot - top
                    diff = top + fy * dy - ref[c, y, x]
                    e += abs(diff)
                    if need:
                        dx = dx_top + fy * (dx_bot - dx_top)
                        g = -(dx * okx * u) - dy * oky * v
                        if diff > 0:
                            s += g
                        elif diff < 0:
                            s -= g
                err[k, y, x] = e * inv_c
                if need:
                    sens[k, y, x] = s * inv_c


@numba.njit(parallel=True, cache=True, nogil=True)
def occlusion_kernel(D, offs, margin, out):  # pragma: no cover - compiled
    """out[k, y, x] = the pixel is inside view k and no pixel landing on its rounded target
    is nearer by more than margin. D [H, W], offs [K, 2] float64, out bool [K, H, W]."""
    H, W = D.shape
    K = offs.shape[0]
    for k in numba.prange(K):
        u = offs[k, 0]
        v = offs[k, 1]
        zbuf = np.full(H * W, -np.inf)
        target = np.empty(H * W, np.int64)
        for y in range(H):
            for x in range(W):
                d = D[y, x]
                tx = x
                ty = y
                inside = True
                if u != 0.0:
                    X = x - d * u
                    inside = inside and X >= 0.0 and X <= W - 1
                    tx = min(max(int(np.rint(X)), 0), W - 1)
                if v != 0.0:
                    Y = y - d * v
                    inside = inside and Y >= 0.0 and Y <= H - 1
                    ty = min(max(int(np.rint(Y)), 0), H - 1)
                i = y * W + x
                if inside:
                    t = ty * W + tx
                    target[i] = t
                    if d > zbuf[t]:
                        zbuf[t] = d
                else:
                    target[i] = -1
        for y in range(H):
            for x in range(W):
                t = target[y * W + x]
                out[k, y, x] = t >= 0 and D[y, x] >= zbuf[t] - margin
