"""Compiled CPU kernel of the light-field occlusion masks.

Same arithmetic as the torch path of `diffdepth.losses.lightfield.occlusion_masks` (a z-buffer of
the largest disparity per rounded target pixel), one pass over the pixels of each view, parallel
over views.
"""

from __future__ import annotations

import numba
import numpy as np


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
