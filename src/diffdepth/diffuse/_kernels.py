"""Numba CPU kernels for one multigrid level (float64 numpy arrays, C-contiguous).

Every kernel reads the level's operator as (invd, wx, wy): the inverse diagonal ``[H, W]`` and the
edge weights ``wx [H, W-1]``, ``wy [H-1, W]`` (see ``operator.py``). Pixels whose diagonal is zero
have ``invd = 0`` and are left untouched by the smoother.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, inline="always")
def _gs_row(x, b, wx, wy, invd, i, colour):  # pragma: no cover - compiled
    """The pixels of row i with (i + j) % 2 == colour of a Gauss-Seidel half sweep:
    x_p = (b_p + sum_q w_pq x_q) / diag_p over the 4-neighbours q in the order left, right,
    up, down.

    The neighbour sums of this module are written out in each kernel's loop rather than
    called per pixel: with a compiled helper taking the arrays (even inlined) numba did not
    compile these loops to tight code (the matrix-vector product at 512x512: 10 ms called,
    0.36 ms written out, side by side; the results are the same to the last bit)."""
    H, W = x.shape
    for j in range((i + colour) & 1, W, 2):
        s = b[i, j]
        if j > 0:
            s += wx[i, j - 1] * x[i, j - 1]
        if j < W - 1:
            s += wx[i, j] * x[i, j + 1]
        if i > 0:
            s += wy[i - 1, j] * x[i - 1, j]
        if i < H - 1:
            s += wy[i, j] * x[i + 1, j]
        x[i, j] = s * invd[i, j]


@njit(cache=True, nogil=True, inline="always")
def _residual_row(x, b, wx, wy, diag, i, out):  # pragma: no cover - compiled
    """out[j] = (b - A x)[i, j] for the pixels j of row i; returns the row's sum of squares."""
    H, W = x.shape
    rr = 0.0
    for j in range(W):
        s = b[i, j] - diag[i, j] * x[i, j]
        if j > 0:
            s += wx[i, j - 1] * x[i, j - 1]
        if j < W - 1:
            s += wx[i, j] * x[i, j + 1]
        if i > 0:
            s += wy[i - 1, j] * x[i - 1, j]
        if i < H - 1:
            s += wy[i, j] * x[i + 1, j]
        out[j] = s
        rr += s * s
    return rr


@njit(cache=True, nogil=True)
def gs_colour(x, b, wx, wy, invd, colour):  # pragma: no cover - compiled
    """One Gauss-Seidel half sweep: update pixels with (i + j) % 2 == colour, in place."""
    for i in range(x.shape[0]):
        _gs_row(x, b, wx, wy, invd, i, colour)


@njit(cache=True, nogil=True)
def first_red(x, b, invd):  # pragma: no cover - compiled
    """The red half sweep from x = 0: x_red = b / diag, x_black = 0."""
    H, W = x.shape
    for i in range(H):
        for j in range(W):
            if ((i + j) & 1) == 0:
                x[i, j] = b[i, j] * invd[i, j]
            else:
                x[i, j] = 0.0


@njit(cache=True, nogil=True)
def residual_restrict(x, b, wx, wy, diag, rc):  # pragma: no cover - compiled
    """rc[I, J] = sum of (b - A x) over the 2x2 aggregate (I, J) (rc is overwritten)."""
    H, W = x.shape
    rc[:, :] = 0.0
    row = np.empty(W)
    for i in range(H):
        _residual_row(x, b, wx, wy, diag, i, row)
        for j in range(W):
            rc[i >> 1, j >> 1] += row[j]


@njit(cache=True, nogil=True)
def prolong_add(x, e, alpha):  # pragma: no cover - compiled
    """x[i, j] += alpha * e[i // 2, j // 2] (piecewise-constant interpolation)."""
    H, W = x.shape
    for i in range(H):
        for j in range(W):
            x[i, j] += alpha * e[i >> 1, j >> 1]


@njit(cache=True, nogil=True)
def presmooth_restrict(x, b, wx, wy, invd, diag, rc, nu):  # pragma: no cover - compiled
    """The down leg of a V-cycle level in one pass over the rows: ``first_red``, then the half
    sweeps black, red, black, ... (2 nu in all, from x = 0), then ``residual_restrict`` into rc.

    Stage s (0: first_red, 1 .. 2 nu - 1: the half sweep of colour s % 2, 2 nu: the residual)
    works on row ``step - s``, and the stages of a step run in increasing s: when a stage reads
    the rows r - 1, r, r + 1 of the stage before, that stage has finished them and the stage
    after has not touched them yet.  Every pixel therefore sees exactly the values it sees in
    the separate kernels, in the same order, and the result is the same to the last bit, with
    one pass over the level's arrays instead of 2 nu + 1.
    """
    H, W = x.shape
    m = 2 * nu if nu > 0 else 2  # the red and black half sweeps always run
    rc[:, :] = 0.0
    row = np.empty(W)
    for step in range(H + m):
        for st in range(m + 1):
            i = step - st
            if i < 0 or i >= H:
                continue
            if st == 0:
                for j in range(W):
                    if ((i + j) & 1) == 0:
                        x[i, j] = b[i, j] * invd[i, j]
                    else:
                        x[i, j] = 0.0
            elif st < m:
                _gs_row(x, b, wx, wy, invd, i, st & 1)
            else:
                _residual_row(x, b, wx, wy, diag, i, row)
                for j in range(W):
                    rc[i >> 1, j >> 1] += row[j]


@njit(cache=True, nogil=True)
def prolong_postsmooth(x, e, alpha, b, wx, wy, invd, nu):  # pragma: no cover - compiled
    """The up leg of a V-cycle level in one pass over the rows: ``prolong_add`` of alpha e,
    then the half sweeps black, red, black, red, ... (2 nu in all); pipelined over the rows as
    `presmooth_restrict` (stage s on row ``step - s``), so bit-identical to the separate
    kernels."""
    H, W = x.shape
    m = 2 * nu
    for step in range(H + m):
        for st in range(m + 1):
            i = step - st
            if i < 0 or i >= H:
                continue
            if st == 0:
                for j in range(W):
                    x[i, j] += alpha * e[i >> 1, j >> 1]
            else:
                _gs_row(x, b, wx, wy, invd, i, st & 1)


@njit(cache=True, nogil=True)
def matvec(x, wx, wy, diag, out):  # pragma: no cover - compiled
    """out = A x."""
    H, W = x.shape
    for i in range(H):
        for j in range(W):
            s = diag[i, j] * x[i, j]
            if j > 0:
                s -= wx[i, j - 1] * x[i, j - 1]
            if j < W - 1:
                s -= wx[i, j] * x[i, j + 1]
            if i > 0:
                s -= wy[i - 1, j] * x[i - 1, j]
            if i < H - 1:
                s -= wy[i, j] * x[i + 1, j]
            out[i, j] = s


@njit(cache=True, nogil=True, parallel=True)
def coarsen(lam, wx, wy, lamc, wxc, wyc):  # pragma: no cover - compiled
    """Galerkin coarsening P^T A P for 2x2 aggregation (all outputs overwritten); parallel
    over coarse rows (each owns fine rows 2I and 2I + 1)."""
    H, W = lam.shape
    Hc, Wc = lamc.shape
    for I in prange(Hc):
        for J in range(Wc):
            lamc[I, J] = 0.0
        for J in range(Wc - 1):
            wxc[I, J] = 0.0
        if I < Hc - 1:
            for J in range(Wc):
                wyc[I, J] = 0.0
        for i in range(2 * I, min(2 * I + 2, H)):
            for j in range(W):
                lamc[I, j >> 1] += lam[i, j]
            for j in range(1, W - 1, 2):
                wxc[I, j >> 1] += wx[i, j]
        i = 2 * I + 1
        if i < H - 1:
            for j in range(W):
                wyc[I, j >> 1] += wy[i, j]


@njit(cache=True, nogil=True)
def dot(a, b):  # pragma: no cover - compiled
    """Sum of a * b over all entries (no BLAS threads: fast on a busy machine)."""
    a1 = a.reshape(-1)
    b1 = b.reshape(-1)
    s = 0.0
    for k in range(a1.size):
        s += a1[k] * b1[k]
    return s


@njit(cache=True, nogil=True)
def cg_step(x, r, p, Ap, alpha):  # pragma: no cover - compiled
    """x += alpha p, r -= alpha Ap; returns the new r . r."""
    x1, r1, p1, q1 = x.reshape(-1), r.reshape(-1), p.reshape(-1), Ap.reshape(-1)
    s = 0.0
    for k in range(x1.size):
        x1[k] += alpha * p1[k]
        rk = r1[k] - alpha * q1[k]
        r1[k] = rk
        s += rk * rk
    return s


@njit(cache=True, nogil=True)
def xpby(z, p, beta):  # pragma: no cover - compiled
    """p = z + beta p, in place."""
    z1, p1 = z.reshape(-1), p.reshape(-1)
    for k in range(z1.size):
        p1[k] = z1[k] + beta * p1[k]


@njit(cache=True, nogil=True, parallel=True)
def edge_weights(theta, wx, wy):  # pragma: no cover - compiled
    """wx = (theta_p + theta_right) / 2, wy = (theta_p + theta_below) / 2."""
    H, W = theta.shape
    for i in prange(H):
        for j in range(W - 1):
            wx[i, j] = 0.5 * (theta[i, j] + theta[i, j + 1])
    for i in prange(H - 1):
        for j in range(W):
            wy[i, j] = 0.5 * (theta[i, j] + theta[i + 1, j])


@njit(cache=True, nogil=True, parallel=True)
def degree(lam, wx, wy, diag, invd):  # pragma: no cover - compiled
    """diag = lam + sum of incident edge weights; invd = 1 / diag (0 where diag == 0)."""
    H, W = lam.shape
    for i in prange(H):
        for j in range(W):
            s = lam[i, j]
            if j > 0:
                s += wx[i, j - 1]
            if j < W - 1:
                s += wx[i, j]
            if i > 0:
                s += wy[i - 1, j]
            if i < H - 1:
                s += wy[i, j]
            diag[i, j] = s
            invd[i, j] = 1.0 / s if s > 0.0 else 0.0


@njit(cache=True, nogil=True, parallel=True)
def adjoint_grads(a, D, S, lam, dS, dlam, dtheta):  # pragma: no cover - compiled
    """dL/dS = lam a, dL/dlam = a (S - D), dL/dtheta_p = 1/2 sum_q -(a_p - a_q)(D_p - D_q)."""
    H, W = a.shape
    for i in prange(H):
        for j in range(W):
            dS[i, j] = lam[i, j] * a[i, j]
            dlam[i, j] = a[i, j] * (S[i, j] - D[i, j])
            s = 0.0
            if j > 0:
                s -= (a[i, j] - a[i, j - 1]) * (D[i, j] - D[i, j - 1])
            if j < W - 1:
                s -= (a[i, j] - a[i, j + 1]) * (D[i, j] - D[i, j + 1])
            if i > 0:
                s -= (a[i, j] - a[i - 1, j]) * (D[i, j] - D[i - 1, j])
            if i < H - 1:
                s -= (a[i, j] - a[i + 1, j]) * (D[i, j] - D[i + 1, j])
            dtheta[i, j] = 0.5 * s


@njit(cache=True, nogil=True)
def cholesky(A):  # pragma: no cover - compiled
    """Lower Cholesky factor of a small SPD matrix (a pivot that vanishes against its original
    diagonal, from a singular block, is replaced by that diagonal: still an SPD preconditioner)."""
    n = A.shape[0]
    L = np.zeros_like(A)
    for j in range(n):
        s = A[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 1e-13 * A[j, j]:
            s = A[j, j] if A[j, j] > 0.0 else 1.0
        ljj = np.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, n):
            t = A[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / ljj
    return L


@njit(cache=True, nogil=True)
def cholesky_solve(L, b, out):  # pragma: no cover - compiled
    """out = (L L^T)^{-1} b (b and out may be 2-D grids; they are read row-major)."""
    n = L.shape[0]
    b1 = b.reshape(-1)
    y = out.reshape(-1)
    for i in range(n):
        s = b1[i]
        for k in range(i):
            s -= L[i, k] * y[k]
        y[i] = s / L[i, i]
    for i in range(n - 1, -1, -1):
        s = y[i]
        for k in range(i + 1, n):
            s -= L[k, i] * y[k]
        y[i] = s / L[i, i]


@njit(cache=True, nogil=True)
def summary(a):  # pragma: no cover - compiled
    """(number of non-finite entries, min and max of the finite ones) of an array.  Serial:
    one pass over a map is well under a millisecond, less than waking a thread pool."""
    a1 = a.reshape(-1)
    bad = 0
    lo = np.inf
    hi = -np.inf
    for k in range(a1.size):
        v = a1[k]
        if math.isfinite(v):
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        else:
            bad += 1
    return bad, lo, hi


@njit(cache=True, nogil=True)
def residual_norm(b, x, wx, wy, diag, r):  # pragma: no cover - compiled
    """r = b - A x in one pass; returns r . r."""
    rr = 0.0
    for i in range(x.shape[0]):
        rr += _residual_row(x, b, wx, wy, diag, i, r[i])
    return rr


@njit(cache=True, nogil=True, fastmath=True)
def start_stats(b, Ax, r):  # pragma: no cover - compiled
    """r = b - Ax; returns (r . r, b . Ax, Ax . Ax) (sums in any order: fastmath)."""
    b1, a1, r1 = b.reshape(-1), Ax.reshape(-1), r.reshape(-1)
    rr = 0.0
    bAx = 0.0
    AxAx = 0.0
    for k in range(b1.size):
        t = b1[k] - a1[k]
        r1[k] = t
        rr += t * t
        bAx += b1[k] * a1[k]
        AxAx += a1[k] * a1[k]
    return rr, bAx, AxAx


@njit(cache=True, nogil=True)
def rescale_start(x, r, b, Ax, alpha):  # pragma: no cover - compiled
    """x *= alpha and r = b - alpha Ax, in place; returns r . r."""
    x1, r1, b1, a1 = x.reshape(-1), r.reshape(-1), b.reshape(-1), Ax.reshape(-1)
    rr = 0.0
    for k in range(x1.size):
        x1[k] *= alpha
        t = b1[k] - alpha * a1[k]
        r1[k] = t
        rr += t * t
    return rr
