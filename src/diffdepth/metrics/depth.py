"""Depth metrics up to an unknown global scale (multi-view reconstructions have no metric scale).

A scale s is fitted by least squares, ``s = sum(est * gt) / sum(est^2)``, on a random sample of
valid pixels; the fit is repeated on several samples and the one with the lowest median absolute
error over all valid pixels is kept (robust: a sample that caught a few wild pixels loses, which
a choice by MSE, always won by the fit closest to the global least squares, would not do). The
scaled estimate is then scored: MSE, MAE and Q25, the 25th percentile of |s * est - gt|.
"""

from __future__ import annotations

import numpy as np


def scale_fitted_metrics(
    est: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray | None = None,
    n_samples: int = 500,
    n_fits: int = 10,
    seed: int = 0,
) -> dict:
    """Score a depth map est [H, W] against gt [H, W] up to scale.

    Valid pixels: finite est and gt, gt > 0, and mask (bool [H, W]) where given.
    n_samples: pixels per least-squares fit (all valid pixels when fewer)
    n_fits:    number of fits on independent random samples; the best (lowest median |error|)
               is kept
    Returns {"scale", "mse", "mae", "q25", "n_valid"} (errors in the units of gt).
    """
    est = np.asarray(est, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if est.shape != gt.shape:
        raise ValueError(f"scale_fitted_metrics: est {est.shape} and gt {gt.shape} differ")
    valid = np.isfinite(est) & np.isfinite(gt) & (gt > 0)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool)
    e, g = est[valid], gt[valid]
    if len(e) == 0 or not np.any(e):
        raise ValueError("scale_fitted_metrics: no valid pixel with a non-zero estimate")
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(max(1, n_fits)):
        idx = rng.choice(len(e), size=min(n_samples, len(e)), replace=False)
        denom = float(e[idx] @ e[idx])
        if denom == 0.0:
            continue
        s = float(e[idx] @ g[idx]) / denom
        med = float(np.median(np.abs(s * e - g)))
        if best is None or med < best[1]:
            best = (s, med)
    if best is None:
        raise ValueError("scale_fitted_metrics: every sample had a zero estimate")
    s = best[0]
    err = np.abs(s * e - g)
    return {
        "scale": s,
        "mse": float(np.mean(err**2)),
        "mae": float(err.mean()),
        "q25": float(np.percentile(err, 25)),
        "n_valid": int(len(e)),
    }
