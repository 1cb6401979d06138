"""Classic disparity estimators that the accuracy suite runs beside diffdepth.

Both return disparity in px per view step with the HCI sign (view (r, c) at offset
(u, v) = (c - c0, r - r0) sees reference pixel (x, y) at (x - d u, y - d v)).

- :func:`structure_tensor_disparity`: the local orientation of the EPIs (Wanner & Goldluecke
  2012): Scharr derivatives after a Gaussian of inner scale 0.8, the tensor averaged at outer
  scale 1.5, on the EPIs of the central row and the central column of views; per pixel the
  estimate of the more coherent of the two; for disparity ranges beyond +-1 px per view step
  the EPIs are sheared to integer disparities first (the method's usual way with large ranges).
- :func:`sgbm_disparity`: OpenCV's semi-global block matching (Hirschmueller 2008, MODE_HH)
  between the reference view and the view ``steps`` to its right.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

_SCHARR_D = np.array([-1.0, 0.0, 1.0]) / 2.0  # derivative along an axis
_SCHARR_S = np.array([3.0, 10.0, 3.0]) / 16.0  # smoothing across it


def _epi_orientation(stack: np.ndarray, inner: float, outer: float) -> tuple[np.ndarray, ...]:
    """stack [S, H, W, C]: views along one grid line, EPI axes (s, x) with x the last image
    axis. Returns (disparity, coherence) of the middle view, [H, W] each.

    The outer Gaussian runs along x as usual and, along s, weighs only the views whose
    derivative stencil lies inside the grid (normalised), so that the replicated border views
    do not flatten the EPI lines (with 5 views they biased |d| low by a quarter)."""
    n = stack.shape[0]
    weight = np.exp(-0.5 * ((np.arange(n) - n // 2) / outer) ** 2)
    if n >= 3:
        weight[[0, -1]] = 0.0
    weight /= weight.sum()

    def outer_mean(t: np.ndarray) -> np.ndarray:  # [S, H, W] -> [H, W]
        t = ndimage.gaussian_filter(t, (0, 0, outer), mode="nearest")
        return np.tensordot(weight, t, axes=(0, 0))

    jxx = jxs = jss = 0.0
    for ch in range(stack.shape[-1]):  # the tensor summed over the colour channels
        img = ndimage.gaussian_filter(stack[..., ch], (inner, 0, inner), mode="nearest")
        gx = ndimage.correlate1d(img, _SCHARR_D, axis=2, mode="nearest")
        gx = ndimage.correlate1d(gx, _SCHARR_S, axis=0, mode="nearest")
        gs = ndimage.correlate1d(img, _SCHARR_D, axis=0, mode="nearest")
        gs = ndimage.correlate1d(gs, _SCHARR_S, axis=2, mode="nearest")
        jxx = jxx + outer_mean(gx * gx)
        jxs = jxs + outer_mean(gx * gs)
        jss = jss + outer_mean(gs * gs)
    # I_s(x) = I_mid(x + d s): the gradient (I_x, I_s) is parallel to (1, d), so d is the
    # slope of the tensor's main eigenvector, at angle phi with tan(2 phi) = 2 Jxs / (Jxx - Jss).
    phi = 0.5 * np.arctan2(2.0 * jxs, jxx - jss)
    coherence = np.hypot(jxx - jss, 2.0 * jxs) / (jxx + jss + 1e-12)
    return np.tan(phi), coherence


def shear_levels(disp_range: tuple[float, float] | None, step: float = 1.0) -> np.ndarray:
    """The disparities the EPIs are sheared to: the multiples of ``step`` nearest to the ends
    of disp_range and those between (just 0 when the range lies within +-step / 2, or is
    unknown)."""
    if disp_range is None:
        return np.zeros(1)
    lo = np.floor(min(disp_range) / step + 0.5)
    hi = np.ceil(max(disp_range) / step - 0.5)
    return np.arange(min(lo, 0.0), max(hi, 0.0) + 1.0) * step


def structure_tensor_disparity(
    views: np.ndarray,
    ref: tuple[int, int],
    disp_range: tuple[float, float] | None = None,
    inner: float = 0.8,
    outer: float = 1.5,
    shear_step: float = 1.0,
) -> np.ndarray:
    """views float [U, V, H, W, 3]; the reference view's disparity [H, W] float32 (clipped to
    disp_range when given). A grid line with a single view contributes nothing.

    The EPI orientation is only reliable for slopes within about 1 px per view step, so the
    EPIs are sheared to each level of :func:`shear_levels` (view u resampled at x - s u, which
    leaves the slope d - s) and every pixel takes, among the row and column EPIs at every
    level, the most coherent estimate whose residual |d - s| stays within 0.6 shear steps
    (the most coherent of all where none does). Within +-0.5 px this is the plain method."""
    r0, c0 = ref
    rgb = np.asarray(views, dtype=np.float64)
    lines = []  # (stack [S, H', W', 3] along x', offsets [S], transposed)
    if rgb.shape[1] > 1:  # central row: EPI (u, x)
        lines.append((rgb[r0], np.arange(rgb.shape[1]) - c0, False))
    if rgb.shape[0] > 1:  # central column: EPI (v, y); transpose y and x
        lines.append((rgb[:, c0].transpose(0, 2, 1, 3), np.arange(rgb.shape[0]) - r0, True))
    if not lines:
        raise ValueError("structure_tensor_disparity: the light field has a single view")
    h, w = rgb.shape[2:4]
    disp = np.zeros((h, w))
    best = np.full((h, w), -np.inf)  # coherence, minus 2 where the residual is out of reach
    for level in shear_levels(disp_range, shear_step):
        for stack, offsets, transposed in lines:
            if level != 0.0:  # view s at x - level * s: the lines keep slope d - level
                stack = np.stack(
                    [ndimage.shift(v, (0, level * o, 0), order=1, mode="nearest")
                     for v, o in zip(stack, offsets)]
                )  # fmt: skip
            d, c = _epi_orientation(stack, inner, outer)
            if transposed:
                d, c = d.T, c.T
            score = c - 2.0 * (np.abs(d) > 0.6 * shear_step)
            take = score > best
            disp = np.where(take, d + level, disp)
            best = np.maximum(score, best)
    if disp_range is not None:
        disp = np.clip(disp, min(disp_range), max(disp_range))
    return disp.astype(np.float32)


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
