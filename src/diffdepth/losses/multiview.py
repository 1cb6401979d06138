"""Multi-view warping loss for calibrated pinhole cameras (SPEC sections 5 and 6).

The label D of the reference view is inverse depth; depth = 1 / D is the occlusion key. For each
selected view k, every reference pixel (x, y) is lifted to ``X = depth * K_ref^-1 (x, y, 1)``
in the reference camera, moved into camera k (``R_k R_ref^T``, ``t_k - R_k R_ref^T t_ref``) and
projected with K_k. View k is sampled there bilinearly (pixel centres at integers,
`diffdepth.image.sample_bilinear`). The mask M_k is 0 where the pixel falls behind camera k or
outside image k, or where another reference pixel lands on the same pixel of view k nearer to it
(a z-buffer on the depth in camera k, with a relative tolerance); the mask is not differentiated.

The per-view errors e_k = mean_c |I_ref - W_k|, the masks and the warped views go to the one
assembly of the terms, `diffdepth.losses.loss.reprojection_loss` (weights of `LossConfig`,
preset `LossConfig.multi_view()`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from diffdepth.config import LossConfig
from diffdepth.image import sample_bilinear
from diffdepth.losses.loss import reprojection_loss
from diffdepth.losses.smoothness import smoothness_weights


def _image_tensor(img: np.ndarray, device) -> Tensor:
    return torch.as_tensor(np.ascontiguousarray(img), dtype=torch.float32, device=device).permute(
        2, 0, 1
    )


class MultiViewLoss:
    """Photometric loss of an inverse-depth map D of one reference view against other views.

    ref_index: the reference image of ``scene`` (a `diffdepth.io.mvs.MultiViewScene`)
    config:    LossConfig (default weights when None)
    n_views:   how many of the other views each call uses (a random subset, redrawn per call)
    generator: torch.Generator that draws the subsets (seeded: reproducible runs)
    views:     the candidate views (default: every image but the reference)

    ``loss(D)`` with D [H, W] (inverse depth, any float dtype) returns (loss, parts, E): the
    scalar loss, a dict of its terms as floats, and the per-pixel error E [H, W] (detached).
    The views used by the last call are in ``last_views``.
    """

    def __init__(
        self,
        ref_index: int,
        scene,
        config: LossConfig | None = None,
        n_views: int = 5,
        generator: torch.Generator | None = None,
        views: list[int] | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.ref = int(ref_index)
        self.config = LossConfig.multi_view() if config is None else config
        self.n_views = int(n_views)
        self.generator = generator
        self.device = torch.device(device)
        n = len(scene)
        if not 0 <= self.ref < n:
            raise ValueError(f"MultiViewLoss: reference {ref_index} is not one of {n} views")
        self.views = [k for k in range(n) if k != self.ref] if views is None else list(views)
        if not self.views or self.ref in self.views:
            raise ValueError("MultiViewLoss: need at least one view other than the reference")
        self.shape = scene.shape(self.ref)
        h, w = self.shape
        self.I_ref = _image_tensor(scene.images[self.ref], self.device)  # [3, H, W]
        self._edge_w = smoothness_weights(self.I_ref)  # exp(-mean_c |dI|), x and y
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        rays = np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(scene.K[self.ref]).T
        self._rays = torch.as_tensor(rays, device=self.device)  # [H, W, 3], z = 1
        self._images, self._proj = {}, {}
        for k in self.views:
            R_rel = scene.R[k] @ scene.R[self.ref].T
            t_rel = scene.t[k] - R_rel @ scene.t[self.ref]
            P = np.concatenate([scene.K[k] @ R_rel, (scene.K[k] @ t_rel)[:, None]], 1)  # [3, 4]
            self._proj[k] = torch.as_tensor(P, device=self.device)
            self._images[k] = torch.as_tensor(  # [1, Hk, Wk, 3]: channel-last for sampling
                np.ascontiguousarray(scene.images[k]), dtype=torch.float32, device=self.device
            )[None]
        self.last_views: list[int] = []

    def select_views(self) -> list[int]:
        """A random subset of ``n_views`` candidate views (all of them when there are fewer)."""
        if len(self.views) <= self.n_views:
            return list(self.views)
        perm = torch.randperm(len(self.views), generator=self.generator)[: self.n_views]
        return [self.views[i] for i in sorted(perm.tolist())]

    def warp(self, D: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """View k warped into the reference through inverse depth D [H, W].

        Returns W [3, H, W] (differentiable w.r.t. D) and the visibility mask M [H, W] (0/1, in
        D's dtype, not differentiated).
        """
        cfg = self.config
        dtype = D.dtype
        depth = 1.0 / D.clamp_min(cfg.min_inverse_depth)
        X = self._rays.to(dtype) * depth[..., None]  # [H, W, 3] reference camera
        P = self._proj[k].to(dtype)
        p = X @ P[:, :3].T + P[:, 3]  # [H, W, 3]
        z = p[..., 2]
        front = z > 1e-9
        z_safe = torch.where(front, z, torch.ones_like(z))
        u = p[..., 0] / z_safe
        v = p[..., 1] / z_safe
        img = self._images[k]
        hk, wk = img.shape[1:3]
        with torch.no_grad():
            tol = 1e-4  # pixels: rounding must not push a border pixel out of the image
            inside = front & (u >= -tol) & (u <= wk - 1 + tol) & (v >= -tol) & (v <= hk - 1 + tol)
            ui = u.round().long().clamp(0, wk - 1)
            vi = v.round().long().clamp(0, hk - 1)
            target = (vi * wk + ui)[inside]
            zin = z[inside]
            zbuf = torch.full((hk * wk,), float("inf"), dtype=dtype, device=D.device)
            zbuf = zbuf.scatter_reduce(0, target, zin, reduce="amin")
            visible = torch.zeros_like(inside)
            visible[inside] = zin <= zbuf[target] * (1.0 + cfg.occlusion_tol)
            M = visible.to(dtype)
        W = sample_bilinear(img.to(dtype), u, v)[0].permute(2, 0, 1)  # [3, H, W]
        return W, M

    def __call__(self, D: Tensor) -> tuple[Tensor, dict, Tensor]:
        if tuple(D.shape) != tuple(self.shape):
            raise ValueError(f"MultiViewLoss: D has shape {tuple(D.shape)}, expected {self.shape}")
        views = self.select_views()
        self.last_views = views
        I_ref = self.I_ref.to(D.dtype)
        warped, masks = zip(*(self.warp(D, k) for k in views))
        Wk = torch.stack(warped)  # [B, 3, H, W]
        Mk = torch.stack(masks)  # [B, H, W]
        e = (I_ref[None] - Wk).abs().mean(1)  # [B, H, W]
        loss, parts, E = reprojection_loss(e, Mk, D, self._edge_w, self.config, Wk, I_ref)
        parts["visible"] = float((Mk.sum(0) > 0).to(D.dtype).mean())
        return loss, parts, E
