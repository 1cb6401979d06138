"""Points where the initial set has none, from an occlusion-robust plane sweep of the views.

Edge detectors (EPI lines, Sobel maxima, COLMAP features) leave gaps: weakly textured surfaces and,
above all, the background beside an occluding contour, where lines of the background end at the
occluder and no detector fires.  Diffusion fills such a gap with a ramp between the labels on its
rims, so the foreground bleeds into the background over the whole gap.  A plane sweep sees those
pixels directly: for each disparity d it warps the views into the reference view, takes the mean
absolute error over subsets of views that lie on one side of the reference (left or right, up
or down; a background pixel beside an occluder is hidden only on one side), averages it over a
small window, and keeps the best subset.  The winner-take-all disparity, refined by a parabola,
becomes a new point where it is unambiguous (its second-best minimum, away from the best, costs
clearly more).

    new = densify_points(problem, points, disp_range)

problem: a `diffdepth.photo.LightFieldProblem` (the reference view, the views and their offsets;
the costs are its `subset_errors` over `one_sided_subsets`), points the existing PointSet.
"""

from __future__ import annotations

import numpy as np

from diffdepth.config import SweepConfig
from diffdepth.photo import LightFieldProblem, one_sided_subsets, subset_errors
from diffdepth.types import PointSet


def sweep_levels(disp_range: tuple[float, float], config: SweepConfig) -> np.ndarray:
    """The disparities swept: float64 [L], from lo to hi."""
    lo, hi = float(min(disp_range)), float(max(disp_range))
    n = int(np.floor((hi - lo) / config.step)) + 1
    n = min(max(n, 3), config.max_levels)
    return np.linspace(lo, lo + max(hi - lo, 2 * config.step), n)


def sweep_disparity(
    problem: LightFieldProblem,
    disp_range: tuple[float, float],
    config: SweepConfig = SweepConfig(),  # noqa: B008 (frozen dataclass)
    at: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Winner-take-all disparity of reference pixels and its ambiguity ratio.

    at int [M, 2] (x, y) pixels to estimate (None: every pixel, results shaped [H, W]).
    Returns disparity float32 [M] (parabola-refined between levels) and ratio float32 [M] =
    (cost of the best minimum farther than ``exclude`` from the winner) / (cost of the
    winner), >= 1, inf where there is no other minimum, 1 where no subset of views sees the
    pixel.
    """
    h, w = problem.shape
    full = at is None
    if full:
        yy, xx = np.mgrid[0:h, 0:w]
        at = np.stack([xx.ravel(), yy.ravel()], axis=1)
    px = np.ascontiguousarray(np.asarray(at)[:, 0], dtype=np.int64)
    py = np.ascontiguousarray(np.asarray(at)[:, 1], dtype=np.int64)
    radius = config.window // 2
    need = np.zeros((h, w), dtype=bool)
    need[py, px] = True
    if radius > 0:
        from scipy.ndimage import binary_dilation

        need = binary_dilation(need, np.ones((config.window, config.window), dtype=bool))
    member = one_sided_subsets(problem.offsets)
    levels = sweep_levels(disp_range, config)
    volume = np.empty((len(levels), len(px)), np.float32)
    costs = np.empty((member.shape[0], h, w), np.float32)
    aggregate = window_aggregator(problem.ref, px, py, config)
    for i, d in enumerate(levels):
        subset_errors(
            problem.ref, problem.views, problem.offsets, member, float(d), need, out=costs
        )
        aggregate(costs, volume[i])
    disparity, ratio = winner_take_all(volume, levels, config.exclude, config.eps)
    if full:
        return disparity.reshape(h, w), ratio.reshape(h, w)
    return disparity, ratio


def window_aggregator(ref: np.ndarray, px: np.ndarray, py: np.ndarray, config: SweepConfig):
    """aggregate(costs, out): out float32 [M] = min over view subsets of the window mean of
    costs float32 [S, H, W] around the pixels (px[m], py[m]): a plain box of side
    ``config.window``, or with ``config.gamma`` > 0 adaptive support weights from the colours
    of ``ref`` [H, W, C] (`diffdepth.refine.aggregate_reference` is its definition)."""
    from diffdepth.points import _sweep_numba as k

    radius = config.window // 2
    if config.gamma <= 0:
        return lambda costs, out: k.box_min_at(costs, radius, px, py, out)
    from diffdepth import _refine_numba as kr

    ref_c = np.ascontiguousarray(ref, np.float32)
    if ref_c.ndim == 2:
        ref_c = ref_c[..., None]
    weights = np.empty((len(px), config.window**2), np.float32)
    kr.support_weights(ref_c, py, px, radius, 1.0 / config.gamma, weights)
    return lambda costs, out: kr.aggregate_min(costs, weights, py, px, radius, out)


def winner_take_all(
    volume: np.ndarray, levels: np.ndarray, exclude: float, eps: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The best level of each column of a cost volume and its ambiguity ratio.

    volume float32 [L, M] (costs of M pixels at L evenly spaced levels); exclude: the second
    minimum lies farther than this (in label units) from the best. Returns the label float32
    [M] (parabola-refined between levels) and ratio float32 [M] = (best cost farther than
    ``exclude``) / (best cost), inf where there is no other minimum, 1 where no view sees the
    pixel (best cost >= 1). eps is added to both costs of the ratio: on a texture-less
    surface (a black background) both are near 0 and their plain ratio is noise.
    """
    from diffdepth.points import _sweep_numba as k

    m = volume.shape[1]
    step = levels[1] - levels[0]
    n_exclude = max(1, int(round(exclude / step)))
    best_idx = np.empty(m, np.int64)
    best = np.empty(m, np.float32)
    second = np.empty(m, np.float32)
    k.best_two(volume, n_exclude, best_idx, best, second)
    i0 = np.clip(best_idx, 1, len(levels) - 2)
    cols = np.arange(m)
    cl, cm, cr = (volume[i0 + o, cols].astype(np.float64) for o in (-1, 0, 1))
    den = cl - 2.0 * cm + cr
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(den > 1e-12, 0.5 * (cl - cr) / den, 0.0)
        ratio = np.where(best + eps > 0, (second + eps) / (best + eps), np.inf)
        ratio = ratio.astype(np.float32)
    off = np.where(np.isfinite(off), np.clip(off, -0.5, 0.5), 0.0)
    label = (levels[i0] + off * step).astype(np.float32)
    ratio[best >= 1.0] = 1.0  # no subset of views sees the pixel: not an estimate
    return label, ratio


def grid_candidates(shape: tuple[int, int], points: PointSet, grid: int, min_distance: float):
    """int [M, 2] (x, y): pixels every ``grid`` px at least ``min_distance`` px from every
    point of ``points``."""
    from scipy.spatial import cKDTree

    h, w = shape
    yy, xx = np.mgrid[grid // 2 : h : grid, grid // 2 : w : grid]
    cand = np.stack([xx.ravel(), yy.ravel()], axis=1)
    if len(points) and len(cand):
        dist, _ = cKDTree(points.xy).query(cand)
        cand = cand[dist >= min_distance]
    return cand


def densify_points(
    problem: LightFieldProblem,
    points: PointSet,
    disp_range: tuple[float, float],
    config: SweepConfig = SweepConfig(),  # noqa: B008 (frozen dataclass)
) -> PointSet:
    """New points on a grid of the reference view, away from the existing points, labelled by
    the plane sweep where it is unambiguous.  Returns only the new points (confidence in
    0..1 from the ambiguity ratio); an empty set when none qualifies."""
    cand = grid_candidates(problem.shape, points, config.grid, config.min_distance)
    if len(cand) == 0:
        return PointSet(np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    disparity, ratio = sweep_disparity(problem, disp_range, config, at=cand)
    keep = ratio >= config.min_ratio
    conf = np.clip((ratio[keep] - 1.0) / (config.min_ratio * 2.0 - 1.0), 0.0, 1.0)
    return PointSet(cand[keep], disparity[keep], conf)
