"""Plain-torch splatting (any device; autograd through ordinary ops).

Fragments are the (point, pixel) pairs of every window that fall inside the image. With the points
ranked front to back, a stable sort of the fragments by pixel id lists each pixel's fragments in
depth order; an exclusive prefix sum of g within each pixel gives G_i(q), and
T_i(q) = exp(-KAPPA G_i(q)) is the transmittance of SPEC section 3 (1 - a_j = exp(-KAPPA g_j)).
"""

import torch
from torch import Tensor

from diffdepth.render.constants import (
    KAPPA,
    LAM_EXPONENT_CUTOFF,
    LAM_ORDER,
    SIGMA_LAM,
    WINDOW_RADIUS,
)

_R = WINDOW_RADIUS
_CL = 1.0 / (2.0 * SIGMA_LAM * SIGMA_LAM)


def window_centres(xy: Tensor, height: int, width: int) -> Tensor:
    """Integer window centres round(xy) (half up) ``[N, 2]`` int64; far points clamped outside."""
    lo = torch.tensor([-_R - 2.0, -_R - 2.0], dtype=xy.dtype, device=xy.device)
    hi = torch.tensor([width + _R + 1.0, height + _R + 1.0], dtype=xy.dtype, device=xy.device)
    return torch.floor(torch.clamp(xy.detach(), lo, hi) + 0.5).long()


def splat_torch(
    xy: Tensor,  # [N, 2] (x=col, y=row)
    value: Tensor,  # [N]
    weight: Tensor,  # [N]
    order: Tensor,  # [N] int64, point indices front to back
    height: int,
    width: int,
    sigma_s: float,
) -> tuple[Tensor, Tensor]:
    """Splat with autograd through plain torch ops; returns S, lam ``[H, W]``."""
    device, dtype = xy.device, xy.dtype
    xs = xy[order]  # [N, 2] front to back
    c = window_centres(xs, height, width)  # [N, 2]
    off = torch.arange(-_R, _R + 1, device=device)
    qx = c[:, 0, None] + off  # [N, 7]
    qy = c[:, 1, None] + off  # [N, 7]
    inside = ((qy >= 0) & (qy < height))[:, :, None] & ((qx >= 0) & (qx < width))[:, None, :]
    # fragments in (rank, row, column) order, then stably by pixel: per pixel front to back
    rank, iy, ix = inside.nonzero(as_tuple=True)  # [F] each
    px = qx[rank, ix]
    py = qy[rank, iy]
    pix, perm = torch.sort(py * width + px, stable=True)  # [F]
    rank, px, py = rank[perm], px[perm], py[perm]
    del iy, ix, perm, inside

    dx = px.to(dtype) - xs[rank, 0]
    dy = py.to(dtype) - xs[rank, 1]
    r2 = dx * dx + dy * dy
    g = torch.exp(-r2 / (2.0 * sigma_s * sigma_s))
    lam_exponent = (r2 * _CL) ** LAM_ORDER
    lam0 = torch.where(lam_exponent < LAM_EXPONENT_CUTOFF, torch.exp(-lam_exponent), 0.0)

    # exclusive prefix sum of g within each pixel (float64: the running total spans all pixels)
    g64 = g.to(torch.float64)
    excl = torch.cumsum(g64, 0) - g64
    first = torch.ones_like(pix, dtype=torch.bool)
    first[1:] = pix[1:] != pix[:-1]
    seg = torch.cumsum(first, 0) - 1  # [F] segment id
    G = excl - excl[first.nonzero().squeeze(1)][seg]
    trans = torch.exp(-KAPPA * G).to(dtype)
    alpha = -torch.expm1(-KAPPA * g)

    zeros = torch.zeros(height * width, dtype=dtype, device=device)
    S = zeros.index_add(0, pix, value[order][rank] * alpha * trans)
    lam = zeros.index_add(0, pix, weight[order][rank] * lam0 * trans)
    return S.reshape(height, width), lam.reshape(height, width)
