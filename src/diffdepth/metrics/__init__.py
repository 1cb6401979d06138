"""Accuracy metrics: disparity against ground truth (HCI definitions), depth up to scale, and
the re-projection error where there is no ground truth (of a depth map among calibrated views,
of a light field's reference view)."""

from diffdepth.metrics.depth import scale_fitted_metrics
from diffdepth.metrics.disparity import badpix_map, score_disparity
from diffdepth.metrics.photometric import lightfield_reprojection_error
from diffdepth.metrics.reprojection import reprojection_error

__all__ = [
    "badpix_map",
    "lightfield_reprojection_error",
    "reprojection_error",
    "scale_fitted_metrics",
    "score_disparity",
]
