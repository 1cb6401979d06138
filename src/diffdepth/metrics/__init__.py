"""Accuracy metrics: disparity against ground truth (HCI definitions) and depth up to scale."""

from diffdepth.metrics.disparity import badpix_map, score_disparity

__all__ = ["badpix_map", "score_disparity"]
