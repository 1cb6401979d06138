"""Structural similarity (Wang, Bovik, Sheikh & Simoncelli, 2004) for images in 0..1.

Two windows:
- ``"box3"`` (default): a 3x3 box, as self-supervised depth methods use it; local, so the
  per-pixel occlusion mask of a warping loss applies to it without bleeding;
- ``"gauss11"``: the original 11x11 Gaussian with sigma 1.5.
The map keeps the input size: local statistics near the border use reflection padding (the
original evaluates only the interior).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from diffdepth.config import SSIMWindow

SSIM_C1 = 0.01**2  # (K1 L)^2 with L = 1 (images in 0..1)
SSIM_C2 = 0.03**2  # (K2 L)^2


def _taps(window: SSIMWindow) -> list[float]:
    if window == "box3":
        return [1 / 3] * 3
    if window == "gauss11":
        r = torch.arange(11, dtype=torch.float64) - 5
        g = torch.exp(-(r**2) / (2 * 1.5**2))
        return (g / g.sum()).tolist()
    raise ValueError(f"ssim window must be 'box3' or 'gauss11', got {window!r}")


def _correlate(xp: Tensor, taps: list[float], dim: int, n: int) -> Tensor:
    """sum_j taps[j] xp[j : j + n] along dim (xp has n + len(taps) - 1 entries there)."""
    out = xp.narrow(dim, 0, n) * taps[0]
    for j in range(1, len(taps)):
        out.add_(xp.narrow(dim, j, n), alpha=taps[j])
    return out


class _Filter1d(torch.autograd.Function):
    """Symmetric 1-D filter along dim with reflection padding (-1 -> 1, n -> n - 2).

    Built from shifted slices (avg_pool2d and depthwise conv2d are slow on CPU); the backward
    pass applies the adjoint directly: correlate into a zero-padded buffer, then fold the
    padding back onto the pixels it reflected."""

    @staticmethod
    def forward(ctx, x: Tensor, taps: list[float], dim: int) -> Tensor:
        r = len(taps) // 2
        n = x.shape[dim]
        ctx.taps, ctx.dim = taps, dim
        left = x.narrow(dim, 1, r).flip(dim)
        right = x.narrow(dim, n - 1 - r, r).flip(dim)
        return _correlate(torch.cat([left, x, right], dim), taps, dim, n)

    @staticmethod
    @once_differentiable
    def backward(ctx, g: Tensor):
        taps, dim = ctx.taps, ctx.dim
        r = len(taps) // 2
        n = g.shape[dim]
        shape = list(g.shape)
        shape[dim] = n + 2 * r
        gp = g.new_zeros(shape)
        for j, t in enumerate(taps):
            gp.narrow(dim, j, n).add_(g, alpha=t)
        gx = gp.narrow(dim, r, n).clone()
        gx.narrow(dim, 1, r).add_(gp.narrow(dim, 0, r).flip(dim))
        gx.narrow(dim, n - 1 - r, r).add_(gp.narrow(dim, n + r, r).flip(dim))
        return gx, None, None  # taps: Python list; dim: int


def _filter_1d(x: Tensor, taps: list[float], dim: int) -> Tensor:
    r = len(taps) // 2
    if x.shape[dim] <= r:  # reflection needs r pixels beside the edge one
        raise ValueError(
            f"images must be larger than {r} pixels for this SSIM window, got {x.shape[dim]}"
        )
    return _Filter1d.apply(x, taps, dim)


def local_mean(x: Tensor, window: SSIMWindow = "box3") -> Tensor:
    """Windowed mean of every channel of x [..., H, W], same size (reflection padding)."""
    taps = _taps(window)
    return _filter_1d(_filter_1d(x, taps, x.dim() - 1), taps, x.dim() - 2)


def ssim(
    x: Tensor,
    y: Tensor,
    window: SSIMWindow = "box3",
    c1: float = SSIM_C1,
    c2: float = SSIM_C2,
    reduce_channels: bool = True,
) -> Tensor:
    """SSIM map of two image batches in 0..1.

    x, y: [B, C, H, W] (y may broadcast against x in B) -> [B, 1, H, W] (channel mean), or
    [B, C, H, W] with reduce_channels=False. 1 where x == y; the loss term is 1 - SSIM.
    """
    if x.dim() != 4 or y.dim() != 4:
        raise ValueError(
            f"ssim expects [B, C, H, W] images, got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    torch.broadcast_shapes(x.shape, y.shape)  # raises when they do not broadcast
    # the statistics of each image on its own batch (a reference y [1, C, H, W] beside K
    # warped views is filtered once, not K times), broadcast in the arithmetic below
    mx, mxx = local_mean(x, window), local_mean(x * x, window)
    my, myy = local_mean(y, window), local_mean(y * y, window)
    mxy = local_mean(x * y, window)
    vx = mxx - mx * mx
    vy = myy - my * my
    cxy = mxy - mx * my
    num = (2 * mx * my + c1) * (2 * cxy + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    s = num / den
    return s.mean(dim=1, keepdim=True) if reduce_channels else s


__all__ = ["SSIMWindow", "SSIM_C1", "SSIM_C2", "local_mean", "ssim"]
