"""EPI line detection: synthetic light fields with exact disparity, and the real scenes."""

import numpy as np
import pytest
import torch

from diffdepth.image import gaussian_blur
from diffdepth.io.lightfield import read_lightfield
from diffdepth.points._epi_ops import filter_bank, lab, slope_bank
from diffdepth.points._epi_refine import estimate_disparity_range
from diffdepth.points.epi import EPIConfig, detect_epi_points
from diffdepth.synth.lightfield import make_lightfield
from diffdepth.types import PointSet


def _errors(points: PointSet, gt: np.ndarray) -> np.ndarray:
    """|disparity - gt at the point's nearest pixel| per point (NaN where gt is unknown)."""
    h, w = gt.shape
    xi = np.clip(np.round(points.xy[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(points.xy[:, 1]).astype(int), 0, h - 1)
    return np.abs(points.value - gt[yi, xi])


@pytest.fixture(scope="module")
def synthetic():
    return make_lightfield(seed=3)


@pytest.fixture(scope="module")
def synthetic_points(synthetic):
    return detect_epi_points(synthetic.views, synthetic.ref, synthetic.disp_range)


def test_synthetic_points_have_the_true_disparity(synthetic, synthetic_points):
    pts = synthetic_points
    assert isinstance(pts, PointSet)
    assert pts.xy.dtype == np.float32 and pts.value.dtype == np.float32
    assert pts.confidence is not None and len(pts.confidence) == len(pts)
    assert np.all((pts.confidence >= 0) & (pts.confidence <= 1))
    h, w = synthetic.gt.shape
    assert len(pts) > 0.05 * h * w
    err = _errors(pts, synthetic.gt)
    assert np.median(err) < 0.02
    assert np.mean(err < 0.07) > 0.85


def test_both_signs_of_disparity_are_recovered(synthetic, synthetic_points):
    pts = synthetic_points
    h, w = synthetic.gt.shape
    xi = np.clip(np.round(pts.xy[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(pts.xy[:, 1]).astype(int), 0, h - 1)
    gt = synthetic.gt[yi, xi]
    near, far = gt > 0.8, gt < -0.8  # the disc (1.3) and the background plane (about -1.4)
    assert near.sum() > 50 and far.sum() > 500
    assert np.median(np.abs(pts.value[near] - gt[near])) < 0.05
    assert np.median(np.abs(pts.value[far] - gt[far])) < 0.05


def test_points_come_from_row_and_column_epis(synthetic_points):
    # A row-EPI point sits on an image row (integer y, sub-pixel x); a column-EPI point on an
    # image column.
    xy = synthetic_points.xy
    on_row = np.isclose(xy[:, 1], np.round(xy[:, 1]), atol=1e-4)
    on_col = np.isclose(xy[:, 0], np.round(xy[:, 0]), atol=1e-4)
    assert (on_row & ~on_col).sum() > 300
    assert (on_col & ~on_row).sum() > 300


def test_one_point_per_pixel(synthetic_points):
    key = np.round(synthetic_points.xy).astype(int)
    assert len(np.unique(key, axis=0)) == len(key)


def test_depth_edge_points_take_the_occluding_side(synthetic, synthetic_points):
    # At a depth edge the line has the nearer surface's disparity; the point must land on a
    # pixel of that surface, not on the background across the edge.
    from scipy import ndimage

    gt = synthetic.gt
    edge = (ndimage.maximum_filter(gt, 3) - ndimage.minimum_filter(gt, 3)) > 0.5
    pts = synthetic_points
    h, w = gt.shape
    xi = np.clip(np.round(pts.xy[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(pts.xy[:, 1]).astype(int), 0, h - 1)
    at_edge = edge[yi, xi]
    assert at_edge.sum() > 50
    err = np.abs(pts.value - gt[yi, xi])[at_edge]
    assert np.mean(err < 0.1) > 0.7


def test_plane_sweep_polish_keeps_points_accurate(synthetic):
    config = EPIConfig(polish=True)
    pts = detect_epi_points(synthetic.views, synthetic.ref, synthetic.disp_range, config)
    err = _errors(pts, synthetic.gt)
    assert len(pts) > 1000
    assert np.median(err) < 0.01
    assert np.mean(err < 0.07) > 0.8


def test_disparity_range_is_estimated_without_disp_range(synthetic):
    pts = detect_epi_points(synthetic.views, synthetic.ref, None)
    err = _errors(pts, synthetic.gt)
    assert len(pts) > 1000
    assert np.median(err) < 0.02
    assert pts.value.min() < -1.0 and pts.value.max() > 1.0


def test_range_estimate_covers_the_scene(synthetic):
    views = synthetic.views
    r0, c0 = synthetic.ref
    keys = [(r0, c) for c in range(views.shape[1])] + [
        (r, c0) for r in range(views.shape[0]) if r != r0
    ]
    rgb = torch.from_numpy(np.stack([views[r, c] for r, c in keys])).permute(0, 3, 1, 2)
    uv = np.array([(c - c0, r - r0) for r, c in keys], np.float32)
    lo, hi = estimate_disparity_range(lab(rgb), uv, bound=8.0)
    assert lo <= np.nanmin(synthetic.gt) + 0.1 and hi >= np.nanmax(synthetic.gt) - 0.1
    assert lo > -3.0 and hi < 3.0


@pytest.mark.parametrize(("grid", "max_median"), [((1, 9), 0.02), ((9, 1), 0.02), ((1, 5), 0.1)])
def test_a_single_row_or_column_of_views(grid, max_median):
    lf = make_lightfield(grid=grid, seed=1)
    pts = detect_epi_points(lf.views, None, lf.disp_range, EPIConfig.few_views())
    assert len(pts) > 300
    # Only one EPI direction exists: every point sits on an image row (or column).
    along = pts.xy[:, 1] if grid[0] == 1 else pts.xy[:, 0]
    assert np.allclose(along, np.round(along), atol=1e-4)
    assert np.median(_errors(pts, lf.gt)) < max_median


def test_slope_bank_is_denser_near_zero_and_spans_the_range():
    s = slope_bank(-3.0, 2.0, 60, 1.0)
    assert len(s) == 60 and np.all(np.diff(s) > 0)
    assert np.isclose(s[0], -3.0) and np.isclose(s[-1], 2.0)
    step = np.diff(s)
    assert step[np.argmin(np.abs(s[:-1]))] < 0.8 * step[0]
    assert np.allclose(slope_bank(1.0, 5.0, 5, 0.0), [1, 2, 3, 4, 5])


def test_filter_bank_peaks_at_the_true_slope():
    # One vertical step edge moving by -d u pixels in view u: the bank's strongest response
    # at the edge is the slope d.
    d_true = 0.7
    u = np.arange(-3, 4, dtype=np.float32)
    x = np.arange(40, dtype=np.float32)
    rows = [1.0 / (1.0 + np.exp(-(x - (20.3 - d_true * uk)) * 2.0)) for uk in u]
    a = torch.from_numpy(np.stack(rows))[:, None, None, :].expand(-1, 1, 3, -1).contiguous()
    slopes = np.linspace(-2, 2, 81)
    resp = filter_bank(a, u, slopes)  # [S, 3, 39]
    s_best = slopes[int(resp[:, 1, 20].argmax())]
    assert abs(s_best - d_true) < 0.051
    assert int(resp[int(resp[:, 1, 20].argmax()), 1].argmax()) == 20


def test_blur_and_lab_keep_shapes_and_grey_axis():
    rgb = torch.full((2, 3, 8, 9), 0.5)
    out = lab(gaussian_blur(rgb, 0.85))
    assert out.shape == rgb.shape
    assert torch.allclose(out[:, 1:], torch.zeros(2, 2, 8, 9), atol=1e-4)  # grey: a = b = 0
    assert torch.allclose(out[:, 0], torch.full((2, 8, 9), 0.5339), atol=1e-3)  # L*/100, sRGB 0.5


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="U, V, H, W, 3"):
        detect_epi_points(np.zeros((9, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="two views"):
        detect_epi_points(np.zeros((1, 1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="outside"):
        detect_epi_points(np.zeros((3, 3, 32, 32, 3), np.float32), ref=(3, 0))


def test_antinous_dense_and_accurate(antinous):
    lf = read_lightfield(antinous)
    pts = detect_epi_points(lf.views, lf.ref, lf.disp_range)
    err = _errors(pts, lf.gt)
    assert len(pts) >= 15_000
    assert np.median(err) <= 0.04
    assert np.mean(err <= 0.07) >= 0.75
    # Coverage: points in nearly every 32 x 32 tile, the weakly textured wall included.
    h, w = lf.gt.shape
    tiles = np.zeros((h // 32 + 1, w // 32 + 1), bool)
    tiles[(pts.xy[:, 1] // 32).astype(int), (pts.xy[:, 0] // 32).astype(int)] = True
    assert tiles[: h // 32, : w // 32].mean() > 0.95


def test_tsukuba_single_row_wide_baseline(tsukuba):
    lf = read_lightfield(
        tsukuba, grid=(1, 5), gt="truedisp.row3.col3.pgm", gt_scale=1 / 16, gt_invalid_zero=True
    )
    pts = detect_epi_points(lf.views, lf.ref, None, EPIConfig.few_views())
    err = _errors(pts, lf.gt)
    err = err[np.isfinite(err)]
    assert len(pts) > 3000
    assert np.allclose(pts.xy[:, 1], np.round(pts.xy[:, 1]), atol=1e-4)
    assert np.mean(err < 1.0) > 0.85  # gt is quantised to whole pixels


def test_lytro_real_capture(lytro_2067):
    from diffdepth.photo import LightFieldProblem, subset_errors

    lf = read_lightfield(lytro_2067)
    pts = detect_epi_points(lf.views, lf.ref, None)
    assert len(pts) > 10_000
    assert np.all(np.isfinite(pts.value))
    lo, hi = np.percentile(pts.value, [1, 99])
    assert -3.0 < lo < hi < 3.0
    # no ground truth: the disparities must be photo-consistent across the crosshair views,
    # far more than the same values shuffled among the points, or a fronto-parallel plane
    problem = LightFieldProblem.from_lightfield(lf)
    h, w = problem.shape
    x = np.clip(np.round(pts.xy[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(pts.xy[:, 1]).astype(int), 0, h - 1)
    need = np.zeros((h, w), bool)
    need[y, x] = True
    every_view = np.ones((1, len(problem)), bool)

    def median_error(values):
        D = np.zeros((h, w))
        D[y, x] = values
        e = subset_errors(problem.ref, problem.views, problem.offsets, every_view, D, need)[0]
        return np.median(e[y, x])

    found = median_error(pts.value)
    shuffled = median_error(np.random.default_rng(0).permutation(pts.value))
    assert found < 0.7 * shuffled and found < 0.7 * median_error(np.zeros(len(pts)))


def test_consistency_check_drops_isolated_wrong_disparities():
    from diffdepth.points.epi import consistent_points
    from diffdepth.types import PointSet

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, size=(400, 2))
    value = 0.5 + 0.002 * xy[:, 0]  # a slanted plane
    value[7] += 0.4  # one outlier
    kept = consistent_points(PointSet(xy, value), k=8, threshold=0.1)
    assert len(kept) == 399
    assert not np.any(np.isclose(kept.value, value[7]))
    assert len(consistent_points(PointSet(xy, value), k=0, threshold=0.1)) == 400


def _strips_on_plain_background() -> tuple:
    """Textured vertical strips 1, 2 and 3 px wide at disparities 1.2, 0.6 and 1.5 in front of
    a background plane (-0.8) without any texture: 9x9 views of 64x96."""
    from diffdepth.synth.lightfield import Surface

    surfaces = [Surface("plane", (-0.8, 0.0, 0.0), contrast=0.0, color=(0.5, 0.5, 0.52))]
    for x, half, d in ((20.0, 0.5, 1.2), (48.0, 1.0, 0.6), (76.0, 1.5, 1.5)):
        surfaces.append(Surface("strip", (d, 0.0, 0.0), (x, 2.0, x, 62.0, half), 0.3))
    return make_lightfield(64, 96, seed=1, surfaces=surfaces), surfaces


def test_thin_strip_points_land_on_the_strip_not_beside_it():
    # Outside a strip the untextured background stays constant along the strip's EPI line,
    # so the colour test alone puts both edges' points beside the strip; the ridge rule
    # (a line of the same slope a few px away on one side only) puts them on it.
    lf, _ = _strips_on_plain_background()
    rows = slice(10, 54)

    def on_strip(config: EPIConfig) -> float:
        pts = detect_epi_points(lf.views, lf.ref, lf.disp_range, config)
        fg = pts.value > 0.0
        fg &= (pts.xy[:, 1] >= rows.start) & (pts.xy[:, 1] < rows.stop)
        assert fg.sum() > 100
        return float(np.mean(_errors(pts.subset(fg), lf.gt) < 0.07))

    assert on_strip(EPIConfig()) > 0.9
    assert on_strip(EPIConfig(ridge_width=0.0)) < 0.7


def test_points_know_the_side_across_their_edge(synthetic, synthetic_points):
    # sides: bits of the pixel's neighbours across its edges; at depth edges they point to
    # the farther surface.
    from scipy import ndimage

    from diffdepth.types import SIDE_STEPS

    pts = synthetic_points
    assert pts.sides is not None and pts.sides.shape == (len(pts),)
    assert (pts.sides > 0).all() and (pts.sides < 16).all()
    gt = synthetic.gt
    h, w = gt.shape
    edge = (ndimage.maximum_filter(gt, 3) - ndimage.minimum_filter(gt, 3)) > 0.5
    p = np.clip(np.round(pts.xy).astype(int), 1, [w - 2, h - 2])
    own = gt[p[:, 1], p[:, 0]]
    at_edge = edge[p[:, 1], p[:, 0]] & (np.abs(pts.value - own) < 0.1)
    farther, total = 0, 0
    for bit, (dx, dy) in enumerate(SIDE_STEPS):
        s = at_edge & ((pts.sides >> bit) & 1 == 1)
        beyond = gt[p[s, 1] + dy, p[s, 0] + dx]
        farther += int((beyond < pts.value[s] - 0.5).sum())
        total += int(s.sum())
    assert total > 50 and farther / total > 0.6
    assert pts.subset(np.arange(5)).sides.shape == (5,)
