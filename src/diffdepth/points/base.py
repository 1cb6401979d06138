"""The point set every initialiser produces and the optimiser consumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PointSet:
    """Sparse labelled points in the reference view.

    xy:         float32 [N, 2], x = column, y = row, pixels (pixel centres at integers)
    value:      float32 [N], the label: disparity (px per view step, HCI sign) on a light
                field, inverse depth on multi-view input
    confidence: float32 [N] in 0..1, or None when the source gives none
    """

    xy: np.ndarray
    value: np.ndarray
    confidence: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xy = np.asarray(self.xy, dtype=np.float32).reshape(-1, 2)
        self.value = np.asarray(self.value, dtype=np.float32).reshape(-1)
        if self.confidence is not None:
            self.confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        n = len(self.xy)
        if len(self.value) != n or (self.confidence is not None and len(self.confidence) != n):
            raise ValueError(
                f"PointSet: xy has {n} rows but value has {len(self.value)}"
                + ("" if self.confidence is None else f" and confidence {len(self.confidence)}")
            )

    def __len__(self) -> int:
        return len(self.xy)

    def subset(self, mask: np.ndarray) -> PointSet:
        """The points where mask (bool [N] or index array) selects."""
        conf = None if self.confidence is None else self.confidence[mask]
        return PointSet(self.xy[mask], self.value[mask], conf)
