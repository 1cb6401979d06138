"""The plane sweep and the points it adds, on synthetic light fields with exact disparity."""

from __future__ import annotations

import numpy as np
import pytest

from diffdepth.photo import LightFieldProblem
from diffdepth.points.sweep import SweepConfig, densify_points, sweep_disparity, sweep_levels
from diffdepth.synth import make_lightfield
from diffdepth.synth.lightfield import Surface
from diffdepth.types import PointSet


@pytest.fixture(scope="module")
def scene():
    return make_lightfield(height=48, width=72, grid=(5, 5))


def test_sweep_recovers_disparity_of_textured_pixels(scene):
    d, ratio = sweep_disparity(LightFieldProblem.from_lightfield(scene), scene.disp_range)
    assert d.shape == ratio.shape == scene.gt.shape and d.dtype == np.float32
    err = np.abs(d - scene.gt)[4:-4, 4:-4]
    assert np.median(err) < 0.03
    confident = (ratio >= 1.1)[4:-4, 4:-4]
    assert confident.mean() > 0.5
    assert np.mean(err[confident] < 0.1) > 0.9


def test_one_sided_views_see_the_background_beside_an_occluder():
    # a near square on a far textured plane: background pixels just left of the square are
    # hidden in the views to the left and seen in the views to the right
    h, w = 40, 64
    surfaces = [
        Surface("plane", (-1.0, 0.0, 0.0)),
        Surface("rect", (1.5, 0.0, 0.0), (28.0, 10.0, 48.0, 30.0)),
    ]
    lf = make_lightfield(height=h, width=w, grid=(1, 7), surfaces=surfaces)
    band = (slice(14, 26), slice(22, 27))  # background, within 6 px left of the square
    assert np.allclose(lf.gt[band], -1.0)
    d, _ = sweep_disparity(LightFieldProblem.from_lightfield(lf, "all"), (-2.0, 2.5))
    assert np.median(np.abs(d[band] + 1.0)) < 0.1


def test_sweep_at_chosen_pixels_matches_the_full_sweep(scene):
    problem = LightFieldProblem.from_lightfield(scene)
    full_d, full_r = sweep_disparity(problem, scene.disp_range)
    at = np.array([[5, 7], [30, 20], [71, 47], [0, 0]])
    d, r = sweep_disparity(problem, scene.disp_range, at=at)
    np.testing.assert_allclose(d, full_d[at[:, 1], at[:, 0]], atol=1e-6)
    np.testing.assert_allclose(r, full_r[at[:, 1], at[:, 0]], rtol=1e-5)


def test_densify_fills_gaps_only(scene):
    h, w = scene.gt.shape
    # existing points on the left half only
    yy, xx = np.mgrid[0:h:2, 0 : w // 2 : 2]
    xy = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
    existing = PointSet(xy, scene.gt[yy.ravel(), xx.ravel()])
    config = SweepConfig(min_distance=3.0)
    problem = LightFieldProblem.from_lightfield(scene)
    new = densify_points(problem, existing, scene.disp_range, config)
    assert len(new) > 0 and new.confidence is not None
    dist = np.min(np.linalg.norm(new.xy[:, None, :] - existing.xy[None], axis=2), axis=1)
    assert dist.min() >= 3.0
    assert new.xy[:, 0].min() > w // 2 - 3  # nothing added where the points already are
    x, y = new.xy[:, 0].astype(int), new.xy[:, 1].astype(int)
    assert np.median(np.abs(new.value - scene.gt[y, x])) < 0.05
    assert np.all((new.confidence >= 0) & (new.confidence <= 1))


def test_densify_with_no_gap_adds_nothing(scene):
    h, w = scene.gt.shape
    yy, xx = np.mgrid[0:h, 0:w]
    dense = PointSet(np.stack([xx.ravel(), yy.ravel()], 1), scene.gt.ravel())
    new = densify_points(LightFieldProblem.from_lightfield(scene), dense, scene.disp_range)
    assert len(new) == 0


def test_levels_and_config_checks():
    lv = sweep_levels((-1.0, 1.0), SweepConfig(step=0.1))
    assert lv[0] == -1.0 and lv[-1] == pytest.approx(1.0) and len(lv) == 21
    assert len(sweep_levels((0.0, 100.0), SweepConfig(step=0.01, max_levels=50))) == 50
    with pytest.raises(ValueError):
        SweepConfig(window=4)
    with pytest.raises(ValueError):
        SweepConfig(min_ratio=0.5)
    with pytest.raises(ValueError, match="offsets"):
        LightFieldProblem(np.zeros((8, 8, 3)), np.zeros((2, 8, 8, 3)), np.zeros((3, 2)))


def test_window_aggregation_matches_its_definition():
    from diffdepth.points.sweep import window_aggregator
    from diffdepth.refine import aggregate_reference

    rng = np.random.default_rng(3)
    ref = rng.random((9, 11, 3)).astype(np.float32)
    costs = rng.random((2, 9, 11)).astype(np.float32)
    px = np.array([0, 5, 10, 3], np.int64)
    py = np.array([0, 4, 8, 7], np.int64)
    out = np.empty(4, np.float32)
    window_aggregator(ref, px, py, SweepConfig(window=5, gamma=0.2))(costs, out)
    expected = aggregate_reference(costs, ref, py, px, 2, 0.2)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # gamma 0: the plain box mean (clipped at the border), the best subset
    window_aggregator(ref, px, py, SweepConfig(window=5))(costs, out)
    box = [
        min(c[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].mean() for c in costs)
        for x, y in zip(px, py, strict=True)
    ]
    np.testing.assert_allclose(out, box, rtol=1e-5)
    with pytest.raises(ValueError, match="gamma"):
        SweepConfig(gamma=-0.1)


def test_adaptive_window_does_not_fatten_an_occluder_in_a_pair():
    # two views only (no one-sided subset to fall back on): a near square of one colour on a
    # far textured plane of another; a box window beside the square straddles its edge and
    # takes its disparity, the adaptive window keeps to the pixel's own colour
    h, w = 40, 72
    surfaces = [
        Surface("plane", (-1.0, 0.0, 0.0), color=(0.2, 0.5, 0.8)),
        Surface("rect", (2.0, 0.0, 0.0), (30.0, 8.0, 52.0, 32.0), color=(0.9, 0.4, 0.1)),
    ]
    lf = make_lightfield(height=h, width=w, grid=(1, 2), surfaces=surfaces)
    problem = LightFieldProblem.from_lightfield(lf, "all")
    assert np.allclose(problem.offsets, [[-1.0, 0.0]])  # the other view is on the left
    # background within 6 px left of the square: seen in both views (the half-occlusion,
    # whose pixels no view sees, is on the right of the square)
    seen = np.zeros((h, w), bool)
    seen[12:28, 24:30] = True
    assert np.allclose(lf.gt[seen], -1.0)
    wrong = {}
    for gamma in (0.0, 0.05):
        d, _ = sweep_disparity(problem, (-2.0, 3.0), SweepConfig(window=11, gamma=gamma))
        wrong[gamma] = np.mean(np.abs(d[seen] + 1.0) > 0.5)
    assert wrong[0.0] > 0.3, wrong  # the box fattens the square (the test is not vacuous)
    assert wrong[0.05] < 0.1, wrong
