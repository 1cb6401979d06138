"""Sparse points from a light field by line detection on its epipolar-plane images (EPIs).

On the EPIs of the reference row of views (one EPI per image row) and of the reference column
(one per image column), a bank of oriented step-edge filters finds, per EPI pixel, the strongest
edge response and its slope; non-maximum suppression across the edge and per-tile adaptive
thresholds give line candidates, weak texture included; a sub-pixel fit locates the edge in every
view and fits the line by least squares; lines that some view contradicts are dropped; each
line becomes a point on the reference row (column) at its intercept, moved half a pixel onto
the side of the edge that follows the line (at a thin structure, two lines of one slope a few
pixels apart, onto the side of the other line, up to a pixel), with its slope as disparity and
the side across its edge (`PointSet.sides`); row and column points are merged (one per
pixel). Optionally a small plane sweep polishes every disparity.

    points = detect_epi_points(views, ref=(4, 4), disp_range=(-3.3, 2.8))

Disparity is in pixels per view step, HCI sign: view (r, c) sees reference pixel (x, y) at
(x - d (c - c0), y - d (r - r0)); larger disparity is nearer.
"""

from __future__ import annotations

import numpy as np
import torch

from diffdepth.config import EPIConfig
from diffdepth.image import gaussian_blur
from diffdepth.points._epi_lines import epi_lines, merge_lines
from diffdepth.points._epi_ops import lab, slope_bank
from diffdepth.points._epi_refine import estimate_disparity_range, polish
from diffdepth.types import PointSet


def _check_views(views: np.ndarray) -> np.ndarray:
    views = np.asarray(views)
    if views.ndim != 5 or views.shape[-1] != 3:
        raise ValueError(
            f"detect_epi_points: views must be [U, V, H, W, 3] (RGB), got shape {views.shape}"
        )
    u, v, h, w, _ = views.shape
    if u * v < 2:
        raise ValueError(f"detect_epi_points: need at least two views, got a {u}x{v} grid")
    if h < 4 or w < 4:
        raise ValueError(f"detect_epi_points: images of {h}x{w} px are too small")
    return views


def detect_epi_points(
    views: np.ndarray,
    ref: tuple[int, int] | None = None,
    disp_range: tuple[float, float] | None = None,
    config: EPIConfig = EPIConfig(),  # noqa: B008 (frozen dataclass)
) -> PointSet:
    """Sparse disparity points of the reference view from the EPIs of a light field.

    views:      float [U, V, H, W, 3], RGB in 0..1, view (r, c) at grid row r, column c
    ref:        (r0, c0) reference view; None: the centre (U // 2, V // 2)
    disp_range: (lo, hi) disparity bounds (px per view step, e.g. parameters.cfg
                disp_min/disp_max); None: estimated by a coarse plane sweep
    returns     PointSet: xy float32 [N, 2] (x = column, y = row of the reference view),
                value float32 [N] disparity (HCI sign), confidence float32 [N] in 0..1,
                sides uint8 [N]: bits of the pixel's sides (`types.SIDE_STEPS`) across the
                edges of its lines, away from the side whose colour follows the line (the
                occluded side at a depth edge)
    """
    views = _check_views(views)
    n_rows, n_cols, h, w, _ = views.shape
    r0, c0 = (n_rows // 2, n_cols // 2) if ref is None else (int(ref[0]), int(ref[1]))
    if not (0 <= r0 < n_rows and 0 <= c0 < n_cols):
        raise ValueError(f"detect_epi_points: ref {(r0, c0)} outside the {n_rows}x{n_cols} grid")

    with torch.no_grad():
        cache: dict[tuple[int, int], torch.Tensor] = {}

        def lab_views(keys: list[tuple[int, int]]) -> torch.Tensor:  # [n, 3, H, W]
            todo = [k for k in keys if k not in cache]
            if todo:
                rgb = torch.from_numpy(
                    np.ascontiguousarray(np.stack([views[r, c] for r, c in todo]), np.float32)
                ).permute(0, 3, 1, 2)
                out = lab(gaussian_blur(rgb, config.blur_sigma))
                for k, img in zip(todo, out):
                    cache[k] = img
            return torch.stack([cache[k] for k in keys])

        row_keys = [(r0, c) for c in range(n_cols)]
        col_keys = [(r, c0) for r in range(n_rows)]
        if config.polish_views == "all":
            sweep_keys = [(r, c) for r in range(n_rows) for c in range(n_cols)]
        else:  # "crosshair"
            sweep_keys = row_keys + [k for k in col_keys if k != (r0, c0)]
        sweep_uv = np.array([(c - c0, r - r0) for r, c in sweep_keys], dtype=np.float32)

        if disp_range is None:
            bound = config.max_disparity
            if bound is None:
                span = max(1, max(c0, n_cols - 1 - c0, r0, n_rows - 1 - r0))
                bound = 0.25 * min(h, w) / span
            lo, hi = estimate_disparity_range(lab_views(sweep_keys), sweep_uv, bound)
        else:
            lo, hi = float(min(disp_range)), float(max(disp_range))
        slopes = slope_bank(
            lo - config.slope_margin, hi + config.slope_margin, config.n_slopes, config.slope_warp
        )

        lines = []
        if n_cols >= 2:
            u = np.arange(n_cols, dtype=np.float32) - c0
            lines.append(epi_lines(lab_views(row_keys), u, slopes, config, transposed=False))
        if n_rows >= 2:
            v = np.arange(n_rows, dtype=np.float32) - r0
            a = lab_views(col_keys).transpose(-1, -2).contiguous()
            lines.append(epi_lines(a, v, slopes, config, transposed=True))
        xy, disp, conf, sides = merge_lines(lines, (h, w))

        if config.polish and len(xy):
            xy, disp, conf, kept = polish(lab_views(sweep_keys), sweep_uv, xy, disp, conf, config)
            sides = sides[kept]
    points = PointSet(xy.numpy(), disp.numpy(), conf.numpy(), sides.numpy())
    return consistent_points(points, config.consistency_k, config.consistency_threshold)


def consistent_points(points: PointSet, k: int, threshold: float) -> PointSet:
    """The points whose value lies within ``threshold`` of the median of their k nearest
    neighbours (in the image plane). Keeps everything when k = 0 or there are <= k points."""
    if k <= 0 or len(points) <= k:
        return points
    from scipy.spatial import cKDTree

    _, idx = cKDTree(points.xy).query(points.xy, k=k + 1)
    median = np.median(points.value[idx[:, 1:]], axis=1)
    return points.subset(np.abs(points.value - median) <= threshold)
