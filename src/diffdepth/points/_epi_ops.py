"""The EPI detector's filters: its colour space, the slope bank, shear-and-sum step-edge filters.

Image stacks are torch tensors laid out [n, C, H, W] (n views); an EPI stack is the row (or the
column, transposed) of views through the reference view, so that every image row is one EPI and
the lines of the EPI are swept by shifting each view along x.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from diffdepth.image import rgb_to_lab


def lab(rgb: torch.Tensor) -> torch.Tensor:
    """The detector's colour space: CIE Lab / 100 (thresholds such as ``min_response`` are in
    these units).  rgb [n, 3, H, W] in 0..1 -> [n, 3, H, W]."""
    return rgb_to_lab(rgb) / 100.0


def slope_bank(lo: float, hi: float, n: int, warp: float) -> np.ndarray:
    """n slopes (disparities) covering [lo, hi], spaced more densely near zero when warp > 0.

    The slopes are s = m sinh(warp t) / sinh(warp) for t uniform, m = max(|lo|, |hi|): the
    spacing grows by cosh(warp) from zero to +-m.  Returns float64 [n], increasing.
    """
    if hi < lo:
        lo, hi = hi, lo
    if n < 2 or hi - lo < 1e-9:
        return np.linspace(lo, hi, max(n, 1))
    m = max(abs(lo), abs(hi))
    if warp <= 1e-6:
        return np.linspace(lo, hi, n)
    sw = math.sinh(warp)
    t_lo = math.asinh(lo * sw / m) / warp
    t_hi = math.asinh(hi * sw / m) / warp
    t = np.linspace(t_lo, t_hi, n)
    return m * np.sinh(warp * t) / sw


def shear_sum(
    a_pad: torch.Tensor, pad: int, width: int, shifts: np.ndarray, out: torch.Tensor
) -> torch.Tensor:
    """Mean over views of each view shifted along x: out(x) = mean_k a_k(x + shifts[k]).

    a_pad [n, C, H, W + 2 pad] (border-replicated), shifts float [n] with |shift| <= pad - 1,
    out [C, H, W] is overwritten and returned.  Linear interpolation between integer shifts.
    """
    out.zero_()
    n = a_pad.shape[0]
    for k in range(n):
        t = float(shifts[k])
        i0 = int(math.floor(t))
        f = t - i0
        s0 = a_pad[k, :, :, pad + i0 : pad + i0 + width]
        if f < 1e-6:
            out.add_(s0)
        else:
            s1 = a_pad[k, :, :, pad + i0 + 1 : pad + i0 + 1 + width]
            out.add_(torch.lerp(s0, s1, f))
    return out.div_(n)


def filter_bank(a: torch.Tensor, u: np.ndarray, slopes: np.ndarray) -> torch.Tensor:
    """Step-edge filter bank on the EPIs of a row of views.

    a [n, C, H, W] views along one row of the grid (Lab), u [n] their offsets from the
    reference view (view k sees reference pixel x at x - d u_k), slopes [S] disparities.
    For each slope the filter is two parallel anti-aliased lines of opposite sign spanning
    all n views: applied to every EPI at once it is the x-difference of the shear-and-sum
    image mean_k a_k(x - d u_k).  Returns the response magnitude (norm over channels)
    [S, H, W - 1], sample x standing for the edge between pixels x and x + 1.
    """
    n, c, h, w = a.shape
    max_shift = float(np.max(np.abs(slopes))) * float(np.max(np.abs(u))) if len(u) else 0.0
    pad = int(math.ceil(max_shift)) + 2
    a_pad = F.pad(a, (pad, pad, 0, 0), mode="replicate")
    resp = torch.empty((len(slopes), h, w - 1), dtype=a.dtype, device=a.device)
    mean = torch.empty((c, h, w), dtype=a.dtype, device=a.device)
    for i, d in enumerate(slopes):
        shear_sum(a_pad, pad, w, -d * u, mean)
        diff = mean[:, :, 1:] - mean[:, :, :-1]
        torch.sqrt((diff * diff).sum(0), out=resp[i])
    return resp
