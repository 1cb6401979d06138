"""The self-supervised re-projection loss (SPEC section 5): one assembly for every scene kind.

    L = mean(E) + w_ssim (1 - SSIM) - w_g (mean|dx E| + mean|dy E|) + w_s E_S
    E(x, y) = sum_k M_k e_k / (sum_k M_k + eps),  e_k = mean_c |F(I_ref) - F(W_k[I_k])|

(with LossConfig.edge_mask_jump > 0, E in the first two terms is multiplied by a mask that is
0 next to the depth edges of D, see `depth_edge_weight`)

with M_k the occlusion masks (recomputed every call, not differentiated), F the RGB image or
the first VGG16 block (``distance="vgg"``: of every warped view, each call; ``"vgg_warp"``: of
every view once, projected to a few channels and warped like colours, see
`diffdepth.losses.vgg.warpable_features`), the SSIM term the masked mean over views of
1 - SSIM(I_ref, W_k[I_k]) (RGB), and E_S the edge-aware smoothness of D guided by the
reference image.  A scene kind supplies (e_k, M_k, W_k[I_k]): `LightFieldLoss` here,
`diffdepth.losses.multiview.MultiViewLoss` for calibrated photos; `reprojection_loss`
combines the terms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from diffdepth.config import LossConfig
from diffdepth.losses.lightfield import (
    Offsets,
    _offset_list,
    occlusion_masks,
    view_errors,
    warp_views,
)
from diffdepth.losses.photometric import ssim
from diffdepth.losses.smoothness import gradient_reward, smoothness_weights, weighted_smoothness
from diffdepth.losses.vgg import VGGConv1, warpable_features
from diffdepth.photo import LightFieldProblem


def masked_view_mean(values: Tensor, masks: Tensor, eps: float = 1e-4) -> Tensor:
    """sum_k M_k values_k / (sum_k M_k + eps): values [K, H, W], masks [K, H, W] -> [H, W].

    Pixels that no view sees get 0. The masks carry no gradient."""
    masks = masks.detach().to(values.dtype)
    return torch.einsum("khw,khw->hw", masks, values) / (masks.sum(0) + eps)


@torch.no_grad()
def depth_edge_weight(D: Tensor, config: LossConfig) -> Tensor:
    """0 on pixels within ``edge_mask_dilation`` px of a jump of D larger than
    ``edge_mask_jump`` between 4-neighbours (both pixels of the jump), 1 elsewhere. -> [H, W]"""
    D = D.detach()
    jump = torch.zeros(D.shape, dtype=torch.bool, device=D.device)
    dx = (D[:, 1:] - D[:, :-1]).abs() > config.edge_mask_jump
    dy = (D[1:, :] - D[:-1, :]).abs() > config.edge_mask_jump
    jump[:, 1:] |= dx
    jump[:, :-1] |= dx
    jump[1:, :] |= dy
    jump[:-1, :] |= dy
    r = config.edge_mask_dilation
    if r > 0:
        k = 2 * r + 1
        jump = F.max_pool2d(jump[None, None].to(D.dtype), k, stride=1, padding=r)[0, 0] > 0
    return (~jump).to(D.dtype)


class LightFieldLoss:
    """Re-projection loss of a light field for a reference disparity map.

    ref:     [H, W, 3] reference view, RGB in 0..1 (channel-last, as the photo layer)
    views:   [K, H, W, 3] the other views
    offsets: [K, 2] (u, v) = (c - c0, r - r0) per view
    config:  LossConfig (weights, feature space, occlusion margin)

    Calling it with D [H, W] returns (loss scalar, parts, E): parts holds the float value of
    every unweighted term ("error" = mean E, "ssim" = masked mean of 1 - SSIM, "grad_reward" =
    -mean|grad E|, "smoothness" = E_S) and "total"; E [H, W] is the per-pixel error, detached.
    The reference features and the image-edge weights of E_S are computed once here.
    """

    def __init__(
        self, ref: Tensor, views: Tensor, offsets: Offsets, config: LossConfig | None = None
    ) -> None:
        self.config = config if config is not None else LossConfig.light_field()
        if views.dim() != 4 or ref.dim() != 3 or views.shape[1:] != ref.shape:
            raise ValueError(
                f"LightFieldLoss expects ref [H, W, C] and views [K, H, W, C] of the same H, W, "
                f"C, got {tuple(ref.shape)} and {tuple(views.shape)}"
            )
        self.ref = ref.detach().contiguous()
        self.views = views.detach().to(ref.dtype).contiguous()
        self.offsets = torch.tensor(_offset_list(offsets, views.shape[0]), dtype=ref.dtype)
        self._ref_chw = self.ref.permute(2, 0, 1)  # [C, H, W] for the filters
        self._wx, self._wy = smoothness_weights(self._ref_chw)
        self._vgg = None
        self._ref_feat = None
        self._warpable = None  # distance "vgg_warp": (ref [H, W, n], views [K, H, W, n])
        if self.config.distance == "vgg_warp":
            self._warpable = warpable_features(
                self.ref, self.views, self.config.vgg_channels, self.config.vgg_chunk
            )
        if self.config.distance == "vgg":
            self._vgg = VGGConv1().to(device=ref.device, dtype=ref.dtype)
            with torch.no_grad():
                self._ref_feat = self._vgg(self._ref_chw[None])  # [1, 64, H, W]

    @classmethod
    def from_problem(
        cls, problem: LightFieldProblem, config: LossConfig | None = None, device="cpu"
    ) -> LightFieldLoss:
        """The loss of a `LightFieldProblem` (its arrays are shared on the CPU, not copied)."""
        ref = torch.from_numpy(problem.ref).to(device)
        views = torch.from_numpy(problem.views).to(device)
        return cls(ref, views, torch.from_numpy(problem.offsets), config)

    def masks(self, D: Tensor) -> Tensor:
        """Occlusion masks bool [K, H, W] for the disparity map D [H, W]."""
        return occlusion_masks(D, self.offsets, self.config.occlusion_margin)

    def _feature_errors(self, warped: Tensor) -> Tensor:
        return (self._vgg(warped) - self._ref_feat).abs().mean(dim=1)  # [k, H, W]

    def _vgg_errors(self, warped: Tensor) -> Tensor:
        chunk = self.config.vgg_chunk
        out = []
        for start in range(0, warped.shape[0], chunk):
            w = warped[start : start + chunk]
            if torch.is_grad_enabled() and w.requires_grad:
                out.append(checkpoint(self._feature_errors, w, use_reentrant=False))
            else:
                out.append(self._feature_errors(w))
        return torch.cat(out)

    def __call__(self, D: Tensor) -> tuple[Tensor, dict[str, float], Tensor]:
        cfg = self.config
        if D.shape != self.ref.shape[:2]:
            raise ValueError(f"D must be [H, W] = {list(self.ref.shape[:2])}, got {list(D.shape)}")
        M = self.masks(D)  # [K, H, W]
        warped = None
        if cfg.distance == "vgg" or cfg.w_ssim > 0:
            warped = warp_views(self.views, self.offsets, D).permute(0, 3, 1, 2)  # [K, 3, H, W]
        if cfg.distance == "vgg":
            e = self._vgg_errors(warped)
        elif cfg.distance == "vgg_warp":
            # features of the views computed once and warped like colours (`view_errors`)
            ref_f, views_f = self._warpable
            e = view_errors(ref_f, views_f, self.offsets, D)
        elif warped is not None:
            e = (warped - self._ref_chw).abs().mean(dim=1)
        else:
            e = view_errors(self.ref, self.views, self.offsets, D)  # [K, H, W]
        return reprojection_loss(e, M, D, (self._wx, self._wy), cfg, warped, self._ref_chw)


def reprojection_loss(
    errors: Tensor,
    masks: Tensor,
    D: Tensor,
    smoothness_w: tuple[Tensor, Tensor],
    config: LossConfig,
    warped: Tensor | None = None,
    ref: Tensor | None = None,
) -> tuple[Tensor, dict[str, float], Tensor]:
    """The re-projection loss of SPEC section 5 from what a scene kind supplies.

    errors [K, H, W] per-view errors e_k, masks [K, H, W] visibility M_k (not differentiated),
    D [H, W] the map, smoothness_w (wx, wy) of the reference image (`smoothness_weights`), and for
    the SSIM term (``config.w_ssim`` > 0) the warped views [K, C, H, W] and the reference
    [C, H, W].  With E = sum_k M_k e_k / (sum_k M_k + eps) and E_w = E times the depth-edge
    weight (``config.edge_mask_jump`` > 0):

        L = mean(E_w) + w_g gradient_reward(E_w) + w_s E_S(D) + w_ssim mean(masked 1 - SSIM)

    Returns (L, parts, E): parts holds the float value of every unweighted term ("error",
    "grad_reward" = -mean|grad E_w|, "smoothness", "ssim" when used) and "total"; E [H, W] is
    detached.
    """
    cfg = config
    E = masked_view_mean(errors, masks, cfg.eps)  # [H, W]
    Ew = E if cfg.edge_mask_jump <= 0 else E * depth_edge_weight(D, cfg)
    err = Ew.mean()
    reward = gradient_reward(Ew)
    wx, wy = smoothness_w
    smooth = weighted_smoothness(D, wx.to(D.dtype), wy.to(D.dtype))
    loss = err + cfg.w_g * reward + cfg.w_s * smooth
    parts = {"error": err, "grad_reward": reward, "smoothness": smooth}
    if cfg.w_ssim > 0:
        if warped is None or ref is None:
            raise ValueError("reprojection_loss: the SSIM term needs the warped views and ref")
        dissim = 1 - ssim(warped, ref.to(D.dtype)[None], window=cfg.ssim_window)[:, 0]
        s_term = masked_view_mean(dissim, masks, cfg.eps).mean()
        loss = loss + cfg.w_ssim * s_term
        parts["ssim"] = s_term
    parts["total"] = loss
    return loss, {k: float(v.detach()) for k, v in parts.items()}, E.detach()
