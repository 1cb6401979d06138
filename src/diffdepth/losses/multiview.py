"""Multi-view warping loss for calibrated pinhole cameras (SPEC sections 5 and 6).

The label D of the reference view is inverse depth; depth = 1 / D is the occlusion key. For each
selected view k, every reference pixel (x, y) is lifted to ``X = depth * K_ref^-1 (x, y, 1)``
in the reference camera, moved into camera k (``R_k R_ref^T``, ``t_k - R_k R_ref^T t_ref``) and
projected with K_k. View k is sampled there bilinearly (pixel centres at integers,
`diffdepth.image.sample_bilinear`). The mask M_k is 0 where the pixel falls behind camera k or
outside image k, or where another reference pixel lands on the same pixel of view k nearer to it
(a z-buffer on the depth in camera k, with a relative tolerance); the mask is not differentiated.
Warping, errors and masks are the photo layer's (`diffdepth.photo.pinhole`: compiled on the CPU,
with d/dD in one pass; plain torch elsewhere, and with ``backend="torch"``).

The per-view errors e_k = mean_c |I_ref - W_k|, the masks and the warped views go to the one
assembly of the terms, `diffdepth.losses.loss.reprojection_loss` (weights of `LossConfig`,
preset `LossConfig.multi_view()`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from diffdepth.config import LossConfig
from diffdepth.losses.loss import reprojection_loss
from diffdepth.losses.smoothness import smoothness_weights
from diffdepth.photo.pinhole import pinhole_visibility, pinhole_warp, stack_views, warp_matrices


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
    backend:   "auto" (compiled warping for CPU tensors, torch elsewhere), "numba" or "torch"

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
        backend: str = "auto",
    ) -> None:
        self.ref = int(ref_index)
        self.config = LossConfig.multi_view() if config is None else config
        self.n_views = int(n_views)
        self.generator = generator
        self.device = torch.device(device)
        self.backend = backend
        n = len(scene)
        if not 0 <= self.ref < n:
            raise ValueError(f"MultiViewLoss: reference {ref_index} is not one of {n} views")
        self.views = [k for k in range(n) if k != self.ref] if views is None else list(views)
        if not self.views or self.ref in self.views:
            raise ValueError("MultiViewLoss: need at least one view other than the reference")
        self.shape = scene.shape(self.ref)
        self.I_ref = _image_tensor(scene.images[self.ref], self.device)  # [3, H, W]
        self._ref_hwc = self.I_ref.permute(1, 2, 0).contiguous()  # [H, W, 3] for the warp
        self._edge_w = smoothness_weights(self.I_ref)  # exp(-mean_c |dI|), x and y
        stack, self._sizes = stack_views([scene.images[k] for k in self.views])
        self._stack = torch.as_tensor(stack, device=self.device)  # [V, Hmax, Wmax, 3]
        A, b = zip(*(warp_matrices(scene, self.ref, k) for k in self.views))
        self._A, self._b = np.stack(A), np.stack(b)  # [V, 3, 3], [V, 3]
        self.last_views: list[int] = []

    def select_views(self) -> list[int]:
        """A random subset of ``n_views`` candidate views (all of them when there are fewer)."""
        if len(self.views) <= self.n_views:
            return list(self.views)
        perm = torch.randperm(len(self.views), generator=self.generator)[: self.n_views]
        return [self.views[i] for i in sorted(perm.tolist())]

    def _inverse_depth(self, D: Tensor) -> Tensor:
        return D.clamp_min(self.config.min_inverse_depth)

    def _warp_many(self, D: Tensor, views: list[int]) -> tuple[Tensor, Tensor, Tensor]:
        """(warped [B, 3, H, W], errors [B, H, W], masks [B, H, W] in D's dtype) of views."""
        rho = self._inverse_depth(D)
        idx = [self.views.index(k) for k in views]
        every = idx == list(range(len(self.views)))
        stack = self._stack if every else self._stack[idx]
        geometry = (self._sizes[idx], self._A[idx], self._b[idx])
        W, e = pinhole_warp(rho, self._ref_hwc, stack, *geometry, backend=self.backend)
        M = pinhole_visibility(
            rho, *geometry, tol=self.config.occlusion_tol, backend=self.backend
        ).to(D.dtype)
        return W, e, M

    def warp(self, D: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """View k warped into the reference through inverse depth D [H, W].

        Returns W [3, H, W] (differentiable w.r.t. D) and the visibility mask M [H, W] (0/1, in
        D's dtype, not differentiated).
        """
        W, _, M = self._warp_many(D, [k])
        return W[0], M[0]

    def __call__(self, D: Tensor) -> tuple[Tensor, dict, Tensor]:
        if tuple(D.shape) != tuple(self.shape):
            raise ValueError(f"MultiViewLoss: D has shape {tuple(D.shape)}, expected {self.shape}")
        views = self.select_views()
        self.last_views = views
        I_ref = self.I_ref.to(D.dtype)
        Wk, e, Mk = self._warp_many(D, views)  # [B, 3, H, W], [B, H, W], [B, H, W]
        loss, parts, E = reprojection_loss(e, Mk, D, self._edge_w, self.config, Wk, I_ref)
        parts["visible"] = float((Mk.sum(0) > 0).to(D.dtype).mean())
        return loss, parts, E
