"""Compiled CPU kernel: photo-consistency of a reference image with calibrated pinhole views at a
per-pixel inverse depth (see `diffdepth.points.pinhole`).

Reference pixel p = (x, y, 1) at inverse depth rho is seen by view k at the homogeneous point
``A_k p + rho b_k`` (A_k = K_k R_rel K_ref^-1, b_k = K_k t_rel): linear in rho, so one kernel
serves the plane sweep (rho constant) and the edge refinement (rho a map). Images are float32
[H, W, C] (views [K, Hmax, Wmax, C], padded, with their own sizes), parallel over image rows.
"""

from __future__ import annotations

import numba

from diffdepth.photo._kernels import UNSEEN


@numba.njit(parallel=True, cache=True, nogil=True)
def view_errors(ref, views, sizes, A, b, rho, need, err, seen):  # pragma: no cover - compiled
    """err[k, y, x] = mean_c |ref(y, x) - view_k(u, v)| (bilinear) where reference pixel (x, y)
    at inverse depth rho[y, x] lands at (u, v) in view k; seen[k, y, x] says whether it lands in
    front of camera k and inside its image (err is 0 where not). Only pixels with need[y, x].

    views [K, Hmax, Wmax, C]; sizes int [K, 2] (h, w); A [K, 3, 3]; b [K, 3]; rho, need [H, W].
    """
    K = views.shape[0]
    H, W, C = ref.shape
    inv_c = 1.0 / C
    for y in numba.prange(H):
        for x in range(W):
            for k in range(K):
                err[k, y, x] = 0.0
                seen[k, y, x] = False
            if not need[y, x]:
                continue
            r = rho[y, x]
            for k in range(K):
                hk = sizes[k, 0]
                wk = sizes[k, 1]
                pz = A[k, 2, 0] * x + A[k, 2, 1] * y + A[k, 2, 2] + r * b[k, 2]
                if not pz > 1e-12:
                    continue
                u = (A[k, 0, 0] * x + A[k, 0, 1] * y + A[k, 0, 2] + r * b[k, 0]) / pz
                v = (A[k, 1, 0] * x + A[k, 1, 1] * y + A[k, 1, 2] + r * b[k, 1]) / pz
                if not (u >= 0.0 and v >= 0.0 and u <= wk - 1 and v <= hk - 1):
                    continue
                c0 = min(int(u), wk - 1)
                r0 = min(int(v), hk - 1)
                c1 = min(c0 + 1, wk - 1)
                r1 = min(r0 + 1, hk - 1)
                fx = u - c0
                fy = v - r0
                e = 0.0
                for c in range(C):
                    val = (1.0 - fy) * (
                        (1.0 - fx) * views[k, r0, c0, c] + fx * views[k, r0, c1, c]
                    ) + fy * ((1.0 - fx) * views[k, r1, c0, c] + fx * views[k, r1, c1, c])
                    e += abs(val - ref[y, x, c])
                err[k, y, x] = e * inv_c
                seen[k, y, x] = True


@numba.njit(parallel=True, cache=True, nogil=True)
def subset_means(err, seen, member, out):  # pragma: no cover - compiled
    """out[s, y, x] = mean of err[k, y, x] over the views k of subset s (member[s, k]) that see
    the pixel, UNSEEN when none does. err, seen [K, H, W]; member bool [S, K]; out [S, H, W]."""
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
