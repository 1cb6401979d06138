"""Checks made before any computation: sizes, view counts, ground truth, and peak memory.

A run that cannot succeed is refused here, in a moment, with one line that says why and what
to change (InputError), instead of failing after minutes of work or with an allocator error.

The peak-memory estimates are fitted to the peak resident memory of runs of several sizes
(measured with `peak_rss_mib`, see ``benchmarks/bench_memory.py``) and err on the high side:
per pixel of the reference view a fixed part plus a part per view in the loss, and a part per
point. They count the increment over the process before the run (its libraries), and the
decoded views where they are not read yet.
"""

from __future__ import annotations

import math

import numpy as np

from diffdepth.io.errors import InputError, parameter
from diffdepth.io.memory import check_memory

#: views smaller than this (px, either side) are refused: the EPI filters and the solver's
#: grid hierarchy need a few pixels
MIN_SIDE = 8

# ---- peak memory (bytes), fitted with a margin --------------------------------------------
#: per pixel of the reference view, whatever the view count
LF_PER_PIXEL = 400.0
#: per pixel and per view of the central row and column, when the EPI detector runs
LF_EPI_PER_VIEW_PIXEL = 100.0
#: per pixel and per view of the longer of the central row and column, when the refinement's
#: orientation pass runs (the EPI structure tensor works on one grid line at a time: 52 bytes
#: measured on antinous)
LF_ORIENTATION_PER_VIEW_PIXEL = 60.0
#: per pixel and per view in the loss (crosshair: U + V - 2; all: U V - 1)
LF_PER_VIEW_PIXEL = 45.0
#: with --distance vgg: per pixel, and per pixel and view in the loss (64-channel features)
LF_VGG_PER_PIXEL = 1500.0
LF_VGG_PER_VIEW_PIXEL = 1100.0
#: with --distance vgg_warp: per pixel (the 64-channel activations of a chunk of views while
#: the features are computed), and per pixel, view and kept channel (the float32 features)
LF_VGG_WARP_PER_PIXEL = 3000.0
LF_VGG_WARP_PER_VIEW_CHANNEL_PIXEL = 5.0
#: per point (splatting windows, occlusion order, optimiser state, records)
PER_POINT = 1200.0
#: per pair of points closer than the occlusion cuts' radius, in one group of points
#: (`diffdepth.optimize.occlusion_cuts` searches pairs in groups of 20000 points)
PER_CUT_PAIR = 60.0
CUT_GROUP = 20000
#: EPI points per pixel when no points are given (dense textures reach about a quarter)
EPI_POINTS_PER_PIXEL = 0.3
#: plane-sweep points added per pixel, at most (one on a 3 px grid)
SWEEP_POINTS_PER_PIXEL = 1.0 / 9.0
#: multi-view: per pixel of the reference view, and per pixel of each other image (its
#: tensor, projections and warps of the views drawn into the loss)
MV_PER_PIXEL = 2800.0
MV_PER_IMAGE_PIXEL = 120.0


def lightfield_points_estimate(shape: tuple[int, int], n_points: int | None, densify: bool) -> int:
    """Points a light-field run will hold at its peak: the given ones (or an EPI detector's
    typical count) and, when densifying, the plane sweep's."""
    h, w = shape
    n = EPI_POINTS_PER_PIXEL * h * w if n_points is None else n_points
    if densify:
        n += SWEEP_POINTS_PER_PIXEL * h * w
    return int(n)


def cut_pairs_bytes(n_points: int, pixels: float, radius: float) -> float:
    """Memory of the occlusion cuts' pair search: the pairs of one group of points, with the
    points spread evenly over the image."""
    if radius <= 0 or n_points < 2:
        return 0.0
    density = n_points / max(pixels, 1.0)
    pairs = min(n_points, CUT_GROUP) * density * math.pi * radius**2 / 2
    return PER_CUT_PAIR * pairs


def lightfield_peak_bytes(
    grid: tuple[int, int],
    shape: tuple[int, int],
    n_points: int | None,
    config,
    views_loaded: bool = True,
) -> float:
    """Peak memory of a light-field run (bytes) over the process before it.

    grid (U, V), shape (H, W); n_points: points given, None for the EPI detector's; config:
    the `LightFieldConfig`; views_loaded: the decoded views are in memory already (else
    counted)."""
    rows, cols = grid
    h, w = shape
    px = float(h * w)
    views = rows * cols
    in_loss = views - 1 if config.views == "all" else rows + cols - 2
    per_px = LF_PER_PIXEL
    if n_points is None:
        per_px += LF_EPI_PER_VIEW_PIXEL * (rows + cols)
    if config.orientation_pass(grid):
        per_px += LF_ORIENTATION_PER_VIEW_PIXEL * max(rows, cols)
    if config.optimize or config.densify:  # the loss's views, or the sweep's
        per_px += LF_PER_VIEW_PIXEL * in_loss
    if config.optimize and config.loss.distance == "vgg":
        per_px += LF_VGG_PER_PIXEL + LF_VGG_PER_VIEW_PIXEL * in_loss
    if config.optimize and config.loss.distance == "vgg_warp":
        channels = config.loss.vgg_channels
        per_px += LF_VGG_WARP_PER_PIXEL + LF_VGG_WARP_PER_VIEW_CHANNEL_PIXEL * channels * in_loss
    n = lightfield_points_estimate(shape, n_points, _densifies(grid, config))
    total = px * per_px + PER_POINT * n
    total += cut_pairs_bytes(n, px, config.model.cut_radius)
    if not views_loaded:
        total += views * px * 12.0
    return total


def multiview_peak_bytes(
    shapes: list[tuple[int, int]], ref: int, n_points: int, config, images_loaded: bool = True
) -> float:
    """Peak memory of a multi-view run (bytes) over the process before it."""
    h, w = shapes[ref]
    others = sum(a * b for a, b in shapes) - h * w
    total = h * w * MV_PER_PIXEL + others * MV_PER_IMAGE_PIXEL
    n = n_points
    if config.optimize:  # the plane sweep's points (or the edge points of a wide baseline)
        n += int(SWEEP_POINTS_PER_PIXEL * h * w) if config.densify else 0
        n += config.densify_points + config.edge_points_wide
    total += PER_POINT * n
    if config.optimize:
        total += cut_pairs_bytes(n, float(h * w), config.model.cut_radius)
    if not images_loaded:
        total += sum(a * b for a, b in shapes) * 12.0
    return total


def _densifies(grid: tuple[int, int], config) -> bool:
    """Whether a light-field run of ``config`` on ``grid`` adds plane-sweep points."""
    return config.densify and grid[0] * grid[1] > 1


def _reduce_advice(config, multiview: bool = False) -> str:
    tips = []
    if not multiview and config.views == "all":
        tips.append("--views crosshair")
    if config.optimize and not multiview and config.loss.distance in ("vgg", "vgg_warp"):
        tips.append("--distance rgb")
    tips.append("smaller images (crop or downscale the views)")
    if not multiview:
        tips.append("fewer points")
    return "to need less: " + ", ".join(tips)


def check_view_size(shape: tuple[int, int], where: str) -> None:
    h, w = shape
    if h < MIN_SIDE or w < MIN_SIDE:
        raise InputError(
            f"{where}: views of {w} x {h} pixels are too small; expected at least "
            f"{MIN_SIDE} x {MIN_SIDE}"
        )


def check_lightfield_run(
    name: str,
    grid: tuple[int, int],
    shape: tuple[int, int],
    n_points: int | None,
    config,
    gt: np.ndarray | None = None,
    views_loaded: bool = True,
    has_gt: bool = False,
) -> None:
    """Refuse (InputError) a light-field run that cannot work: views too small, a single view
    where EPI points or the re-projection loss need two, a supervised run without ground
    truth, ground truth without a valid pixel where it is scored, more memory than there is.

    n_points: points given (None: the EPI detector finds them).  has_gt: the scene has a
    ground-truth file that is not read yet (gt None before the views are decoded)."""
    from diffdepth.metrics.disparity import DEFAULT_BORDER, valid_mask

    check_view_size(shape, name)
    rows, cols = grid
    if rows * cols < 2:
        if n_points is None:
            raise InputError(
                f"{name}: a single view; EPI points need at least two views in a row or "
                f"column: give the points ({parameter('points')})"
            )
        if config.optimize and not config.supervised:
            raise InputError(
                f"{name}: a single view; the re-projection loss needs at least two: "
                f"{parameter('optimize')} diffuses the points as they are"
            )
    if config.supervised and gt is None and not has_gt:
        raise InputError(
            f"{name}: {parameter('supervised')} needs ground truth, and this scene has none"
        )
    if gt is not None and not valid_mask(gt, DEFAULT_BORDER).any():
        raise InputError(
            f"{name}: the ground truth has no valid (finite) pixel inside the "
            f"{DEFAULT_BORDER}-pixel border the metrics leave out"
        )
    need = lightfield_peak_bytes(grid, shape, n_points, config, views_loaded)
    h, w = shape
    check_memory(
        need,
        f"{name}: a {rows} x {cols} light field of {w} x {h} views with about "
        f"{lightfield_points_estimate(shape, n_points, _densifies(grid, config))} points",
        _reduce_advice(config),
    )


def check_multiview_run(scene, ref: int, n_points: int, config) -> None:
    """Refuse (InputError) a multi-view run that cannot work: fewer than two images, a
    reference image too small, more memory than there is."""
    if len(scene) < 2:
        raise InputError(f"{scene.source}: a multi-view run needs at least two images")
    check_view_size(scene.shape(ref), f"{scene.source}: {scene.names[ref]}")
    shapes = [scene.shape(i) for i in range(len(scene))]
    need = multiview_peak_bytes(shapes, ref, n_points, config)
    h, w = shapes[ref]
    check_memory(
        need,
        f"{scene.source}: depth of {scene.names[ref]} ({w} x {h}) from {len(scene)} images",
        _reduce_advice(config, multiview=True),
    )
