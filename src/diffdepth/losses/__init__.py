"""Losses of the differentiable core: warping, occlusion, SSIM, VGG features, smoothness.

loss_fn = LightFieldLoss(ref, views, offsets, LossConfig.light_field())
loss, parts, E = loss_fn(D)      # D [H, W] disparity, px per view step
"""

from diffdepth.config import LossConfig
from diffdepth.losses.lightfield import (
    occlusion_masks,
    view_errors,
    warp_views,
)
from diffdepth.losses.loss import LightFieldLoss, masked_view_mean, reprojection_loss
from diffdepth.losses.multiview import MultiViewLoss
from diffdepth.losses.photometric import local_mean, ssim
from diffdepth.losses.smoothness import (
    edge_aware_smoothness,
    gradient_reward,
    smoothness_weights,
    weighted_smoothness,
)
from diffdepth.losses.supervised import supervised_loss
from diffdepth.losses.vgg import VGGConv1, load_vgg16_conv1_weights

__all__ = [
    "LightFieldLoss",
    "LossConfig",
    "MultiViewLoss",
    "VGGConv1",
    "edge_aware_smoothness",
    "smoothness_weights",
    "gradient_reward",
    "load_vgg16_conv1_weights",
    "local_mean",
    "masked_view_mean",
    "occlusion_masks",
    "reprojection_loss",
    "ssim",
    "supervised_loss",
    "view_errors",
    "warp_views",
    "weighted_smoothness",
]
