"""Supervised loss against a ground-truth map (validation of the optimiser)."""

from __future__ import annotations

import torch
from torch import Tensor

from diffdepth.losses.smoothness import edge_aware_smoothness


def supervised_loss(D: Tensor, gt: Tensor, image: Tensor, w_s: float = 0.01) -> Tensor:
    """mean |D - gt| over the pixels where gt is finite, + w_s E_S(D, image).

    D, gt: [H, W]; image: [C, H, W] in 0..1 (the reference view). Returns a scalar,
    differentiable w.r.t. D. Raises ValueError when gt has no finite pixel.
    """
    if D.shape != gt.shape or image.shape[-2:] != D.shape:
        raise ValueError(
            f"supervised_loss expects D [H,W], gt [H,W], image [C,H,W] of one size, got "
            f"{tuple(D.shape)}, {tuple(gt.shape)}, {tuple(image.shape)}"
        )
    valid = torch.isfinite(gt)
    if not bool(valid.any()):
        raise ValueError("supervised_loss: the ground truth has no finite pixel")
    l1 = (D[valid] - gt[valid]).abs().mean()
    return l1 + w_s * edge_aware_smoothness(D, image)
