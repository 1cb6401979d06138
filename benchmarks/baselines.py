"""Classic disparity estimators that the accuracy suite runs beside diffdepth.

Both return disparity in px per view step with the HCI sign (view (r, c) at offset
(u, v) = (c - c0, r - r0) sees reference pixel (x, y) at (x - d u, y - d v)).

- :func:`structure_tensor_disparity`: the local orientation of the EPIs (Wanner & Goldluecke
  2012), `diffdepth.points.orientation` run on its own (the light-field run offers the same
  estimate to its edge refinement as a candidate, which is why it lives in the library).
- :func:`sgbm_disparity`: OpenCV's semi-global block matching (Hirschmueller 2008, MODE_HH)
  between the reference view and the view ``steps`` to its right.
"""

from __future__ import annotations

import numpy as np

from diffdepth.points.orientation import structure_tensor_disparity

__all__ = ["sgbm_disparity", "structure_tensor_disparity"]


def sgbm_disparity(
    views: np.ndarray,
    ref: tuple[int, int],
    disp_range: tuple[float, float],
    steps: int = 4,
    block: int = 5,
) -> np.ndarray:
    """OpenCV StereoSGBM (MODE_HH) between the reference view (left image) and the view
    ``steps`` columns to its right (fewer when the grid has no such view); disparity [H, W]
    float32 in px per view step. Pixels SGBM leaves invalid take the smaller (farther) of the
    nearest valid values left and right of them on their row."""
    import cv2

    r0, c0 = ref
    steps = min(steps, views.shape[1] - 1 - c0)
    if steps < 1:
        raise ValueError("sgbm_disparity: no view to the right of the reference view")
    to8 = lambda a: np.clip(np.rint(np.asarray(a) * 255.0), 0, 255).astype(np.uint8)  # noqa: E731
    left, right = to8(views[r0, c0]), to8(views[r0, c0 + steps])
    # The right view sees reference pixel x at x - d * steps: OpenCV's disparity is d * steps.
    lo, hi = min(disp_range) * steps, max(disp_range) * steps
    min_disp = int(np.floor(lo)) - 1
    num = int(np.ceil((hi - min_disp + 2) / 16.0)) * 16
    # Pad so that SGBM matches every column (it leaves min_disp + num columns on the left).
    pad_l, pad_r = max(0, min_disp + num), max(0, -min_disp)
    padding = ((0, 0), (pad_l, pad_r), (0, 0))
    left, right = np.pad(left, padding, mode="edge"), np.pad(right, padding, mode="edge")
    matcher = cv2.StereoSGBM_create(
        minDisparity=min_disp,
        numDisparities=num,
        blockSize=block,
        P1=8 * 3 * block * block,
        P2=32 * 3 * block * block,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.StereoSGBM_MODE_HH,
    )
    raw = matcher.compute(left, right)[:, pad_l : pad_l + views.shape[3]]
    disp = raw.astype(np.float64) / 16.0
    disp[raw < min_disp * 16] = np.nan
    return (_fill_rows(disp) / steps).astype(np.float32)


def _fill_rows(disp: np.ndarray) -> np.ndarray:
    """NaN pixels take min(nearest valid to the left, nearest valid to the right) on their
    row (one of them where only one exists); rows without any valid pixel take the map's median."""
    h, w = disp.shape
    valid = np.isfinite(disp)
    cols = np.broadcast_to(np.arange(w), (h, w))
    left_i = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right_i = np.minimum.accumulate(np.where(valid, cols, w)[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    left = np.where(left_i >= 0, disp[rows, np.clip(left_i, 0, w - 1)], np.nan)
    right = np.where(right_i < w, disp[rows, np.clip(right_i, 0, w - 1)], np.nan)
    filled = np.where(valid, disp, np.fmin(left, right))
    fallback = np.nanmedian(disp) if valid.any() else 0.0
    return np.where(np.isfinite(filled), filled, fallback)
