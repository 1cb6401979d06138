"""Disparity metrics with the HCI 4D light field benchmark's definitions.

Pixels inside a border (15 px by default) whose ground truth is finite are scored: MSE x100,
MAE, Q25 x100 and BadPix(t), as `score_disparity.py` (the shared reference scorer) computes
them. One rule differs, so that no estimate can look good by being undefined: a non-finite
estimate (NaN or infinity) is a bad pixel at every threshold with the fixed error
`NONFINITE_ERROR` (100 px per view step), which it adds to MAE, MSE and Q25. The reference
scorer gives it the largest finite error of the map instead, which is 0 when every finite pixel
is exact. diffdepth's own maps are finite, so both agree on them; the result records the count
(``nonfinite_estimates``) and the error used (``nonfinite_error``).
"""

from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLDS = (0.01, 0.03, 0.07)
DEFAULT_BORDER = 15
#: the error (px per view step) a non-finite estimate counts with
NONFINITE_ERROR = 100.0


def valid_mask(gt: np.ndarray, border: int = DEFAULT_BORDER) -> np.ndarray:
    """Bool [H, W]: the pixels that are scored (finite ground truth, inside the border)."""
    mask = np.isfinite(gt)
    if border > 0:
        inner = np.zeros_like(mask)
        inner[border:-border, border:-border] = True
        mask &= inner
    return mask


def score_disparity(
    est: np.ndarray,
    gt: np.ndarray,
    border: int = DEFAULT_BORDER,
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
) -> dict:
    """MSE x100, MAE, Q25 x100 and BadPix(t) (% of pixels with |est - gt| > t).

    est, gt: [H, W] disparity maps (px per view step). A non-finite estimate counts with the
    error NONFINITE_ERROR (see the module's text). Raises ValueError on a shape mismatch or
    when no ground-truth pixel is valid inside the border.
    """
    est = np.asarray(est, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if est.shape != gt.shape:
        raise ValueError(f"shape mismatch: estimate {est.shape} vs ground truth {gt.shape}")
    mask = valid_mask(gt, border)
    if not mask.any():
        raise ValueError("no valid ground-truth pixels inside the border")
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(est - gt)[mask]
    finite = np.isfinite(err)
    err = np.where(finite, err, NONFINITE_ERROR)
    out = {
        "pixels": int(mask.sum()),
        "nonfinite_estimates": int((~finite).sum()),
        "nonfinite_error": NONFINITE_ERROR,
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
