"""Occlusion-aware differentiable point splatting (SPEC section 3).

Two implementations of the same function:

- ``"numba"``: compiled CPU kernels, one front-to-back pass forward and one backward, memory
  O(H*W + N*49) (one float64 per fragment is kept for the backward pass); wrapped in a
  ``torch.autograd.Function``.
- ``"torch"``: plain torch ops on the N*49 fragments (sort by pixel, segmented prefix sum);
  runs on any device, autograd through ordinary ops, memory O(N*49).

``backend="auto"`` takes numba for CPU tensors and torch otherwise.

Numerics shared by both: the lam factor exp(-(r^2 / (2 SIGMA_LAM^2))^2) is taken as 0 where its
exponent exceeds ``LAM_EXPONENT_CUTOFF`` (the factor is below 5e-18). The numba kernels also flush
a transmittance below 1e-20 to 0 and skip the fragments behind it. Both paths agree with the dense
``splat_reference`` to about 1e-12 in float64.
"""

import operator
from typing import Literal

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from diffdepth.render import _splat_numba
from diffdepth.render._splat_torch import splat_torch
from diffdepth.render.constants import SIGMA_S

Backend = Literal["auto", "numba", "torch"]


def splat(
    xy: Tensor,  # [N, 2] (x=col, y=row), px
    value: Tensor,  # [N]
    weight: Tensor,  # [N], >= 0 (w = exp(-R))
    depth: Tensor,  # [N], occlusion key, smaller = nearer
    shape: tuple[int, int],  # (H, W)
    *,
    backend: Backend = "auto",
    sigma_s: float = SIGMA_S,
) -> tuple[Tensor, Tensor]:
    """Splat points into a label image S and a data-weight image lam, both ``[H, W]``.

    Each point covers the 7x7 window around its nearest pixel with footprint
    g = exp(-r^2 / (2 sigma_s^2)) (``sigma_s``: SPEC's SIGMA_S unless given), opacity
    a = 1 - exp(-KAPPA g) and weight lam_i = w exp(-(r^2 / (2 SIGMA_LAM^2))^2). Per pixel the
    points are composited front to back (ties in depth: lower index first):
    S = sum d_i a_i T_i, lam = sum lam_i T_i with T_i = prod over nearer points of (1 - a_j).

    Differentiable with respect to ``xy``, ``value`` and ``weight``; ``depth`` only sets the
    order and gets no gradient. The result has the promoted floating dtype of ``xy``, ``value``
    and ``weight``, on their device.

    Raises ValueError on wrong shapes or dtypes, non-finite inputs, negative weights, or a
    backend that cannot run on the inputs' device.
    """
    height, width = _check_inputs(xy, value, weight, depth, shape)
    if not 0.3 <= float(sigma_s) <= 3.0:
        raise ValueError(f"sigma_s must be from 0.3 to 3 px (the 7x7 window), got {sigma_s}")
    sigma_s = float(sigma_s)
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

    if backend == "torch":
        order = torch.argsort(depth.detach(), stable=True)  # [N] front to back, ties by index
        return splat_torch(xy, value, weight, order, height, width, sigma_s)
    if dtype not in (torch.float32, torch.float64):  # half precision: kernels run in float32
        S, lam = splat(
            xy.float(),
            value.float(),
            weight.float(),
            depth,
            shape,
            backend="numba",
            sigma_s=sigma_s,
        )
        return S.to(dtype), lam.to(dtype)
    # numpy and numba from here on: no torch thread-pool work between the kernels
    depth = depth.detach()
    if depth.dtype in (torch.float16, torch.bfloat16):
        depth = depth.float()
    order = np.argsort(depth.numpy(), kind="stable")  # [N] front to back, ties by index
    return _SplatNumba.apply(xy, value, weight, order, height, width, sigma_s)


class _SplatNumba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xy, value, weight, order, height, width, sigma_s):
        # packed rows (x, y, value, weight), float64, front to back: [N, 4]
        pts = _splat_numba.pack_points(
            xy.detach().numpy(), value.detach().numpy(), weight.detach().numpy(), order
        )
        bands = _splat_numba.n_bands(height)
        # fwd [H*W, 3]: S, lam, T per pixel; frag [N*49]: exp(-KAPPA g) per fragment
        cs = 1.0 / (2.0 * sigma_s * sigma_s)
        fwd, frag = _splat_numba.splat_forward(pts, height, width, bands, cs)
        # numpy arrays made here and used only by backward
        ctx.arrays = (pts, order, fwd, frag)
        ctx.shape = (height, width)
        ctx.cs = cs
        S = torch.empty((height, width), dtype=xy.dtype)
        lam = torch.empty((height, width), dtype=xy.dtype)
        _splat_numba.unpack_images(fwd, S.numpy(), lam.numpy())
        return S, lam

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_s, grad_lam):
        pts, order, fwd, frag = ctx.arrays
        height, width = ctx.shape
        dtype = grad_s.dtype
        gs, gl = _splat_numba.flatten_grads(grad_s.numpy(), grad_lam.numpy())  # [H*W] each
        bands = _splat_numba.n_bands(height)
        g_sorted = _splat_numba.splat_backward(
            pts, fwd, frag, gs, gl, height, width, bands, ctx.cs
        )  # [N, 4] front to back
        n = pts.shape[0]
        grad_xy = torch.empty((n, 2), dtype=dtype)
        grad_value = torch.empty(n, dtype=dtype)
        grad_weight = torch.empty(n, dtype=dtype)
        _splat_numba.scatter_grads(
            g_sorted, order, grad_xy.numpy(), grad_value.numpy(), grad_weight.numpy()
        )
        need = ctx.needs_input_grad
        return (
            grad_xy if need[0] else None,
            grad_value if need[1] else None,
            grad_weight if need[2] else None,
            None,  # order: numpy integer indices
            None,  # height: int
            None,  # width: int
            None,  # sigma_s: float
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
    for name, t in (("xy", xy), ("value", value), ("weight", weight), ("depth", depth)):
        if t.dtype.is_floating_point:
            bad = _count(t, lambda a: ~np.isfinite(a), lambda a: ~torch.isfinite(a))
            if bad:
                raise ValueError(f"{name} has {bad} non-finite entries (NaN or inf)")
    negative = _count(weight, lambda a: a < 0, lambda a: a < 0)
    if negative:
        raise ValueError(f"weight must be >= 0 (w = exp(-R)); {negative} entries are negative")
    return height, width


def _count(t: Tensor, np_test, torch_test) -> int:
    """Number of entries of ``t`` that pass the test (numpy for CPU float32/64: one thread)."""
    t = t.detach()
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        return int(np.count_nonzero(np_test(t.numpy())))
    return int(torch_test(t).sum())
