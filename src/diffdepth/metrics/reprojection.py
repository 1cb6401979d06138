"""Re-projection error of a depth map without ground truth (SPEC section 8): the reference view
against the other views warped into it through the map, in CIE Lab."""

from __future__ import annotations

import numpy as np
import torch

from diffdepth.config import LossConfig
from diffdepth.image import rgb_to_lab
from diffdepth.losses.multiview import MultiViewLoss


@torch.no_grad()
def reprojection_error(
    depth,
    ref: int,
    scene,
    views: list[int] | None = None,
    space: str = "lab",
    occlusion_tol: float = 0.02,
) -> float:
    """Mean absolute colour difference between the reference and the other views warped into it.

    depth: [H, W] depth of the reference view (numpy or tensor; not inverse depth)
    views: which views (default: every other one); space: "lab" (CIE L*a*b*) or "rgb" (0..1)
    The mean runs over every (view, pixel) pair where the pixel is visible in the view.
    """
    if space not in ("lab", "rgb"):
        raise ValueError(f"reprojection_error: space must be 'lab' or 'rgb', got {space!r}")
    depth = torch.as_tensor(np.asarray(depth), dtype=torch.float64)
    cfg = LossConfig.multi_view(occlusion_tol=occlusion_tol)
    warper = MultiViewLoss(ref, scene, cfg, views=views)
    D = torch.where(depth > 0, 1.0 / depth, torch.zeros_like(depth))
    ref_img = warper.I_ref.double()
    if space == "lab":
        ref_img = rgb_to_lab(ref_img)
    total, count = 0.0, 0.0
    for k in warper.views:
        W, M = warper.warp(D, k)
        M = M * (depth > 0) * torch.isfinite(depth)
        if space == "lab":
            W = rgb_to_lab(W)
        err = (ref_img - W).abs().mean(0)
        total += float((err * M).sum())
        count += float(M.sum())
    if count == 0:
        raise ValueError("reprojection_error: no reference pixel is visible in any other view")
    return total / count
