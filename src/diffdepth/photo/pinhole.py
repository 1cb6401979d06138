"""Photo-consistency of calibrated pinhole views: warping a view into the reference view through
an inverse-depth map, its error and its visibility.

Reference pixel p = (x, y, 1) at inverse depth rho (1 / depth in the reference camera) is seen by
view k at the homogeneous point ``q = A_k p + rho b_k``, i.e. at (u, v) = (q_x, q_y) / q_z and
depth q_z / rho in camera k, with A_k = K_k R_rel K_ref^-1 and b_k = K_k t_rel
(`warp_matrices`). View k is sampled there bilinearly with `diffdepth.image.sample_bilinear`'s
conventions (pixel centres at integers, coordinates clamped to the image, its inside rule).
Views are stacked channel-last [K, Hmax, Wmax, C], padded, with their sizes [K, 2] (h, w)
(`stack_views`).

    err, seen = pinhole_errors(ref, views, sizes, A, b, rho)          # numpy, compiled
    warped, err = pinhole_warp(rho, ref, views, sizes, A, b)          # torch, d/drho
    visible = pinhole_visibility(rho, sizes, A, b, tol=0.02)          # z-buffer, bool

One compiled kernel serves the plane sweep, the support test and the edge refinement (errors at
a constant or per-pixel rho, only the pixels needed) and the multi-view loss (the warped views,
their errors and both derivatives with respect to rho, for `PinholeWarp`'s backward pass).
`pinhole_warp_reference` and `pinhole_visibility_reference` are the plain torch definitions the
kernels are tested against (forward, and backward through autograd).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from diffdepth.image import sample_bilinear
from diffdepth.photo import _pinhole_kernels as _k
from diffdepth.types import MultiViewScene

__all__ = [
    "PinholeWarp",
    "pinhole_errors",
    "pinhole_subset_means",
    "pinhole_visibility",
    "pinhole_visibility_reference",
    "pinhole_warp",
    "pinhole_warp_reference",
    "stack_views",
    "warp_matrices",
]

#: px: the loss's visibility counts a sample this far outside the grid of pixel centres as
#: inside (rounding must not push a border pixel out of the image)
BORDER_TOL = 1e-4


def warp_matrices(scene: MultiViewScene, ref: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(A [3, 3], b [3]) float64 of view k of ``scene`` seen from image ``ref``: reference pixel
    p at inverse depth rho lands at the homogeneous point A p + rho b of view k."""
    R_rel = scene.R[k] @ scene.R[ref].T
    t_rel = scene.t[k] - R_rel @ scene.t[ref]
    A = scene.K[k] @ R_rel @ np.linalg.inv(scene.K[ref])
    return A, scene.K[k] @ t_rel


def stack_views(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Images [h_k, w_k, C] -> (float32 [K, Hmax, Wmax, C] zero-padded, sizes int64 [K, 2])."""
    sizes = np.array([img.shape[:2] for img in images], np.int64).reshape(-1, 2)
    if len(images) == 0 or (sizes < 2).any():
        raise ValueError(f"stack_views: need views of at least 2x2 pixels, got {sizes.tolist()}")
    hmax, wmax = sizes.max(0)
    stack = np.zeros((len(images), hmax, wmax, images[0].shape[2]), np.float32)
    for i, img in enumerate(images):
        stack[i, : sizes[i, 0], : sizes[i, 1]] = img
    return stack, sizes


def _geometry(sizes, A, b, K: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = np.ascontiguousarray(sizes, np.int64).reshape(-1, 2)
    A = np.ascontiguousarray(A, np.float64).reshape(-1, 3, 3)
    b = np.ascontiguousarray(b, np.float64).reshape(-1, 3)
    if not len(sizes) == len(A) == len(b) == K:
        raise ValueError(
            f"pinhole: {K} views, {len(sizes)} sizes, {len(A)} matrices A, {len(b)} vectors b"
        )
    return sizes, A, b


def pinhole_errors(
    ref: np.ndarray,
    views: np.ndarray,
    sizes: np.ndarray,
    A: np.ndarray,
    b: np.ndarray,
    rho: float | np.ndarray,
    need: np.ndarray | None = None,
    err: np.ndarray | None = None,
    seen: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-view errors, compiled: err [K, H, W] = mean_c |ref - view_k(u, v)| and seen bool
    [K, H, W] (in front of camera k and inside its image), at inverse depth rho (a number or
    [H, W]), for the pixels with need [H, W] (others: err 0, seen False). Where a pixel is not
    seen, err is that of the clamped sample (use ``seen``). ref [H, W, C] and views
    [K, Hmax, Wmax, C] float32 or float64, C-contiguous; err (ref's dtype) and seen are
    allocated when None."""
    K, _, _, C = views.shape
    H, W = ref.shape[:2]
    if ref.shape != (H, W, C) or not (ref.flags.c_contiguous and views.flags.c_contiguous):
        raise ValueError(
            f"pinhole_errors: ref [H, W, C] and views [K, Hmax, Wmax, C] must be C-contiguous "
            f"with one C, got {ref.shape} and {views.shape}"
        )
    sizes, A, b = _geometry(sizes, A, b, K)
    rho = np.asarray(rho, np.float64)
    rho = rho.reshape(1, 1) if rho.ndim == 0 else np.ascontiguousarray(rho)
    if rho.shape not in ((1, 1), (H, W)):
        raise ValueError(f"pinhole_errors: rho must be a number or [{H}, {W}], got {rho.shape}")
    need = np.ones((H, W), bool) if need is None else np.ascontiguousarray(need, bool)
    err = np.empty((K, H, W), ref.dtype) if err is None else err
    seen = np.empty((K, H, W), bool) if seen is None else seen
    none4 = np.empty((0, 0, 0, 0), err.dtype)
    none3 = np.empty((0, 0, 0), err.dtype)
    _k.warp_kernel(ref, views, sizes, A, b, rho, need, err, seen, none4, none4, none3)
    return err, seen


def pinhole_subset_means(err, seen, member, out) -> np.ndarray:
    """out [S, H, W] = mean of err [K, H, W] over the views of each subset (member bool
    [S, K]) that see the pixel (seen [K, H, W]), `UNSEEN` where none does."""
    _k.subset_means(err, seen, np.ascontiguousarray(member, bool), out)
    return out


class PinholeWarp(torch.autograd.Function):
    """(warped [K, C, H, W], err [K, H, W]) of `pinhole_warp`, compiled; d/drho in backward."""

    @staticmethod
    def forward(ctx, rho: Tensor, ref: Tensor, views: Tensor, geometry: tuple) -> tuple:
        sizes, A, b = geometry
        K, _, _, C = views.shape
        H, W = rho.shape
        warped = rho.new_empty(K, C, H, W)
        err = rho.new_empty(K, H, W)
        n = K if ctx.needs_input_grad[0] else 0  # derivatives only when a gradient is wanted
        dwarp = rho.new_empty(n, C, H, W)
        derr = rho.new_empty(n, H, W)
        seen = np.empty((K, H, W), bool)
        need = np.ones((H, W), bool)
        _k.warp_kernel(
            ref.numpy(),
            views.numpy(),
            sizes,
            A,
            b,
            rho.detach().numpy(),
            need,
            err.numpy(),
            seen,
            warped.numpy(),
            dwarp.numpy(),
            derr.numpy(),
        )
        ctx.save_for_backward(dwarp, derr)
        ctx.set_materialize_grads(False)
        return warped, err

    @staticmethod
    @once_differentiable
    def backward(ctx, g_warped: Tensor | None, g_err: Tensor | None):
        dwarp, derr = ctx.saved_tensors
        out = torch.zeros(dwarp.shape[2:], dtype=dwarp.dtype)
        if g_warped is not None or g_err is not None:
            gw = dwarp.new_empty(0, 0, 0, 0) if g_warped is None else g_warped.contiguous()
            ge = derr.new_empty(0, 0, 0) if g_err is None else g_err.contiguous()
            _k.warp_backward_kernel(
                gw.to(dwarp.dtype).numpy(),
                dwarp.numpy(),
                ge.to(derr.dtype).numpy(),
                derr.numpy(),
                out.numpy(),
            )
        # ref and views are data (no gradient); geometry is a tuple of numpy arrays
        return out, None, None, None


def _compiled_ok(backend: str, *tensors: Tensor) -> bool:
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', not {backend!r}")
    ok = all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) for t in tensors)
    if backend == "numba" and not ok:
        raise ValueError("the numba backend needs float32/float64 CPU tensors")
    return backend != "torch" and ok


def pinhole_warp(
    rho: Tensor,
    ref: Tensor,
    views: Tensor,
    sizes: np.ndarray,
    A: np.ndarray,
    b: np.ndarray,
    backend: str = "auto",
) -> tuple[Tensor, Tensor]:
    """Every view warped into the reference through inverse depth rho [H, W] (> 0).

    ref [H, W, C], views [K, Hmax, Wmax, C] channel-last (`stack_views`), sizes [K, 2],
    A [K, 3, 3], b [K, 3] (`warp_matrices`). Returns warped [K, C, H, W] (view k sampled at
    (u, v), clamped to its image) and err [K, H, W] = mean_c |ref - warped_k|, in rho's dtype,
    both differentiable with respect to rho (not to the images). Every pixel gets a value;
    which ones count is `pinhole_visibility`'s business. backend: "auto" (the compiled kernel
    for CPU tensors, `pinhole_warp_reference` elsewhere), "numba" or "torch".
    """
    K, _, _, C = views.shape
    H, W = rho.shape
    if ref.shape != (H, W, C):
        raise ValueError(f"pinhole_warp: ref must be [{H}, {W}, {C}], got {tuple(ref.shape)}")
    geometry = _geometry(sizes, A, b, K)
    if _compiled_ok(backend, rho):
        ref = ref.detach().to(rho.dtype).contiguous()
        views = views.detach().to(rho.dtype).contiguous()
        return PinholeWarp.apply(rho.contiguous(), ref, views, geometry)
    return pinhole_warp_reference(rho, ref, views, *geometry)


def _reference_uv(rho: Tensor, A: np.ndarray, b: np.ndarray, k: int):
    """(u, v, z, front) of every reference pixel in view k, plain torch (autograd)."""
    H, W = rho.shape
    ys, xs = torch.meshgrid(
        torch.arange(H, dtype=rho.dtype, device=rho.device),
        torch.arange(W, dtype=rho.dtype, device=rho.device),
        indexing="ij",
    )
    pix = torch.stack([xs, ys, torch.ones_like(xs)], -1)  # [H, W, 3]
    Ak = torch.as_tensor(A[k], dtype=rho.dtype, device=rho.device)
    bk = torch.as_tensor(b[k], dtype=rho.dtype, device=rho.device)
    p = (pix @ Ak.T) / rho[..., None] + bk  # [H, W, 3]: the point in camera k
    z = p[..., 2]
    front = z > _k.FRONT_EPS
    z_safe = torch.where(front, z, torch.ones_like(z))
    return p[..., 0] / z_safe, p[..., 1] / z_safe, z, front


def pinhole_warp_reference(
    rho: Tensor, ref: Tensor, views: Tensor, sizes, A, b
) -> tuple[Tensor, Tensor]:
    """Plain torch definition of `pinhole_warp`: the point X = K_ref^-1 p / rho is moved into
    camera k and projected, the view sampled by `sample_bilinear`; autograd differentiates."""
    warped, errs = [], []
    ref = ref.to(rho.dtype)
    for k in range(len(sizes)):
        hk, wk = (int(s) for s in sizes[k])
        u, v, _, _ = _reference_uv(rho, A, b, k)
        img = views[k : k + 1, :hk, :wk].to(rho.dtype)
        val, _ = sample_bilinear(img, u, v)  # [H, W, C]
        warped.append(val.permute(2, 0, 1))
        errs.append((val - ref).abs().mean(-1))
    return torch.stack(warped), torch.stack(errs)


@torch.no_grad()
def pinhole_visibility_reference(
    rho: Tensor, sizes, A, b, tol: float = 0.02, margin: float = BORDER_TOL
) -> Tensor:
    """Plain torch definition of `pinhole_visibility` (a z-buffer per view by scatter)."""
    H, W = rho.shape
    out = torch.zeros(len(sizes), H, W, dtype=torch.bool, device=rho.device)
    for k in range(len(sizes)):
        hk, wk = (int(s) for s in sizes[k])
        u, v, z, front = _reference_uv(rho, A, b, k)
        inside = front & (rho > 0) & (u >= -margin) & (u <= wk - 1 + margin)
        inside &= (v >= -margin) & (v <= hk - 1 + margin)
        ui = u.round().long().clamp(0, wk - 1)
        vi = v.round().long().clamp(0, hk - 1)
        target = (vi * wk + ui)[inside]
        zin = z[inside]
        zbuf = torch.full((hk * wk,), float("inf"), dtype=z.dtype, device=z.device)
        zbuf = zbuf.scatter_reduce(0, target, zin, reduce="amin")
        out[k][inside] = zin <= zbuf[target] * (1.0 + tol)
    return out


@torch.no_grad()
def pinhole_visibility(
    rho: Tensor | np.ndarray,
    sizes,
    A,
    b,
    tol: float = 0.02,
    margin: float = BORDER_TOL,
    backend: str = "auto",
) -> Tensor:
    """Which views see each reference pixel at inverse depth rho [H, W]: bool [K, H, W].

    Seen by view k: rho > 0, in front of camera k, within ``margin`` px of its grid of pixel
    centres, and not hidden by another reference pixel that lands on the same (rounded) pixel of
    view k nearer to it: a z-buffer of the depths in camera k, ``tol`` their relative margin.
    Not differentiated. backend as `pinhole_warp`.
    """
    rho = torch.as_tensor(rho).detach()
    sizes, A, b = _geometry(sizes, A, b, len(np.asarray(sizes).reshape(-1, 2)))
    if not _compiled_ok(backend, rho):
        return pinhole_visibility_reference(rho, sizes, A, b, tol, margin)
    H, W = rho.shape
    out = torch.empty(len(sizes), H, W, dtype=torch.bool)
    r = np.ascontiguousarray(rho.numpy(), np.float64)
    _k.visibility_kernel(A, b, sizes, r, float(margin), float(tol), out.numpy())
    return out
