"""Point sets sampled from an image: the noisy-points protocol and edge sampling.

The noisy-points protocol is how light-field accuracy is measured on scenes with ground truth:
in every tile of the reference view, the pixels of largest grey-level Sobel magnitude, labelled
with the ground truth plus Gaussian noise, a fraction of them made outliers (as a detector that
picked the wrong side of an edge would), positions jittered by up to half a pixel.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from diffdepth.image import gaussian_blur, grey, sobel_magnitude
from diffdepth.types import PointSet


def top_per_tile(score: np.ndarray, tile: int, per_tile: int) -> np.ndarray:
    """Flat indices of the ``per_tile`` largest scores in every tile x tile block. -> int [M]"""
    h, w = score.shape
    hp, wp = -(-h // tile) * tile, -(-w // tile) * tile
    padded = np.full((hp, wp), -np.inf)
    padded[:h, :w] = score
    flat_idx = np.arange(hp * wp).reshape(hp, wp)
    blocks = padded.reshape(hp // tile, tile, wp // tile, tile).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(-1, tile * tile)
    idx = flat_idx.reshape(hp // tile, tile, wp // tile, tile).transpose(0, 2, 1, 3)
    idx = idx.reshape(-1, tile * tile)
    k = min(per_tile, tile * tile)
    part = np.argpartition(-blocks, k - 1, axis=1)[:, :k]
    chosen = np.take_along_axis(idx, part, axis=1).ravel()
    chosen_score = np.take_along_axis(blocks, part, axis=1).ravel()
    chosen = chosen[np.isfinite(chosen_score)]
    rows, cols = np.divmod(chosen, wp)
    return rows * w + cols


def noisy_edge_points(
    image: np.ndarray,
    gt: np.ndarray,
    tile: int = 16,
    per_tile: int = 20,
    noise: float = 0.02,
    outlier_fraction: float = 0.05,
    outlier_range: tuple[float, float] = (0.2, 1.0),
    jitter: float = 0.5,
    seed: int = 0,
) -> PointSet:
    """The noisy-points protocol (20 per 16x16 tile: 20,480 points at 512x512).

    image [H, W, 3], gt [H, W] disparity. Value = gt at the chosen pixel + N(0, noise); a
    fraction ``outlier_fraction`` gets +-U(outlier_range) (random sign) added; positions are
    jittered by U(-jitter, jitter) in x and y. Pixels with non-finite gt are skipped.
    """
    rng = np.random.default_rng(seed)
    h, w = gt.shape
    score = sobel_magnitude(image)
    score = np.where(np.isfinite(gt), score, -np.inf)
    idx = np.sort(top_per_tile(score, tile, per_tile))
    rows, cols = np.divmod(idx, w)
    value = gt[rows, cols] + rng.normal(0.0, noise, size=len(idx))
    n_out = int(round(outlier_fraction * len(idx)))
    out = rng.choice(len(idx), size=n_out, replace=False)
    sign = rng.choice([-1.0, 1.0], size=n_out)
    value[out] += sign * rng.uniform(outlier_range[0], outlier_range[1], size=n_out)
    xy = np.stack([cols, rows], axis=1).astype(np.float64)
    xy += rng.uniform(-jitter, jitter, size=xy.shape)
    return PointSet(xy, value)


def canny_edges(
    image: np.ndarray, sigma: float = 1.0, low: float = 0.05, high: float = 0.15
) -> np.ndarray:
    """Canny edge map (bool [H, W]): Gaussian blur, Sobel, non-maximum suppression across the
    gradient direction, hysteresis (thresholds relative to the largest magnitude)."""
    g = gaussian_blur(torch.from_numpy(grey(image))[None, None], sigma)[0, 0].numpy()
    gx, gy = ndimage.sobel(g, axis=1), ndimage.sobel(g, axis=0)
    mag = np.hypot(gx, gy)
    if mag.max() <= 0:
        return np.zeros(mag.shape, dtype=bool)
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    direction = np.round(angle / 45.0).astype(int) % 4  # 0: x, 1: diagonal, 2: y, 3: anti-diag
    steps = [(0, 1), (1, 1), (1, 0), (1, -1)]
    padded = np.pad(mag, 1)
    h, w = mag.shape
    keep = np.zeros_like(mag, dtype=bool)
    for k, (dy, dx) in enumerate(steps):
        a = padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        b = padded[1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]
        keep |= (direction == k) & (mag >= a) & (mag >= b)
    mag = np.where(keep, mag, 0.0) / mag.max()
    strong, weak = mag >= high, mag >= low
    labels, n = ndimage.label(weak, structure=np.ones((3, 3)))
    if n == 0:
        return strong
    has_strong = np.zeros(n + 1, dtype=bool)
    has_strong[labels[strong]] = True
    has_strong[0] = False
    return has_strong[labels]


def sample_edge_points(
    image: np.ndarray, dense: np.ndarray, max_points: int, seed: int = 0, exclude=None
) -> PointSet:
    """Points at Canny edges of ``image`` labelled from the ``dense`` map (multi-view
    densification). ``exclude`` (bool [H, W]) removes pixels that already hold a point."""
    edges = canny_edges(image) & np.isfinite(dense)
    if exclude is not None:
        edges &= ~exclude
    rows, cols = np.nonzero(edges)
    if len(rows) > max_points:
        pick = np.random.default_rng(seed).choice(len(rows), size=max_points, replace=False)
        rows, cols = rows[pick], cols[pick]
    xy = np.stack([cols, rows], axis=1)
    return PointSet(xy, dense[rows, cols])
