"""Warping light-field views into the reference view through a disparity map, and occlusion.

Convention (HCI, see SPEC section 5): view k sits at grid offset (u, v) = (c - c0, r - r0) from
the reference view; with D the reference disparity (px per view step),
``I_k(x - D(x, y) u, y - D(x, y) v) ~= I_ref(x, y)``. Pixel centres are at integers; images are
channel-last (ref [H, W, C], views [K, H, W, C], as in `diffdepth.photo.LightFieldProblem`).

`view_errors` is the per-view error of the photo-consistency layer (`diffdepth.photo`, one
subset per view) made differentiable with respect to D: the compiled kernel also returns
d(error)/dD, so the backward pass is one multiply-add; `subset_errors_reference` is its plain
torch definition.  `warp_views` (the warped images themselves, for VGG features and SSIM) is the
image toolkit's sampler, differentiated by autograd.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from diffdepth.image import sample_bilinear
from diffdepth.photo import UNSEEN, subset_errors

Offsets = Tensor | Sequence[Sequence[float]]


def _offset_list(offsets: Offsets, k: int) -> list[tuple[float, float]]:
    """Offsets [K, 2] (u, v) as Python floats."""
    off = torch.as_tensor(offsets).detach().to("cpu", torch.float64)
    if off.shape != (k, 2):
        raise ValueError(
            f"offsets must be [K, 2] = [{k}, 2] (u, v) per view, got {tuple(off.shape)}"
        )
    return [(float(u), float(v)) for u, v in off.tolist()]


def _check(views: Tensor, D: Tensor) -> tuple[int, int, int, int]:
    if views.dim() != 4:
        raise ValueError(f"views must be [K, H, W, C], got {tuple(views.shape)}")
    K, H, W, C = views.shape
    if D.shape != (H, W):
        raise ValueError(f"D must be [H, W] = [{H}, {W}] like the views, got {tuple(D.shape)}")
    if H < 2 or W < 2:
        raise ValueError(f"images must be at least 2x2 pixels, got {H}x{W}")
    return K, H, W, C


def _grid(D: Tensor) -> tuple[Tensor, Tensor]:
    H, W = D.shape
    gx = torch.arange(W, dtype=D.dtype, device=D.device).view(1, W)
    gy = torch.arange(H, dtype=D.dtype, device=D.device).view(H, 1)
    return gx, gy


def _warp(views: Tensor, offs: list[tuple[float, float]], D: Tensor) -> tuple[Tensor, Tensor]:
    """Every view sampled at (x - D u, y - D v): ([K, H, W, C], inside bool [K, H, W])."""
    gx, gy = _grid(D)
    off = torch.tensor(offs, dtype=D.dtype, device=D.device)
    X = gx - D * off[:, 0, None, None]  # [K, H, W]
    Y = gy - D * off[:, 1, None, None]
    index = torch.arange(len(offs), device=D.device).view(-1, 1, 1)
    return sample_bilinear(views.to(D.dtype), X, Y, index)


def warp_views(views: Tensor, offsets: Offsets, D: Tensor) -> Tensor:
    """Warp every view into the reference view through the disparity map D.

    views:   [K, H, W, C]
    offsets: [K, 2], (u, v) = (c - c0, r - r0) per view (tensor or nested sequence)
    D:       [H, W] reference disparity, px per view step
    returns  [K, H, W, C], view k sampled bilinearly at (x - D u, y - D v), coordinates clamped
             to the image (border; `occlusion_masks` marks those pixels).
    Differentiable w.r.t. D and the views (autograd).
    """
    K, _, _, _ = _check(views, D)
    return _warp(views, _offset_list(offsets, K), D)[0]


def _numba_ok(*tensors: Tensor, backend: str = "auto") -> bool:
    """The compiled CPU kernels apply (CPU tensors of one float dtype), unless told otherwise."""
    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', not {backend!r}")
    if backend == "torch":
        return False
    ok = all(t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) for t in tensors)
    if backend == "numba" and not ok:
        raise ValueError("the numba backend needs float32/float64 CPU tensors")
    return ok


class _ViewErrors(torch.autograd.Function):
    @staticmethod
    def forward(ctx, D: Tensor, ref: Tensor, views: Tensor, offs: np.ndarray) -> Tensor:
        need = ctx.needs_input_grad[0]
        K, H, W, _ = views.shape
        err = views.new_empty(K, H, W)
        sens = views.new_empty(K, H, W) if need else None
        subset_errors(
            ref.numpy(),
            views.numpy(),
            offs,
            np.eye(K, dtype=bool),  # one subset per view
            D.detach().numpy(),
            out=err.numpy(),
            sens=sens.numpy() if need else None,
        )
        ctx.save_for_backward(sens)
        return err

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (sens,) = ctx.saved_tensors
        if sens is None:
            return None, None, None, None
        # ref and views are data here (view_errors routes them elsewhere when they need a
        # gradient); offs is a numpy array
        return torch.einsum("khw,khw->hw", grad, sens), None, None, None


def view_errors(
    ref: Tensor, views: Tensor, offsets: Offsets, D: Tensor, backend: str = "auto"
) -> Tensor:
    """Per-view L1 re-projection error, channel mean: [K, H, W].

    ref [H, W, C], views [K, H, W, C], offsets [K, 2], D [H, W] ->
    e_k(x, y) = mean_c |ref(x, y) - I_k(x - D u_k, y - D v_k)| where that sample lies inside
    view k, `UNSEEN` where it does not; differentiable w.r.t. D.  backend: "auto" (the compiled
    kernel on CPU, torch elsewhere), "numba" or "torch".
    """
    K, H, W, C = _check(views, D)
    if ref.shape != (H, W, C):
        raise ValueError(f"ref must be [H, W, C] = [{H}, {W}, {C}], got {tuple(ref.shape)}")
    offs = _offset_list(offsets, K)
    ref = ref.to(D.dtype)
    views = views.to(D.dtype)
    if not (ref.requires_grad or views.requires_grad) and _numba_ok(D, backend=backend):
        offs_np = np.asarray(offs, dtype=np.float64).reshape(K, 2)
        return _ViewErrors.apply(D, ref.contiguous(), views.contiguous(), offs_np)
    warped, inside = _warp(views, offs, D)
    e = (warped - ref).abs().mean(-1)
    return torch.where(inside, e, torch.full_like(e, UNSEEN))


@torch.no_grad()
def occlusion_masks(
    D: Tensor, offsets: Offsets, margin: float = 0.1, backend: str = "auto"
) -> Tensor:
    """Visibility of every reference pixel in every view: bool [K, H, W] (True = visible).

    A pixel is hidden in view k (False) when its sample position (x - D u, y - D v) lies
    outside the image, or when another reference pixel landing on the same target pixel
    (round(x - D u), round(y - D v)) of view k is nearer (larger disparity) by more than margin:
    every pixel is forward-projected and a z-buffer keeps the largest disparity per target.

    margin (px per view step): pixels of one slanted surface that round onto the same target
    differ by about the disparity gradient (a few hundredths on real scenes) and must stay
    visible; an occluder hiding more than one pixel in a view u steps away is nearer by at
    least 1/|u| (1/4 in a 9x9 light field). 0.1 lies between. Not differentiated.
    backend: "auto" (compiled kernel on CPU, torch elsewhere), "numba" or "torch".
    """
    D = D.detach()
    H, W = D.shape
    offs = _offset_list(offsets, len(torch.as_tensor(offsets)))
    if _numba_ok(D, backend=backend):
        from diffdepth.losses._occlusion_numba import occlusion_kernel

        out = torch.empty(len(offs), H, W, dtype=torch.bool)
        off = np.asarray(offs, dtype=np.float64).reshape(len(offs), 2)
        occlusion_kernel(D.contiguous().numpy(), off, float(margin), out.numpy())
        return out
    gx, gy = _grid(D)
    cols = torch.arange(W, device=D.device).view(1, W)
    rows = torch.arange(H, device=D.device).view(H, 1) * W
    neg_inf = torch.tensor(float("-inf"), dtype=D.dtype, device=D.device)
    zbuf = D.new_empty(H * W)
    out = torch.empty(len(offs), H, W, dtype=torch.bool, device=D.device)
    for k, (u, v) in enumerate(offs):
        inside = torch.ones(H, W, dtype=torch.bool, device=D.device)
        tx, ty = cols, rows
        if u != 0.0:
            X = gx - D * u
            inside &= (X >= 0) & (X <= W - 1)
            tx = X.round_().clamp_(0, W - 1).long()
        if v != 0.0:
            Y = gy - D * v
            inside &= (Y >= 0) & (Y <= H - 1)
            ty = Y.round_().clamp_(0, H - 1).long().mul_(W)
        target = (ty + tx).view(-1)  # [H*W] flat target index in view k
        zbuf.fill_(float("-inf"))
        zbuf.scatter_reduce_(0, target, torch.where(inside, D, neg_inf).view(-1), "amax")
        nearest = zbuf[target].view(H, W)
        torch.logical_and(inside, D >= nearest - margin, out=out[k])
    return out
