"""Warping light-field views into the reference view through a disparity map, and occlusion.

Convention (HCI, see SPEC section 5): view k sits at grid offset (u, v) = (c - c0, r - r0) from
the reference view; with D the reference disparity (px per view step),
``I_k(x - D(x, y) u, y - D(x, y) v) ~= I_ref(x, y)``. Pixel centres are at integers.

Fast paths (`warp_views`, `view_errors`) are autograd Functions differentiable with respect to
D: the forward pass also stores d(output)/dD, so the backward pass is one multiply-add. Views
on the row or column of the reference view (v = 0 or u = 0) sample in one dimension (two reads
per value instead of four). The views themselves are treated as data; when they require a
gradient, the plain `grid_sample` references below are used instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

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
        raise ValueError(f"views must be [K, C, H, W], got {tuple(views.shape)}")
    K, C, H, W = views.shape
    if D.shape != (H, W):
        raise ValueError(f"D must be [H, W] = [{H}, {W}] like the views, got {tuple(D.shape)}")
    if H < 2 or W < 2:
        raise ValueError(f"images must be at least 2x2 pixels, got {H}x{W}")
    return K, C, H, W


def _grid(D: Tensor) -> tuple[Tensor, Tensor]:
    H, W = D.shape
    gx = torch.arange(W, dtype=D.dtype, device=D.device).view(1, W)
    gy = torch.arange(H, dtype=D.dtype, device=D.device).view(H, 1)
    return gx, gy


def _sample_view(
    img: Tensor, D: Tensor, u: float, v: float, gx: Tensor, gy: Tensor, out: Tensor, sens: bool
) -> Tensor | None:
    """Bilinear sample of img [C, H, W] at (x - D u, y - D v), border clamped, into out.

    Returns d(out)/dD [C, H, W] (zero where a coordinate is clamped), or None when not sens.
    """
    C, H, W = img.shape
    if v == 0.0 or u == 0.0:
        horizontal = v == 0.0
        s = u if horizontal else v
        n = W if horizontal else H
        dim = 2 if horizontal else 1
        X = (gx if horizontal else gy) - D * s  # [H, W] sample coordinate along dim
        ok = (X > 0) & (X < n - 1)
        X = X.clamp(0, n - 1)
        x0 = X.floor().clamp_(max=n - 2)
        fx = X - x0
        i0 = x0.long()
        a = img.gather(dim, i0.expand(C, H, W))
        g = img.gather(dim, (i0 + 1).expand(C, H, W)).sub_(a)  # forward difference at x0
        torch.addcmul(a, fx, g, out=out)
        return g.mul_(ok.to(D.dtype).mul_(-s)) if sens else None
    X = gx - D * u
    Y = gy - D * v
    okx = (X > 0) & (X < W - 1)
    oky = (Y > 0) & (Y < H - 1)
    X = X.clamp(0, W - 1)
    Y = Y.clamp(0, H - 1)
    x0 = X.floor().clamp_(max=W - 2)
    y0 = Y.floor().clamp_(max=H - 2)
    fx = X - x0
    fy = Y - y0
    idx = (y0.long() * W + x0.long()).view(1, H * W)
    flat = img.reshape(C, H * W)

    def read(offset: int) -> Tensor:
        return flat.gather(1, (idx + offset).expand(C, H * W)).view(C, H, W)

    a, b, c, d = read(0), read(1), read(W), read(W + 1)
    dx_top = b - a
    dx_bot = d - c
    top = torch.addcmul(a, fx, dx_top)
    dy = torch.addcmul(c, fx, dx_bot).sub_(top)  # bottom - top
    torch.addcmul(top, fy, dy, out=out)
    if not sens:
        return None
    dx = torch.addcmul(dx_top, fy, dx_bot - dx_top)
    return dx.mul_(okx.to(D.dtype).mul_(-u)).add_(dy.mul_(oky.to(D.dtype).mul_(-v)))


class _WarpViews(torch.autograd.Function):
    @staticmethod
    def forward(ctx, D: Tensor, views: Tensor, offs: list[tuple[float, float]]) -> Tensor:
        need = ctx.needs_input_grad[0]
        gx, gy = _grid(D)
        out = torch.empty_like(views)  # [K, C, H, W]
        sens = torch.empty_like(views) if need else None
        for k, (u, v) in enumerate(offs):
            s = _sample_view(views[k], D, u, v, gx, gy, out[k], need)
            if need:
                sens[k] = s
        ctx.save_for_backward(sens if need else None)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (sens,) = ctx.saved_tensors
        if sens is None:
            return None, None, None
        acc = torch.zeros_like(sens[0])
        for k in range(sens.shape[0]):
            acc.addcmul_(grad[k], sens[k])
        # views are data here (the dispatcher routes views with gradients elsewhere); offs is
        # a Python list
        return acc.sum(0), None, None


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
    def forward(
        ctx,
        D: Tensor,
        ref: Tensor,
        views: Tensor,
        offs: list[tuple[float, float]],
        use_numba: bool,
    ) -> Tensor:
        need = ctx.needs_input_grad[0]
        K, C, H, W = views.shape
        err = views.new_empty(K, H, W)
        sens = views.new_empty(K, H, W) if need else None
        if use_numba:
            from diffdepth.losses._lightfield_numba import view_errors_kernel

            view_errors_kernel(
                D.detach().contiguous().numpy(),
                ref.numpy(),
                views.numpy(),
                np.asarray(offs, dtype=np.float64).reshape(K, 2),
                need,
                err.numpy(),
                sens.numpy() if need else err.numpy(),
            )
            ctx.save_for_backward(sens if need else None)
            return err
        gx, gy = _grid(D)
        buf = views.new_empty(C, H, W)
        for k, (u, v) in enumerate(offs):
            s = _sample_view(views[k], D, u, v, gx, gy, buf, need)
            diff = buf.sub_(ref)  # warped - ref
            torch.mean(diff.abs(), 0, out=err[k])
            if need:
                torch.mean(s.mul_(diff.sign_()), 0, out=sens[k])
        ctx.save_for_backward(sens if need else None)
        return err

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (sens,) = ctx.saved_tensors
        if sens is None:
            return None, None, None, None, None
        # ref and views are data here (the dispatcher routes them elsewhere when they need a
        # gradient); offs is a Python list; use_numba a flag
        return torch.einsum("khw,khw->hw", grad, sens), None, None, None, None


def warp_views_reference(views: Tensor, offsets: Offsets, D: Tensor) -> Tensor:
    """Plain `grid_sample` version of `warp_views` (differentiable w.r.t. views and D)."""
    K, C, H, W = _check(views, D)
    off = torch.as_tensor(offsets, dtype=D.dtype, device=D.device).view(K, 2)
    gx, gy = _grid(D)
    X = gx - D * off[:, 0, None, None]  # [K, H, W]
    Y = gy - D * off[:, 1, None, None]
    grid = torch.stack([X * (2 / (W - 1)) - 1, Y * (2 / (H - 1)) - 1], dim=-1)
    return F.grid_sample(
        views.to(D.dtype), grid, mode="bilinear", padding_mode="border", align_corners=True
    )


def warp_views(views: Tensor, offsets: Offsets, D: Tensor) -> Tensor:
    """Warp every view into the reference view through the disparity map D.

    views:   [K, C, H, W]
    offsets: [K, 2], (u, v) = (c - c0, r - r0) per view (tensor or nested sequence)
    D:       [H, W] reference disparity, px per view step
    returns  [K, C, H, W], view k sampled bilinearly at (x - D u, y - D v), coordinates clamped
             to the image (border padding; `occlusion_masks` marks those pixels).
    Differentiable w.r.t. D (and w.r.t. views, through the reference path, when they need it).
    """
    K, _, _, _ = _check(views, D)
    offs = _offset_list(offsets, K)
    if views.requires_grad or (isinstance(offsets, Tensor) and offsets.requires_grad):
        return warp_views_reference(views, offsets, D)
    return _WarpViews.apply(D, views.to(D.dtype).contiguous(), offs)


def view_errors_reference(ref: Tensor, views: Tensor, offsets: Offsets, D: Tensor) -> Tensor:
    """Plain version of `view_errors`: mean_c |ref - warp_views_reference(views)|."""
    return (warp_views_reference(views, offsets, D) - ref).abs().mean(dim=1)


def view_errors(
    ref: Tensor, views: Tensor, offsets: Offsets, D: Tensor, backend: str = "auto"
) -> Tensor:
    """Per-view L1 re-projection error, channel mean: [K, H, W].

    ref [C, H, W], views [K, C, H, W], offsets [K, 2], D [H, W] ->
    e_k(x, y) = mean_c |ref(x, y) - W_k[I_k](x, y)|, differentiable w.r.t. D.
    Same values as ``(warp_views(views, offsets, D) - ref).abs().mean(1)`` without keeping the
    warped views: one pass per view, for the RGB loss.
    """
    K, C, H, W = _check(views, D)
    if ref.shape != (C, H, W):
        raise ValueError(f"ref must be [C, H, W] = [{C}, {H}, {W}], got {tuple(ref.shape)}")
    offs = _offset_list(offsets, K)
    if ref.requires_grad or views.requires_grad:
        return view_errors_reference(ref, views, offsets, D)
    ref = ref.to(D.dtype).contiguous()
    views = views.to(D.dtype).contiguous()
    return _ViewErrors.apply(D, ref, views, offs, _numba_ok(D, ref, views, backend=backend))


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
        from diffdepth.losses._lightfield_numba import occlusion_kernel

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
