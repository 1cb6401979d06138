"""Accuracy metrics: disparity against ground truth (HCI definitions) and depth up to scale."""

from diffdepth.metrics.depth import scale_fitted_metrics
from diffdepth.metrics.disparity import badpix_map, score_disparity

__all__ = ["badpix_map", "scale_fitted_metrics", "score_disparity"]
