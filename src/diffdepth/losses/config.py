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

    def __post_init__(self) -> None:
        if self.distance not in ("rgb", "vgg"):
            raise ValueError(f"LossConfig.distance must be 'rgb' or 'vgg', got {self.distance!r}")
        if self.ssim_window not in ("box3", "gauss11"):
            raise ValueError(
                f"LossConfig.ssim_window must be 'box3' or 'gauss11', got {self.ssim_window!r}"
            )
        for name in ("w_ssim", "w_g", "w_s", "occlusion_margin"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"LossConfig.{name} must be >= 0, got {getattr(self, name)}")
        if not self.eps > 0:
            raise ValueError(f"LossConfig.eps must be > 0, got {self.eps}")
        if self.vgg_chunk < 1:
            raise ValueError(f"LossConfig.vgg_chunk must be >= 1, got {self.vgg_chunk}")

    @classmethod
    def light_field(cls, **changes) -> LossConfig:
        """Light field (small baseline): RGB error, no SSIM, w_g 0.01, w_s 0.05."""
        return cls(**{"distance": "rgb", "w_ssim": 0.0, "w_g": 0.01, "w_s": 0.05, **changes})

    @classmethod
    def multi_view(cls, **changes) -> LossConfig:
        """Wider-baseline photos: adds 0.05 (1 - SSIM) to the light-field weights."""
        return cls(**{"distance": "rgb", "w_ssim": 0.05, "w_g": 0.01, "w_s": 0.05, **changes})
