"""The light-field problem: the reference view and the views compared with it, built once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from diffdepth.types import LightField


@dataclass(frozen=True)
class LightFieldProblem:
    """What every photo-consistency term of a light-field run compares, in one layout.

    ref:     float32 [H, W, 3], the reference view (C-contiguous)
    views:   float32 [K, H, W, 3], the other views (C-contiguous, one copy per run)
    offsets: float64 [K, 2], (u, v) = (c - c0, r - r0) of every view: view k sees reference
             pixel (x, y) of disparity d at (x - d u, y - d v)

    The densifying plane sweep, the re-projection loss and the edge refinement all take it.
    """

    ref: np.ndarray
    views: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        ref = np.ascontiguousarray(self.ref, dtype=np.float32)
        views = np.ascontiguousarray(self.views, dtype=np.float32)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.float64).reshape(-1, 2)
        if ref.ndim != 3 or views.ndim != 4 or views.shape[1:] != ref.shape:
            raise ValueError(
                f"LightFieldProblem: ref [H, W, C] and views [K, H, W, C] must agree, got "
                f"{ref.shape} and {views.shape}"
            )
        if len(offsets) != len(views):
            raise ValueError(f"LightFieldProblem: {len(views)} views but {len(offsets)} offsets")
        object.__setattr__(self, "ref", ref)
        object.__setattr__(self, "views", views)
        object.__setattr__(self, "offsets", offsets)

    @classmethod
    def from_lightfield(
        cls, lf: LightField, views: Literal["crosshair", "all"] = "crosshair"
    ) -> LightFieldProblem:
        """The reference view of ``lf`` and its central row and column of views
        ("crosshair") or every other view ("all")."""
        if views not in ("crosshair", "all"):
            raise ValueError(f"views must be 'crosshair' or 'all', not {views!r}")
        imgs, uv = lf.crosshair() if views == "crosshair" else lf.all_views()
        return cls(lf.ref_view, imgs, uv)

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the reference view."""
        return self.ref.shape[:2]

    def __len__(self) -> int:
        return len(self.views)

    def crosshair(self) -> LightFieldProblem:
        """The views on the reference row and column (this problem when they are all)."""
        keep = (self.offsets[:, 0] == 0) | (self.offsets[:, 1] == 0)
        if keep.all():
            return self
        return LightFieldProblem(self.ref, self.views[keep], self.offsets[keep])
