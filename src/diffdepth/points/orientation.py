"""The local orientation of the epipolar-plane images: a dense disparity estimate per pixel.

The structure tensor of the EPIs (Wanner & Goldluecke, 2012): Scharr derivatives after a
Gaussian of inner scale 0.8, the tensor averaged at outer scale 1.5, on the EPIs of the central
row and the central column of views; per pixel the estimate of the more coherent of the two.
For disparity ranges beyond +-1 px per view step the EPIs are sheared to integer disparities
first (the method's usual way with large ranges).  Disparity in px per view step, HCI sign
(view (r, c) at offset (u, v) = (c - c0, r - r0) sees reference pixel (x, y) at
(x - d u, y - d v)).

It is accurate where the views have texture along a grid line and wrong elsewhere (and across
occlusions); the light-field run offers it to the edge refinement's second pass as one more
candidate per pixel (`diffdepth.refine.adopt_candidates`), which takes it only where the views
say it matches clearly better than the map.

    disparity = structure_tensor_disparity(lf.views, lf.ref, disp_range)   # float32 [H, W]
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


def _shift_x(img: np.ndarray, shift: float) -> np.ndarray:
    """img [H, W, C] moved by ``shift`` px along x (out[:, x] = img[:, x - shift]), linear
    interpolation, the border replicated: ndimage.shift's order 1, "nearest" mode; a copy of
    columns when the shift is whole (the usual case: integer levels times integer offsets)."""
    if shift == round(shift):
        cols = np.clip(np.arange(img.shape[1]) - int(round(shift)), 0, img.shape[1] - 1)
        return img[:, cols]
    return ndimage.shift(img, (0, shift, 0), order=1, mode="nearest")


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
    rgb = np.asarray(views, dtype=np.float32)
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
                stack = np.stack([_shift_x(v, level * o) for v, o in zip(stack, offsets)])
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
