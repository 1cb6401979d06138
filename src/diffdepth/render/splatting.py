"""Occlusion-aware differentiable point splatting (SPEC section 3).

Two implementations of the same function:

- ``"numba"``: compiled CPU kernels, one front-to-back pass forward and one backward, memory
  O(H*W + N*49) (one float64 per fragment is kept for the backward pass); wrapped in a
  ``torch.autograd.Function``.
- ``"torch"``: plain torch ops on the N*49 fragments (sort by pixel, segmented prefix sum);
  runs on any device, autograd through ordinary ops, memory O(N*49).

``backend="auto"`` takes numba for CPU tensors and torch otherwise.
"""

import operator
from typing import Literal

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from diffdepth.render import _splat_numba
from diffdepth.render._splat_torch import splat_torch

Backend = Literal["auto", "numba", "torch"]


def splat(
    xy: Tensor,  # [N, 2] (x=col, y=row), px
    value: Tensor,  # [N]
    weight: Tensor,  # [N], >= 0 (w = exp(-R))
    depth: Tensor,  # [N], occlusion key, smaller = nearer
    shape: tuple[int, int],  # (H, W)
    *,
    backend: Backend = "auto",
) -> tuple[Tensor, Tensor]:
    """Splat points into a label image S and a data-weight image lam, both ``[H, W]``.

    Each point covers the 7x7 window around its nearest pixel with footprint
    g = exp(-r^2 / (2 SIGMA_S^2)), opacity a = 1 - exp(-KAPPA g) and weight
    lam_i = w exp(-(r^2 / (2 SIGMA_LAM^2))^2). Per pixel the points are composited front to back
    (ties in depth: lower index first): S = sum d_i a_i T_i, lam = sum lam_i T_i with
    T_i = prod over nearer points of (1 - a_j).

    Differentiable with respect to ``xy``, ``value`` and ``weight``; ``depth`` only sets the
    order and gets no gradient. The result has the promoted floating dtype of ``xy``, ``value``
    and ``weight``, on their device.

    Raises ValueError on wrong shapes or dtypes, non-finite inputs, negative weights, or a
    backend that cannot run on the inputs' device.
    """
    height, width = _check_inputs(xy, value, weight, depth, shape)
    dtype = torch.promote_types(torch.promote_types(xy.dtype, value.dtype), weight.dtype)
    xy, value, weight = xy.to(dtype), value.to(dtype), weight.to(dtype)
    if backend == "auto":
        backend = "numba" if xy.device.type == "cpu" else "torch"
    elif backend not in ("numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', got {backend!r}")
    if backend == "numba" and xy.device.type != "cpu":
        raise ValueError(f"backend 'numba' runs on CPU tensors; got tensors on {xy.device}")

    if xy.shape[0] == 0:
        zeros = torch.zeros(height, width, dtype=dtype, device=xy.device)
        # keep the graph: gradients of the (empty) inputs are empty tensors
        link = 0 * (xy.sum() + value.sum() + weight.sum())
        return zeros + link, zeros + link

    order = torch.argsort(depth.detach(), stable=True)  # [N] front to back, ties by index
    if backend == "torch":
        return splat_torch(xy, value, weight, order, height, width)
    return _SplatNumba.apply(xy, value, weight, order, height, width)


class _SplatNumba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xy, value, weight, order, height, width):
        # packed rows (x, y, value, weight), float64, front to back: [N, 4]
        pts = torch.cat([xy.detach(), value.detach()[:, None], weight.detach()[:, None]], 1)
        pts = pts[order].to(torch.float64).contiguous()
        bands = _splat_numba.n_bands(height)
        # fwd [H*W, 3]: S, lam, T per pixel; frag [N*49]: exp(-KAPPA g) per fragment
        fwd, frag = _splat_numba.splat_forward(pts.numpy(), height, width, bands)
        fwd = torch.from_numpy(fwd)
        ctx.save_for_backward(pts, order, fwd, torch.from_numpy(frag))
        ctx.shape = (height, width)
        S = fwd[:, 0].reshape(height, width).to(xy.dtype, copy=True)
        lam = fwd[:, 1].reshape(height, width).to(xy.dtype, copy=True)
        return S, lam

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s, grad_lam):
        pts, order, fwd, frag = ctx.saved_tensors
        height, width = ctx.shape
        dtype = grad_s.dtype
        grad_s = grad_s.reshape(-1).to(torch.float64).contiguous().numpy()
        grad_lam = grad_lam.reshape(-1).to(torch.float64).contiguous().numpy()
        bands = _splat_numba.n_bands(height)
        g_sorted = _splat_numba.splat_backward(
            pts.numpy(), fwd.numpy(), frag.numpy(), grad_s, grad_lam, height, width, bands
        )  # [N, 4] front to back
        grad = torch.empty((pts.shape[0], 4), dtype=dtype)
        grad[order] = torch.from_numpy(g_sorted).to(dtype)
        need = ctx.needs_input_grad
        return (
            grad[:, 0:2] if need[0] else None,
            grad[:, 2] if need[1] else None,
            grad[:, 3] if need[2] else None,
            None,  # order: integer indices
            None,  # height: int
            None,  # width: int
        )


def _check_inputs(xy, value, weight, depth, shape) -> tuple[int, int]:
    """Validate the arguments of ``splat``; return (H, W)."""
    for name, t in (("xy", xy), ("value", value), ("weight", weight), ("depth", depth)):
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must have shape [N, 2], got {list(xy.shape)}")
    n = xy.shape[0]
    for name, t in (("value", value), ("weight", weight), ("depth", depth)):
        if t.ndim != 1 or t.shape[0] != n:
            raise ValueError(f"{name} must have shape [N] = [{n}] like xy, got {list(t.shape)}")
    for name, t in (("xy", xy), ("value", value), ("weight", weight)):
        if not t.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if depth.dtype == torch.bool or depth.dtype.is_complex:
        raise ValueError(f"depth must be a real-valued tensor, got {depth.dtype}")
    devices = {t.device for t in (xy, value, weight, depth)}
    if len(devices) > 1:
        raise ValueError(f"xy, value, weight and depth must be on one device, got {devices}")
    try:
        height, width = (operator.index(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape must be two integers (H, W), got {shape!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"shape must be two positive integers (H, W), got {shape!r}")
    # one reduction on the common path; per-argument counts only when something is wrong
    if n and not torch.isfinite(xy.detach().sum() + value.detach().sum() + weight.detach().sum()):
        for name, t in (("xy", xy), ("value", value), ("weight", weight)):
            bad = int((~torch.isfinite(t.detach())).sum())
            if bad:
                raise ValueError(f"{name} has {bad} non-finite entries (NaN or inf)")
    if n and depth.dtype.is_floating_point and not torch.isfinite(depth.detach().sum()):
        bad = int((~torch.isfinite(depth.detach())).sum())
        if bad:
            raise ValueError(f"depth has {bad} non-finite entries (NaN or inf)")
    if n and weight.detach().min() < 0:
        negative = int((weight.detach() < 0).sum())
        raise ValueError(f"weight must be >= 0 (w = exp(-R)); {negative} entries are negative")
    return height, width
