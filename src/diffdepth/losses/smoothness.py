"""Edge-aware smoothness of a depth map and the gradient reward on an error map.

Both use forward differences between 4-neighbours:
``dx f = f[..., :, 1:] - f[..., :, :-1]`` ([..., H, W-1]) and
``dy f = f[..., 1:, :] - f[..., :-1, :]`` ([..., H-1, W]).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _batched(D: Tensor, image: Tensor) -> tuple[Tensor, Tensor]:
    """D [H,W] | [B,1,H,W] and image [C,H,W] | [B,C,H,W] -> [B,1,H,W], [B,C,H,W]."""
    if D.dim() == 2:
        D = D[None, None]
    if image.dim() == 3:
        image = image[None]
    if D.dim() != 4 or image.dim() != 4 or D.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"expected D [H,W] or [B,1,H,W] and image [C,H,W] or [B,C,H,W] of the same size, "
            f"got {tuple(D.shape)} and {tuple(image.shape)}"
        )
    return D, image


def smoothness_weights(image: Tensor) -> tuple[Tensor, Tensor]:
    """exp(-mean_c |dx I|) [B,1,H,W-1] and exp(-mean_c |dy I|) [B,1,H-1,W] of image [B,C,H,W]
    (or [C,H,W], then B = 1). Constant for a fixed image: compute once, reuse every step."""
    if image.dim() == 3:
        image = image[None]
    wx = torch.exp(-(image[..., :, 1:] - image[..., :, :-1]).abs().mean(dim=1, keepdim=True))
    wy = torch.exp(-(image[..., 1:, :] - image[..., :-1, :]).abs().mean(dim=1, keepdim=True))
    return wx, wy


def weighted_smoothness(D: Tensor, wx: Tensor, wy: Tensor) -> Tensor:
    """mean(|dx D| wx) + mean(|dy D| wy) for D [H,W] or [B,1,H,W] and weights from
    `smoothness_weights` (broadcast over B)."""
    if D.dim() == 2:
        D = D[None, None]
    sx = ((D[..., :, 1:] - D[..., :, :-1]).abs() * wx).mean()
    sy = ((D[..., 1:, :] - D[..., :-1, :]).abs() * wy).mean()
    return sx + sy


def edge_aware_smoothness(D: Tensor, image: Tensor) -> Tensor:
    """E_S = mean(|dx D| exp(-mean_c |dx I|)) + mean(|dy D| exp(-mean_c |dy I|)).

    D: [H,W] or [B,1,H,W] depth/disparity; image: [C,H,W] or [B,C,H,W] in 0..1, same H, W.
    Returns a scalar. Depth may change freely across image edges, not in flat regions.
    """
    D, image = _batched(D, image)
    wx, wy = smoothness_weights(image)
    return weighted_smoothness(D, wx, wy)


def gradient_reward(E: Tensor) -> Tensor:
    """-(mean |dx E| + mean |dy E|) of an error map E [H,W] (or [..., H, W]); a scalar.

    Added to a loss with a positive weight it rewards sharp edges in the error map, so sharp
    depth edges survive although their re-projection error is high."""
    gx = (E[..., :, 1:] - E[..., :, :-1]).abs().mean()
    gy = (E[..., 1:, :] - E[..., :-1, :]).abs().mean()
    return -(gx + gy)
