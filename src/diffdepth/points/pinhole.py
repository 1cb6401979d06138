"""Photo-consistency of calibrated pinhole views: view selection, plane sweep, support.

The light-field tools (`diffdepth.points.sweep`, `diffdepth.refine`) measure labels in pixels of
disparity per view step. `PinholeViews` puts a reference image and its selected views into the
same terms: the label is inverse depth rho, and ``px_per_rho`` is how far (px) a reference pixel
moves in the nearest view per unit of rho, so ``disparity = rho * px_per_rho`` is the disparity
of the nearest view (exactly the stereo disparity of a rectified pair). ``offsets`` [K, 2] is,
per view, the direction the pixel moves as rho decreases, in units of that nearest motion: for a
rectified row of cameras it is the light-field offset (u, v) = (column step, 0); it decides the
one-sided view subsets (a background pixel beside an occluder is hidden on one side only).

    pv = PinholeViews.from_scene(scene, ref, views=select_views(scene, ref))
    disparity, ratio = pv.sweep(lo, hi, SweepConfig(step=0.25))
    new = densify_pinhole(pv, points_rho, rho_range)
    support = photo_support(pv, rho_map)

Warping, its errors and the visibility z-buffer are the photo layer's (`diffdepth.photo.pinhole`,
compiled, with plain torch definitions beside them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffdepth.config import SupportConfig, SweepConfig
from diffdepth.photo import one_sided_subsets
from diffdepth.photo.pinhole import (
    pinhole_errors,
    pinhole_subset_means,
    pinhole_visibility,
    stack_views,
    warp_matrices,
)
from diffdepth.points.sweep import grid_candidates, window_aggregator, winner_take_all
from diffdepth.types import MultiViewScene, PointSet


def select_views(
    scene: MultiViewScene,
    ref: int,
    max_views: int = 4,
    max_angle: float = 60.0,
    max_baseline_ratio: float | None = None,
) -> list[int]:
    """The views to compare image ``ref`` with: at most ``max_views`` whose viewing direction is
    within ``max_angle`` degrees of the reference's, the most similar first (ties, as in a
    rectified row: the nearest camera first). Views with the reference's own centre are left out
    (no baseline). Falls back to the nearest view by angle when none qualifies.

    max_baseline_ratio: also leave out views whose baseline (distance between the centres) is
    more than this many times the shortest baseline of the qualifying views (None: keep them).
    A view at twice the baseline sees twice the disparity: its matching cost repeats at half
    the period in px of the nearest view, and on a Tsukuba row it made the map worse (bad
    pixels > 1 px with the views at columns 2 and 4: 3.88 %, with 1 and 5 added: 5.64 %)."""
    n = len(scene)
    axis = scene.R[:, 2, :]  # viewing directions (world), rows of R are camera axes
    cos = np.clip(axis @ axis[ref], -1.0, 1.0)
    angle = np.degrees(np.arccos(cos))
    centres = np.array([scene.centre(i) for i in range(n)])
    dist = np.linalg.norm(centres - centres[ref], axis=1)
    scale = max(float(dist.max()), 1e-12)
    cand = [i for i in range(n) if i != ref and dist[i] > 1e-9 * scale]
    order = sorted(cand, key=lambda i: (round(float(angle[i]), 3), float(dist[i])))
    chosen = [i for i in order if angle[i] <= max_angle]
    if chosen and max_baseline_ratio is not None:
        shortest = min(float(dist[i]) for i in chosen)
        chosen = [i for i in chosen if dist[i] <= max_baseline_ratio * shortest]
    return chosen[:max_views] or order[:1]


@dataclass
class PinholeViews:
    """A reference image and the calibrated views it is compared with (see the module doc).

    ref:        float32 [H, W, C] in 0..1
    views:      float32 [K, Hmax, Wmax, C] (padded); sizes int64 [K, 2] (h, w)
    A, b:       float64 [K, 3, 3], [K, 3]: reference pixel p at inverse depth rho lands at the
                homogeneous point A_k p + rho b_k of view k
    px_per_rho: pixels the reference pixel moves in the nearest view per unit of rho
    offsets:    float64 [K, 2], the light-field offset of every view (see the module doc)
    indices:    the scene indices of the views
    """

    ref: np.ndarray
    views: np.ndarray
    sizes: np.ndarray
    A: np.ndarray
    b: np.ndarray
    px_per_rho: float
    offsets: np.ndarray
    indices: list[int]

    @classmethod
    def from_scene(
        cls, scene: MultiViewScene, ref: int, views: list[int], rho: float = 0.0
    ) -> PinholeViews:
        """rho: a typical inverse depth of the scene, where the motions are measured (the image
        centre at that rho)."""
        if not views:
            raise ValueError("PinholeViews: need at least one view besides the reference")
        h, w = scene.shape(ref)
        stack, sizes = stack_views([scene.images[k] for k in views])
        A, b = (np.stack(m) for m in zip(*(warp_matrices(scene, ref, k) for k in views)))
        # motion of the image centre per unit rho: d/drho of (q_xy / q_z), q = A p + rho b
        p = np.array([(w - 1) / 2.0, (h - 1) / 2.0, 1.0])
        q = A @ p + rho * b  # [K, 3]
        motion = (b[:, :2] * q[:, 2:3] - q[:, :2] * b[:, 2:3]) / q[:, 2:3] ** 2  # [K, 2]
        size = np.linalg.norm(motion, axis=1)
        unit = float(size[size > 0].min()) if np.any(size > 0) else 1.0
        return cls(
            np.ascontiguousarray(scene.images[ref], np.float32),
            stack,
            sizes,
            A,
            b,
            unit,
            -motion / unit,
            list(views),
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.ref.shape[:2]

    def subsets(self) -> np.ndarray:
        """bool [S, K]: the one-sided view subsets."""
        return one_sided_subsets(self.offsets)

    def errors(self, rho: np.ndarray, need: np.ndarray | None = None):
        """Per-view errors float32 [K, H, W] and seen bool [K, H, W] at inverse depth rho [H, W]
        (compiled kernel; only pixels with need; err is 0 where not needed and not to be used
        where not seen)."""
        rho = np.asarray(rho, np.float64)
        return pinhole_errors(self.ref, self.views, self.sizes, self.A, self.b, rho, need)

    def subset_costs(self, rho, need, member, out) -> None:
        """out float32 [S, H, W]: mean error over the views of each subset that see the pixel
        at inverse depth rho (100 where none does)."""
        err, seen = self.errors(rho, need)
        pinhole_subset_means(err, seen, member, out)

    def levels(self, lo: float, hi: float, config: SweepConfig) -> np.ndarray:
        """Inverse depths swept, float64 [L]: lo..hi in steps of ``config.step`` px of the
        view that moves most (at most ``config.max_levels``)."""
        fastest = float(np.abs(self.offsets).max()) * self.px_per_rho
        lo, hi = max(float(lo), 0.0), float(hi)
        n = int(np.ceil((hi - lo) * fastest / config.step)) + 1
        n = min(max(n, 3), config.max_levels)
        return np.linspace(lo, max(hi, lo + 1e-12), n)

    def sweep(
        self,
        lo: float,
        hi: float,
        config: SweepConfig,
        at: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Winner-take-all inverse depth between lo and hi at the pixels ``at`` int [M, 2]
        (x, y) (None: every pixel, results [H, W]) and its ambiguity ratio, as
        `diffdepth.points.sweep.sweep_disparity` (``config.exclude`` in px of the nearest
        view)."""
        from scipy.ndimage import binary_dilation

        h, w = self.shape
        full = at is None
        if full:
            yy, xx = np.mgrid[0:h, 0:w]
            at = np.stack([xx.ravel(), yy.ravel()], axis=1)
        px = np.ascontiguousarray(at[:, 0], np.int64)
        py = np.ascontiguousarray(at[:, 1], np.int64)
        radius = config.window // 2
        need = np.zeros((h, w), bool)
        need[py, px] = True
        if radius > 0:
            need = binary_dilation(need, np.ones((config.window,) * 2, bool))
        member = self.subsets()
        levels = self.levels(lo, hi, config)
        volume = np.empty((len(levels), len(px)), np.float32)
        costs = np.empty((len(member), h, w), np.float32)
        aggregate = window_aggregator(self.ref, px, py, config)
        for i, r in enumerate(levels):
            self.subset_costs(r, need, member, costs)
            aggregate(costs, volume[i])
        rho, ratio = winner_take_all(
            volume, levels, config.exclude / self.px_per_rho, eps=config.eps
        )
        if full:
            return rho.reshape(h, w), ratio.reshape(h, w)
        return rho, ratio


def densify_pinhole(
    pv: PinholeViews,
    points: PointSet,
    rho_range: tuple[float, float],
    config: SweepConfig,
) -> PointSet:
    """New points (value = inverse depth) on a grid of the reference view away from the existing
    points, where the plane sweep between rho_range is unambiguous (`densify_points` of the
    light field, for calibrated cameras). Confidence in 0..1 from the ambiguity ratio."""
    cand = grid_candidates(pv.shape, points, config.grid, config.min_distance)
    if len(cand) == 0:
        return PointSet(np.zeros((0, 2)), np.zeros(0), np.zeros(0))
    rho, ratio = pv.sweep(rho_range[0], rho_range[1], config, at=cand)
    keep = ratio >= config.min_ratio
    conf = np.clip((ratio[keep] - 1.0) / (config.min_ratio * 2.0 - 1.0), 0.0, 1.0)
    return PointSet(cand[keep], rho[keep], conf)


def visibility(pv: PinholeViews, rho: np.ndarray, tol: float = 0.02) -> np.ndarray:
    """bool [K, H, W]: reference pixel seen by view k at inverse depth rho [H, W]: in front of
    camera k, rounding into its image, and not hidden by another reference pixel that lands on
    the same pixel of view k nearer to it (z-buffer on the depth in camera k, relative margin
    ``tol``; `diffdepth.photo.pinhole.pinhole_visibility`)."""
    rho = np.asarray(rho, np.float64)
    return pinhole_visibility(rho, pv.sizes, pv.A, pv.b, tol=tol, margin=0.5).numpy()


def fill_hidden(rho: np.ndarray, hidden: np.ndarray, direction: np.ndarray, reach: int = 64):
    """Background fill of pixels no view sees (half-occlusions beside an occluder): each hidden
    pixel takes the smaller inverse depth (the farther surface) of the nearest seen pixels on
    either side along ``direction`` [2] (x, y; the motion of the nearest view), up to ``reach``
    px away. rho [H, W], hidden bool [H, W] -> filled copy of rho."""
    out = np.array(rho, np.float64)
    ys, xs = np.nonzero(hidden)
    if len(ys) == 0:
        return out
    h, w = rho.shape
    d = np.asarray(direction, np.float64)
    d = d / max(float(np.hypot(*d)), 1e-12)
    best = np.full(len(ys), np.inf)
    for sign in (1.0, -1.0):
        found = np.full(len(ys), np.nan)
        for s in range(1, reach + 1):
            todo = np.isnan(found)
            if not todo.any():
                break
            x = np.round(xs[todo] + sign * s * d[0]).astype(np.int64)
            y = np.round(ys[todo] + sign * s * d[1]).astype(np.int64)
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            hit = np.zeros(todo.sum(), bool)
            hit[ok] = ~hidden[y[ok], x[ok]]
            idx = np.flatnonzero(todo)[hit]
            found[idx] = rho[y[hit], x[hit]]
        best = np.fmin(best, np.where(np.isnan(found), np.inf, found))
    out[ys, xs] = np.where(np.isfinite(best), best, out[ys, xs])
    return out


def cross_check(
    scene: MultiViewScene,
    ref: int,
    rho: np.ndarray,
    views: list[int],
    rho_range: tuple[float, float],
    config: SweepConfig,
    max_error: float = 1.0,
) -> np.ndarray:
    """Left-right consistency of an inverse-depth map of image ``ref`` with the plane sweep of
    each view in ``views`` (the reference being that view's only partner).

    Reference pixel p with inverse depth rho lands in view k at (u, v) with depth z_k; it is
    consistent with view k when the sweep of view k at (u, v) gives an inverse depth within
    ``max_error`` px (of disparity between k and the reference) of 1 / z_k. A pixel next to an
    occluder whose label spread from the occluder lands on the farther surface in view k, where
    view k's own sweep sees that surface: the check fails there. Returns bool [H, W]: consistent
    with at least one view. rho_range and config: the sweep (in the reference's units, used for
    every view)."""
    h, w = rho.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    p = np.stack([xx, yy, np.ones_like(xx)], -1)
    rho = np.asarray(rho, np.float64)
    ok = np.zeros((h, w), bool)
    for k in views:
        back = PinholeViews.from_scene(scene, k, [ref], rho=float(np.median(rho)))
        rho_k, _ = back.sweep(rho_range[0], rho_range[1], config)
        A, b = warp_matrices(scene, ref, k)
        q = p @ A.T + rho[..., None] * b
        hk, wk = scene.shape(k)
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = q[..., 0] / q[..., 2], q[..., 1] / q[..., 2]
            inv_zk = rho / q[..., 2]
        inside = (q[..., 2] > 1e-12) & (u > -0.5) & (v > -0.5) & (u < wk - 0.5) & (v < hk - 0.5)
        ui = np.clip(np.round(np.where(inside, u, 0)).astype(np.int64), 0, wk - 1)
        vi = np.clip(np.round(np.where(inside, v, 0)).astype(np.int64), 0, hk - 1)
        err = np.abs(rho_k[vi, ui] - inv_zk) * back.px_per_rho
        ok |= inside & (err <= max_error)
    return ok


def photo_support(
    pv: PinholeViews,
    rho: np.ndarray,
    config: SupportConfig = SupportConfig(),  # noqa: B008 (frozen dataclass)
) -> tuple[np.ndarray, np.ndarray]:
    """Which pixels' inverse depths rho [H, W] the views support, and how strongly.

    A view k supports a pixel when it sees it (`visibility`), its colour there matches (the
    error averaged over an adaptive-support window, weights exp(-sum_c |I_q - I_p| / gamma),
    at most ``max_error``), and the match is discriminative: moving the depth by ``shift`` px
    of the nearest view, either way, costs at least ``min_contrast`` more. A texture-less
    pixel (a black background) matches at every depth and so has no support; the adaptive
    window keeps a background pixel beside a textured silhouette from borrowing its texture.

    Returns supported bool [H, W] (at least min(min_views, K) supporting views) and confidence
    float32 [H, W] in 0..1: the mean over the min(min_views, K) best views of
    clip(contrast / (2 min_contrast), 0, 1), 0 for a view that does not match or see the pixel.
    """
    from diffdepth import _refine_numba as kr

    h, w = pv.shape
    K = len(pv.indices)
    rho = np.asarray(rho, np.float64)
    vis = visibility(pv, rho)
    r = config.window // 2
    py, px = (a.ravel().astype(np.int64) for a in np.mgrid[0:h, 0:w])
    weights = np.empty((len(px), config.window**2), np.float32)
    kr.support_weights(pv.ref, py, px, r, 1.0 / config.gamma, weights)

    def aggregated(rho_map: np.ndarray) -> np.ndarray:  # [K, H, W]
        err, seen = pv.errors(rho_map)
        err = np.where(seen, err, 1.0).astype(np.float32)
        out = np.empty((K, h * w), np.float32)
        for k in range(K):
            kr.aggregate_min(err[k : k + 1], weights, py, px, r, out[k])
        return out.reshape(K, h, w)

    delta = config.shift / pv.px_per_rho
    c0 = aggregated(rho)
    c_other = np.minimum(aggregated(rho + delta), aggregated(np.maximum(rho - delta, 0.0)))
    contrast = c_other - c0
    good = vis & (c0 <= config.max_error)
    support = good & (contrast >= config.min_contrast)
    need = min(config.min_views, K)
    strength = np.where(good, np.clip(contrast / (2 * config.min_contrast), 0.0, 1.0), 0.0)
    best = -np.sort(-strength, axis=0)[:need]
    return support.sum(0) >= need, best.mean(0).astype(np.float32)


def validity_mask(
    supported: np.ndarray,
    seen: np.ndarray,
    closing: int = 3,
    max_hole: float = 0.002,
    min_area: int = 64,
) -> np.ndarray:
    """The pixels a map can be trusted at: the supported pixels, gaps up to ``closing`` px
    closed, enclosed holes up to ``max_hole`` of the image filled (a texture-less patch inside
    an object; a larger one, such as background seen between two parts of an object, stays
    out), regions smaller than ``min_area`` px dropped, and pixels no view sees (``seen``
    False) left out. supported, seen bool [H, W] -> bool [H, W]."""
    from scipy import ndimage

    disk = np.hypot(*np.mgrid[-closing : closing + 1, -closing : closing + 1]) <= closing
    mask = ndimage.binary_closing(supported, disk, border_value=0)
    holes, n = ndimage.label(ndimage.binary_fill_holes(mask) & ~mask)
    if n:
        small = np.bincount(holes.ravel()) <= max_hole * mask.size
        small[0] = False
        mask |= small[holes]
    mask &= seen
    labels, n = ndimage.label(mask)
    if n:
        area = np.bincount(labels.ravel())
        keep = area >= min_area
        keep[0] = False
        mask = keep[labels]
    return mask
