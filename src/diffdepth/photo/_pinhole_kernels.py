"""Compiled CPU kernels of pinhole warping (see `diffdepth.photo.pinhole`).

Reference pixel p = (x, y, 1) at inverse depth rho is seen by view k at the homogeneous point
``q = A_k p + rho b_k`` (A_k = K_k R_rel K_ref^-1, b_k = K_k t_rel), at depth q_z / rho in
camera k. Views are stacked [K, Hmax, Wmax, C] (padded) with their own sizes [K, 2] (h, w).
Bilinear sampling follows `diffdepth.image.sample_bilinear`: coordinates clamped to the grid of
pixel centres, cell (ix, iy) with ix = min(floor(x), w - 2), and the inside rule
0 <= x <= w - 1, 0 <= y <= h - 1. Parallel over image rows (over views for the z-buffer).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from diffdepth.photo._kernels import UNSEEN

#: a point is in front of camera k when its depth there exceeds this (reference depth units)
FRONT_EPS = 1e-9


@numba.njit(cache=True, nogil=True, inline="always")
def _project(A, b, k, x, y, rho):  # pragma: no cover - compiled
    """(front, u, v, du/drho, dv/drho, depth in camera k) of reference pixel (x, y) at rho.

    Behind the camera (front False) u, v are q_xy / rho (q_xy for rho <= 0): the torch
    definition's values there (the sample is masked, but it is still a sample)."""
    ax = A[k, 0, 0] * x + A[k, 0, 1] * y + A[k, 0, 2]
    ay = A[k, 1, 0] * x + A[k, 1, 1] * y + A[k, 1, 2]
    az = A[k, 2, 0] * x + A[k, 2, 1] * y + A[k, 2, 2]
    qx = ax + rho * b[k, 0]
    qy = ay + rho * b[k, 1]
    qz = az + rho * b[k, 2]
    front = qz > FRONT_EPS * rho + 1e-12
    if front:
        u = qx / qz
        v = qy / qz
        du = (b[k, 0] - u * b[k, 2]) / qz
        dv = (b[k, 1] - v * b[k, 2]) / qz
        z = qz / rho if rho > 0.0 else math.inf
    elif rho > 0.0:
        u = qx / rho
        v = qy / rho
        du = -ax / (rho * rho)
        dv = -ay / (rho * rho)
        z = qz / rho
    else:
        u = qx
        v = qy
        du = 0.0
        dv = 0.0
        z = -math.inf
    return front, u, v, du, dv, z


@numba.njit(cache=True, nogil=True, inline="always")
def _cell(u, n):  # pragma: no cover - compiled
    """(index, weight, within) of coordinate u on an axis of n >= 2 pixels, as
    `sample_bilinear`: u clamped to [0, n - 1], index min(floor, n - 2); within says whether u
    was in range (the clamp passes the derivative)."""
    within = u >= 0.0 and u <= n - 1
    uc = min(max(u, 0.0), n - 1.0)
    i = min(int(math.floor(uc)), n - 2)
    return i, uc - i, within


@numba.njit(parallel=True, cache=True, nogil=True)
def warp_kernel(
    ref, views, sizes, A, b, rho, need, err, seen, warped, dwarp, derr
):  # pragma: no cover
    """View k warped into the reference at inverse depth rho [H, W] (a map, or [1, 1]: one
    value for every pixel), for the pixels with need[y, x] (the others get err 0, seen False).

    err [K, H, W]: mean_c |ref - view_k(u, v)| (the clamped sample, also where not seen);
    seen bool [K, H, W]: in front of camera k and inside its image (the inside rule).
    When warped has K rows (else [0, 0, 0, 0]): warped [K, C, H, W] the samples; when dwarp
    has K rows too: dwarp [K, C, H, W], derr [K, H, W] their derivatives with respect to rho
    (0 where the clamp stops the sample; at |ref - sample| = 0 the derivative of |.| is 0).
    """
    K = views.shape[0]
    H, W, C = ref.shape
    constant = rho.shape[0] == 1 and rho.shape[1] == 1
    full = warped.shape[0] == K
    grad = full and dwarp.shape[0] == K
    inv_c = 1.0 / C
    for y in numba.prange(H):
        for k in range(K):
            hk = sizes[k, 0]
            wk = sizes[k, 1]
            for x in range(W):
                if not need[y, x]:
                    err[k, y, x] = 0.0
                    seen[k, y, x] = False
                    if full:
                        for c in range(C):
                            warped[k, c, y, x] = 0.0
                    if grad:
                        for c in range(C):
                            dwarp[k, c, y, x] = 0.0
                        derr[k, y, x] = 0.0
                    continue
                r = rho[0, 0] if constant else rho[y, x]
                front, u, v, du, dv, _ = _project(A, b, k, x, y, r)
                ix, fx, in_x = _cell(u, wk)
                iy, fy, in_y = _cell(v, hk)
                seen[k, y, x] = front and in_x and in_y
                gu = du if in_x else 0.0
                gv = dv if in_y else 0.0
                e = 0.0
                de = 0.0
                for c in range(C):
                    a00 = views[k, iy, ix, c]
                    a01 = views[k, iy, ix + 1, c]
                    a10 = views[k, iy + 1, ix, c]
                    a11 = views[k, iy + 1, ix + 1, c]
                    top = a00 + fx * (a01 - a00)
                    bot = a10 + fx * (a11 - a10)
                    val = top + fy * (bot - top)
                    diff = val - ref[y, x, c]
                    e += abs(diff)
                    if full:
                        warped[k, c, y, x] = val
                    if grad:
                        dx = (a01 - a00) + fy * ((a11 - a10) - (a01 - a00))
                        g = dx * gu + (bot - top) * gv
                        dwarp[k, c, y, x] = g
                        de += g * np.sign(diff)  # no branch (see photo._kernels)
                err[k, y, x] = e * inv_c
                if grad:
                    derr[k, y, x] = de * inv_c


@numba.njit(parallel=True, cache=True, nogil=True)
def warp_backward_kernel(g_warped, dwarp, g_err, derr, out):  # pragma: no cover - compiled
    """out[y, x] = sum_k sum_c g_warped dwarp + sum_k g_err derr; an empty ([0, ...]) g_*
    leaves its term out. g_warped, dwarp [K, C, H, W]; g_err, derr [K, H, W]; out [H, W]."""
    K, C, H, W = dwarp.shape
    use_w = g_warped.shape[0] == K
    use_e = g_err.shape[0] == K
    for y in numba.prange(H):
        for x in range(W):
            s = 0.0
            for k in range(K):
                if use_w:
                    for c in range(C):
                        s += g_warped[k, c, y, x] * dwarp[k, c, y, x]
                if use_e:
                    s += g_err[k, y, x] * derr[k, y, x]
            out[y, x] = s


@numba.njit(parallel=True, cache=True, nogil=True)
def visibility_kernel(A, b, sizes, rho, margin, tol, out):  # pragma: no cover - compiled
    """out[k, y, x]: reference pixel (x, y) at inverse depth rho [H, W] (> 0) is seen by view k:
    in front of camera k, within ``margin`` px of its grid of pixel centres, and no reference
    pixel landing on the same rounded pixel of view k is nearer than its depth there divided
    by (1 + tol) (a z-buffer of the depths in camera k). out bool [K, H, W]."""
    H, W = rho.shape
    K = sizes.shape[0]
    for k in numba.prange(K):
        hk = sizes[k, 0]
        wk = sizes[k, 1]
        zbuf = np.full(hk * wk, np.inf)
        target = np.empty(H * W, np.int64)
        depth = np.empty(H * W)
        for y in range(H):
            for x in range(W):
                r = rho[y, x]
                front, u, v, _, _, z = _project(A, b, k, x, y, r)
                i = y * W + x
                target[i] = -1
                inside = front and r > 0.0 and u >= -margin and u <= wk - 1 + margin
                if inside and v >= -margin and v <= hk - 1 + margin:
                    ui = min(max(int(np.rint(u)), 0), wk - 1)
                    vi = min(max(int(np.rint(v)), 0), hk - 1)
                    t = vi * wk + ui
                    target[i] = t
                    depth[i] = z
                    if z < zbuf[t]:
                        zbuf[t] = z
        for y in range(H):
            for x in range(W):
                i = y * W + x
                t = target[i]
                out[k, y, x] = t >= 0 and depth[i] <= zbuf[t] * (1.0 + tol)


@numba.njit(parallel=True, cache=True, nogil=True)
def subset_means(err, seen, member, out):  # pragma: no cover - compiled
    """out[s, y, x] = mean of err[k, y, x] over the views k of subset s (member[s, k]) that see
    the pixel, UNSEEN when none does.
    err, seen [K, H, W]; member bool [S, K]; out [S, H, W]."""
    K, H, W = err.shape
    S = member.shape[0]
    for y in numba.prange(H):
        for x in range(W):
            for s in range(S):
                t = 0.0
                n = 0
                for k in range(K):
                    if member[s, k] and seen[k, y, x]:
                        t += err[k, y, x]
                        n += 1
                out[s, y, x] = t / n if n > 0 else UNSEEN
