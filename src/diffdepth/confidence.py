"""How far to trust each pixel of a disparity map: photo-consistency and point support.

Two kinds of evidence, each a number from 0 to 1 per pixel:

- **photo-consistency.**  With the occlusion-robust errors of the photo layer (the best of the
  one-sided view subsets, averaged over a small window), a trusted disparity d matches the views
  well and clearly better than d - delta and d + delta:
  ``photo = c / (c + e(d) + noise)`` with the contrast ``c = max(0, min(e(d - delta),
  e(d + delta)) - e(d))``.  A texture-less surface has no contrast, a wrong or occluded one a
  large error; both get little trust.  ``noise`` is the error that image noise alone gives.
- **point support.**  A point (EPI line, plane sweep, given) whose label agrees with the map
  within ``agree`` supports the pixels around it: ``support = exp(-r^2 / (2 radius^2))`` with r
  the distance to the nearest agreeing point.

They are combined as independent evidence: ``confidence = 1 - (1 - photo) (1 - support)``.

    conf = disparity_confidence(problem, disparity, points)      # float32 [H, W] in 0..1
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt, uniform_filter

from diffdepth.config import ConfidenceConfig
from diffdepth.photo import LightFieldProblem, one_sided_subsets, subset_errors
from diffdepth.types import PointSet


def photo_confidence(
    problem: LightFieldProblem, disparity: np.ndarray, config: ConfidenceConfig
) -> np.ndarray:
    """The photo-consistency term, float32 [H, W] in 0..1 (0 everywhere when the light field has
    a single view: then only the points speak)."""
    h, w = problem.shape
    if len(problem) == 0:
        return np.zeros((h, w), np.float32)
    member = one_sided_subsets(problem.offsets)
    D = np.ascontiguousarray(disparity, dtype=np.float64)

    def error(shift: float) -> np.ndarray:
        costs = subset_errors(problem.ref, problem.views, problem.offsets, member, D + shift)
        best = np.minimum(costs.min(0), 1.0).astype(np.float64)  # unseen: the worst error
        return uniform_filter(best, config.window, mode="nearest")

    e0 = error(0.0)
    contrast = np.maximum(np.minimum(error(-config.delta), error(config.delta)) - e0, 0.0)
    return (contrast / (contrast + e0 + config.noise)).astype(np.float32)


def point_support(points: PointSet, disparity: np.ndarray, config: ConfidenceConfig) -> np.ndarray:
    """The point-support term, float32 [H, W] in 0..1."""
    h, w = disparity.shape
    if len(points) == 0:
        return np.zeros((h, w), np.float32)
    px = np.clip(np.round(points.xy[:, 0]).astype(np.int64), 0, w - 1)
    py = np.clip(np.round(points.xy[:, 1]).astype(np.int64), 0, h - 1)
    agree = np.abs(points.value - disparity[py, px]) <= config.agree
    if not agree.any():
        return np.zeros((h, w), np.float32)
    free = np.ones((h, w), bool)
    free[py[agree], px[agree]] = False
    r = distance_transform_edt(free)
    return np.exp(-(r**2) / (2.0 * config.radius**2)).astype(np.float32)


def disparity_confidence(
    problem: LightFieldProblem,
    disparity: np.ndarray,
    points: PointSet,
    config: ConfidenceConfig = ConfidenceConfig(),  # noqa: B008 (frozen dataclass)
) -> np.ndarray:
    """Per-pixel confidence of ``disparity`` [H, W] (the reference view of ``problem``), float32
    in 0..1: photo-consistency and the support of ``points`` (see the module docstring)."""
    photo = photo_confidence(problem, disparity, config)
    support = point_support(points, disparity, config)
    return (1.0 - (1.0 - photo) * (1.0 - support)).astype(np.float32)
