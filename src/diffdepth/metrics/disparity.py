"""Disparity metrics with the HCI 4D light field benchmark's definitions.

They follow `score_disparity.py`, the reference scorer every accuracy number of this project is
checked against: pixels inside a border (15 px by default) whose ground truth is finite; a
non-finite estimate counts as a bad pixel with the largest finite error of the map.
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLDS = (0.01, 0.03, 0.07)


def _valid_mask(gt: np.ndarray, border: int) -> np.ndarray:
    mask = np.isfinite(gt)
    if border > 0:
        inner = np.zeros_like(mask)
        inner[border:-border, border:-border] = True
        mask &= inner
    return mask


def score_disparity(
    est: np.ndarray,
    gt: np.ndarray,
    border: int = 15,
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
) -> dict:
    """MSE x100, MAE, Q25 x100 and BadPix(t) (% of pixels with |est - gt| > t).

    est, gt: [H, W] disparity maps (px per view step). Raises ValueError on a shape mismatch
    or when no ground-truth pixel is valid inside the border.
    """
    est = np.asarray(est, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if est.shape != gt.shape:
        raise ValueError(f"shape mismatch: estimate {est.shape} vs ground truth {gt.shape}")
    mask = _valid_mask(gt, border)
    if not mask.any():
        raise ValueError("no valid ground-truth pixels inside the border")
    err = np.abs(est - gt)[mask]
    finite = np.isfinite(err)
    worst = err[finite].max() if finite.any() else 1e9
    err = np.where(finite, err, worst)
    out = {
        "pixels": int(mask.sum()),
        "nonfinite_estimates": int((~finite).sum()),
        "mse_x100": float(np.mean(err**2) * 100.0),
        "mae": float(np.mean(err)),
        "q25_x100": float(np.percentile(err, 25) * 100.0),
    }
    for t in thresholds:
        out[f"badpix_{t:g}"] = float(np.mean(err > t) * 100.0)
    return out


def badpix_map(est: np.ndarray, gt: np.ndarray, threshold: float = 0.07) -> np.ndarray:
    """Bool [H, W]: True where |est - gt| > threshold (or est is not finite) and gt is valid."""
    est = np.asarray(est, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    valid = np.isfinite(gt)
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(est - gt) <= threshold)
    return bad & valid
