"""Dense reference splatting: every point against every pixel, straight from SPEC section 3.

Memory and time grow as N * H * W: for tests on small problems only.
"""

import torch
from torch import Tensor

from diffdepth.render.constants import KAPPA, LAM_ORDER, SIGMA_LAM, SIGMA_S, WINDOW_RADIUS

MAX_REFERENCE_ELEMENTS = 20_000_000
"""Largest N * H * W the dense reference accepts."""


def splat_reference(
    xy: Tensor,  # [N, 2] (x=col, y=row)
    value: Tensor,  # [N]
    weight: Tensor,  # [N]
    depth: Tensor,  # [N], smaller = nearer
    shape: tuple[int, int],  # (H, W)
    sigma_s: float = SIGMA_S,
) -> tuple[Tensor, Tensor]:
    """S, lam ``[H, W]`` by the definition: T_i = cumulative product of (1 - a_j), nearest first."""
    height, width = int(shape[0]), int(shape[1])
    n = xy.shape[0]
    if n * height * width > MAX_REFERENCE_ELEMENTS:
        raise ValueError(
            f"splat_reference is dense (N*H*W elements); got N={n}, shape={(height, width)}, "
            f"more than {MAX_REFERENCE_ELEMENTS}: use diffdepth.render.splat"
        )
    order = torch.argsort(depth.detach(), stable=True)
    xy, value, weight = xy[order], value[order], weight[order]
    qy, qx = torch.meshgrid(
        torch.arange(height, device=xy.device, dtype=xy.dtype),
        torch.arange(width, device=xy.device, dtype=xy.dtype),
        indexing="ij",
    )
    qx, qy = qx.reshape(1, -1), qy.reshape(1, -1)  # [1, H*W]
    centre = torch.floor(xy.detach() + 0.5)  # [N, 2], round half up
    covers = ((qx - centre[:, 0:1]).abs() <= WINDOW_RADIUS) & (
        (qy - centre[:, 1:2]).abs() <= WINDOW_RADIUS
    )  # [N, H*W]
    r2 = (qx - xy[:, 0:1]) ** 2 + (qy - xy[:, 1:2]) ** 2  # [N, H*W]
    zero = torch.zeros((), dtype=xy.dtype, device=xy.device)
    g = torch.where(covers, torch.exp(-r2 / (2 * sigma_s**2)), zero)
    a = 1 - torch.exp(-KAPPA * g)  # 0 where the window does not cover the pixel
    lam_i = torch.where(
        covers, weight[:, None] * torch.exp(-((r2 / (2 * SIGMA_LAM**2)) ** LAM_ORDER)), zero
    )
    ones = torch.ones_like(a[:1])
    T = torch.cumprod(torch.cat([ones, 1 - a[:-1]], 0), 0)  # [N, H*W], product over nearer points
    S = (value[:, None] * a * T).sum(0)
    lam = (lam_i * T).sum(0)
    return S.reshape(height, width), lam.reshape(height, width)
