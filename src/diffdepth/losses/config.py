"""Weights and constants of the re-projection loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from diffdepth.losses.photometric import SSIMWindow


@dataclass(frozen=True)
class LossConfig:
    """L = mean(E) + w_ssim (1 - SSIM) - w_g mean|grad E| + w_s E_S.

    Presets: `LossConfig.light_field()`, `LossConfig.multi_view()`.
    """

    # Feature space of the per-pixel error E: "rgb" (fast) or "vgg" (first VGG16 block; the
    # paper found it better in texture-less regions, at roughly 40x the cost on a CPU).
    distance: Literal["rgb", "vgg"] = "rgb"
    # Weight of the masked mean of 1 - SSIM(reference, warped view) (RGB); 0 skips SSIM.
    w_ssim: float = 0.0
    # SSIM window: "box3" (3x3 box) or "gauss11" (11x11 Gaussian, sigma 1.5).
    ssim_window: SSIMWindow = "box3"
    # Weight of the gradient reward: the loss subtracts w_g (mean|dx E| + mean|dy E|).
    w_g: float = 0.01
    # Weight of the edge-aware smoothness E_S of the map (image edges from the reference view).
    w_s: float = 0.05
    # Occlusion z-buffer tolerance in map units (light field: px per view step): a pixel is
    # hidden in a view when a pixel landing on the same target is nearer by more than this.
    occlusion_margin: float = 0.1
    # Added to the number of views that see a pixel before dividing (pixels no view sees get 0).
    eps: float = 1e-4
    # Views per VGG forward pass (bounds memory; activations are recomputed in backward).
    vgg_chunk: int = 4
    # Depth-edge mask (0: off): pixels next to a jump of the current map larger than this (map
    # units), dilated by edge_mask_dilation px, are left out of mean(E) and of the gradient
    # reward. A pixel on a depth edge mixes foreground and background colours, and such
    # pixels are explained best by a soft edge (the paper's Figure 6): left in, they pull the
    # foreground outwards, one ramp of background at a time.
    edge_mask_jump: float = 0.0
    edge_mask_dilation: int = 2

    def __post_init__(self) -> None:
        if self.distance not in ("rgb", "vgg"):
            raise ValueError(f"LossConfig.distance must be 'rgb' or 'vgg', got {self.distance!r}")
        if self.ssim_window not in ("box3", "gauss11"):
            raise ValueError(
                f"LossConfig.ssim_window must be 'box3' or 'gauss11', got {self.ssim_window!r}"
            )
        if self.edge_mask_dilation < 0:
            raise ValueError(
                f"LossConfig.edge_mask_dilation must be >= 0, got {self.edge_mask_dilation}"
            )
        for name in ("w_ssim", "w_g", "w_s", "occlusion_margin", "edge_mask_jump"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"LossConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not self.eps > 0:
            raise ValueError(f"LossConfig.eps must be > 0, got {self.eps}")
        if self.vgg_chunk < 1:
            raise ValueError(f"LossConfig.vgg_chunk must be >= 1, got {self.vgg_chunk}")

    @classmethod
    def light_field(cls, **changes) -> LossConfig:
        """Light field (small baseline): RGB error, no SSIM, w_g 0.01, w_s 0.05, and the
        depth-edge mask (jumps > 0.2 px per view step, dilated by 2 px)."""
        base = {"distance": "rgb", "w_ssim": 0.0, "w_g": 0.01, "w_s": 0.05}
        return cls(**{**base, "edge_mask_jump": 0.2, "edge_mask_dilation": 2, **changes})

    @classmethod
    def multi_view(cls, **changes) -> LossConfig:
        """Wider-baseline photos: adds 0.05 (1 - SSIM) to the light-field weights."""
        return cls(**{"distance": "rgb", "w_ssim": 0.05, "w_g": 0.01, "w_s": 0.05, **changes})
