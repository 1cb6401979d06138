"""Compiled CPU kernels of the occlusion-aware splatting (numba).

Both passes walk the points front to back once. Per pixel q they keep the running transmittance
T(q) = prod over the points already drawn of exp(-KAPPA g_j(q)), so the fragment of point i at q
sees exactly T_i(q) of SPEC section 3. The forward pass keeps one number per fragment, the exit
transmittance e = exp(-KAPPA g), which the backward pass reads instead of recomputing it.

The image can be cut into horizontal bands of at least 2 * WINDOW_RADIUS + 1 rows, each an
independent unit of work (the loop over bands is a ``prange``, one band per numba thread).
Every band walks
the whole depth order and draws the rows of each window that fall in it;
per-pixel sums therefore keep their depth order whatever the number of bands, and a window spans
at most two bands, which gives every point two gradient slots (the band of its first row, the
next band) that are summed at the end.

Points are passed packed and sorted front to back: ``pts [N, 4]`` float64 rows (x, y, value,
weight).
"""

import math

import numba
import numpy as np
from numba import prange

from diffdepth.render.constants import (
    KAPPA,
    LAM_EXPONENT_CUTOFF,
    LAM_ORDER,
    SIGMA_LAM,
    WINDOW_RADIUS,
)

_R = WINDOW_RADIUS
_WIN = 2 * WINDOW_RADIUS + 1
_CL = 1.0 / (2.0 * SIGMA_LAM * SIGMA_LAM)
_KAPPA = KAPPA
_LAM_CUT = LAM_EXPONENT_CUTOFF
# Transmittance below _TINY is flushed to 0 and the fragments behind it are skipped: they would
# add less than 1e-20 of their value (and it avoids slow subnormal arithmetic).
_TINY = 1e-20
assert LAM_ORDER == 2  # the kernels write u * u for u ** p


def n_bands(height: int) -> int:
    """Number of row bands for an image of ``height`` rows: one per numba thread (each band is
    processed by one thread), at least 7 rows each."""
    return max(1, min(numba.get_num_threads(), height // _WIN))


@numba.njit(cache=True, nogil=True, parallel=False)
def _centres(pts, height, width):
    """Window centres (round half up) of every point; far-away points are clamped outside."""
    n = pts.shape[0]
    cx = np.empty(n, np.int32)
    cy = np.empty(n, np.int32)
    for k in prange(n):
        x = min(max(pts[k, 0], -_R - 2.0), width + _R + 1.0)
        y = min(max(pts[k, 1], -_R - 2.0), height + _R + 1.0)
        cx[k] = np.int32(math.floor(x + 0.5))
        cy[k] = np.int32(math.floor(y + 0.5))
    return cx, cy


@numba.njit(cache=True, nogil=True, inline="always")
def _band_window(cx, cy, k, r0, r1, width):  # pragma: no cover - compiled
    """(inside, xc, yc, qx0, qx1, qy0, qy1): point k's window centre and its pixel columns
    qx0..qx1 and rows qy0..qy1 within image rows r0..r1 - 1; inside False when none."""
    xc = cx[k]
    yc = cy[k]
    qx0 = max(xc - _R, 0)
    qx1 = min(xc + _R, width - 1)
    qy0 = max(yc - _R, r0)
    qy1 = min(yc + _R, r1 - 1)
    return qx0 <= qx1 and qy0 <= qy1, xc, yc, qx0, qx1, qy0, qy1


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def splat_forward(pts, height, width, bands, cs):
    """Forward pass; cs = 1 / (2 sigma_s^2) of the opacity footprint.

    Returns ``out [H*W, 3]`` float64 (columns S, lam and the final T) and ``frag [N * 49]``, the
    per-fragment exit transmittance e = exp(-KAPPA g) that the backward pass reuses (entry
    k * 49 + 7 * row + column of the window; entries outside the image are not written).
    """
    n = pts.shape[0]
    bands = max(1, min(bands, height // _WIN))
    cx, cy = _centres(pts, height, width)
    out = np.empty((height * width, 3))  # per pixel S, lam, running T (one cache line)
    frag = np.empty(n * _WIN * _WIN)
    for b in prange(bands):
        r0 = b * height // bands
        r1 = (b + 1) * height // bands
        for q in range(r0 * width, r1 * width):
            out[q, 0] = 0.0
            out[q, 1] = 0.0
            out[q, 2] = 1.0
        gxs = np.empty(_WIN)
        dx2s = np.empty(_WIN)
        for k in range(n):
            inside, xc, yc, qx0, qx1, qy0, qy1 = _band_window(cx, cy, k, r0, r1, width)
            if not inside:
                continue
            x = pts[k, 0]
            y = pts[k, 1]
            d = pts[k, 2]
            w = pts[k, 3]
            for j in range(qx1 - qx0 + 1):
                dx = qx0 + j - x
                dx2s[j] = dx * dx
                gxs[j] = math.exp(-dx * dx * cs)
            for qy in range(qy0, qy1 + 1):
                dy = qy - y
                dy2 = dy * dy
                gy = math.exp(-dy2 * cs)
                base = qy * width + qx0
                fbase = k * _WIN * _WIN + (qy - yc + _R) * _WIN + qx0 - xc + _R
                for j in range(qx1 - qx0 + 1):
                    q = base + j
                    t = out[q, 2]
                    if t == 0.0:
                        continue  # hidden: frag[fbase + j] stays unwritten, backward skips it
                    g = gxs[j] * gy
                    e = math.exp(-_KAPPA * g)
                    frag[fbase + j] = e
                    u = (dx2s[j] + dy2) * _CL
                    uu = u * u
                    lam0 = math.exp(-uu) if uu < _LAM_CUT else 0.0
                    out[q, 0] += d * (t - t * e)
                    out[q, 1] += w * lam0 * t
                    te = t * e
                    out[q, 2] = te if te > _TINY else 0.0
    return out, frag


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def splat_backward(pts, fwd, frag, grad_s, grad_lam, height, width, bands, cs):
    """Backward pass (vector-Jacobian product).

    ``fwd [H*W, 3]`` and ``frag [N*49]`` are the forward outputs (S, lam, T; e per fragment);
    ``grad_s``, ``grad_lam`` ``[H*W]`` are the upstream gradients gS, gL. Returns
    ``grad [N, 4]`` float64 in the packed sorted order: d/dx,
    d/dy, d/dvalue, d/dweight.

    dL/dg_i = KAPPA (gS d_i e_i T_i - F_i) with F_i = sum over the points j farther than i of
    gS d_j a_j T_j + gL lam_j T_j. Walking front to back, F_i is the total minus the running
    prefix; each pixel keeps M = prefix - total, which starts at -(gS S + gL lam), so F_i = -M
    after adding point i.
    """
    n = pts.shape[0]
    bands = max(1, min(bands, height // _WIN))
    cx, cy = _centres(pts, height, width)
    state = np.empty((height * width, 4))  # per pixel T, M, gS, gL
    slots = np.zeros((2, n, 4))
    for b in prange(bands):
        r0 = b * height // bands
        r1 = (b + 1) * height // bands
        for q in range(r0 * width, r1 * width):
            state[q, 0] = 1.0
            state[q, 1] = -(grad_s[q] * fwd[q, 0] + grad_lam[q] * fwd[q, 1])
            state[q, 2] = grad_s[q]
            state[q, 3] = grad_lam[q]
        gxs = np.empty(_WIN)
        dxs = np.empty(_WIN)
        for k in range(n):
            inside, xc, yc, qx0, qx1, qy0, qy1 = _band_window(cx, cy, k, r0, r1, width)
            if not inside:
                continue
            # slot 0 when this band holds the first image row of the window
            slot = 0 if qy0 == max(yc - _R, 0) else 1
            x = pts[k, 0]
            y = pts[k, 1]
            d = pts[k, 2]
            w = pts[k, 3]
            for j in range(qx1 - qx0 + 1):
                dx = qx0 + j - x
                dxs[j] = dx
                gxs[j] = math.exp(-dx * dx * cs)
            acc_x = 0.0
            acc_y = 0.0
            acc_d = 0.0
            acc_w = 0.0
            for qy in range(qy0, qy1 + 1):
                dy = qy - y
                dy2 = dy * dy
                gy = math.exp(-dy2 * cs)
                base = qy * width + qx0
                fbase = k * _WIN * _WIN + (qy - yc + _R) * _WIN + qx0 - xc + _R
                for j in range(qx1 - qx0 + 1):
                    q = base + j
                    t = state[q, 0]
                    if t == 0.0:
                        continue  # hidden: no contribution, no gradient
                    dx = dxs[j]
                    g = gxs[j] * gy
                    e = frag[fbase + j]
                    u = (dx * dx + dy2) * _CL
                    uu = u * u
                    lam0 = math.exp(-uu) if uu < _LAM_CUT else 0.0
                    gs = state[q, 2]
                    gl = state[q, 3]
                    at = t - t * e
                    lt = lam0 * t
                    m = state[q, 1] + gs * d * at + gl * w * lt
                    te = t * e
                    state[q, 0] = te if te > _TINY else 0.0
                    state[q, 1] = m
                    dg = _KAPPA * (gs * d * te + m)
                    acc_d += gs * at
                    acc_w += gl * lt
                    # dL/dr2 via g = exp(-r2 cs) and lam0 = exp(-(r2 cl)^2)
                    dr2 = -dg * g * cs - gl * w * 2.0 * u * lt * _CL
                    acc_x -= 2.0 * dr2 * dx
                    acc_y -= 2.0 * dr2 * dy
            slots[slot, k, 0] = acc_x
            slots[slot, k, 1] = acc_y
            slots[slot, k, 2] = acc_d
            slots[slot, k, 3] = acc_w
    return slots[0] + slots[1]


@numba.njit(cache=True, nogil=True)
def pack_points(xy, value, weight, order):
    """``pts [N, 4]`` float64 rows (x, y, value, weight) in the order ``order`` (front to back)."""
    n = order.shape[0]
    pts = np.empty((n, 4))
    for k in range(n):
        i = order[k]
        pts[k, 0] = xy[i, 0]
        pts[k, 1] = xy[i, 1]
        pts[k, 2] = value[i]
        pts[k, 3] = weight[i]
    return pts


@numba.njit(cache=True, nogil=True)
def unpack_images(fwd, s_out, lam_out):
    """Copy the S and lam columns of ``fwd [H*W, 3]`` into ``s_out``, ``lam_out`` ``[H, W]``."""
    height, width = s_out.shape
    for r in range(height):
        for c in range(width):
            s_out[r, c] = fwd[r * width + c, 0]
            lam_out[r, c] = fwd[r * width + c, 1]


@numba.njit(cache=True, nogil=True)
def flatten_grads(grad_s, grad_lam):
    """``[H*W]`` float64 copies of the upstream gradients ``[H, W]`` (any strides and dtype)."""
    height, width = grad_s.shape
    gs = np.empty(height * width)
    gl = np.empty(height * width)
    for r in range(height):
        for c in range(width):
            gs[r * width + c] = grad_s[r, c]
            gl[r * width + c] = grad_lam[r, c]
    return gs, gl


@numba.njit(cache=True, nogil=True)
def scatter_grads(g_sorted, order, grad_xy, grad_value, grad_weight):
    """Write ``g_sorted [N, 4]`` (front-to-back order) back to the points' own order."""
    for k in range(order.shape[0]):
        i = order[k]
        grad_xy[i, 0] = g_sorted[k, 0]
        grad_xy[i, 1] = g_sorted[k, 1]
        grad_value[i] = g_sorted[k, 2]
        grad_weight[i] = g_sorted[k, 3]
