"""The pinhole photo-consistency tools on a synthetic rectified pair with exact depth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from diffdepth.config import MultiViewConfig, SweepConfig
from diffdepth.points.pinhole import PinholeViews, cross_check, fill_hidden, select_views
from diffdepth.synth import make_multiview


@pytest.fixture(scope="module")
def pair():
    scene, depths = make_multiview(n_views=2, height=120, width=160, layout="row", seed=0)
    return scene, 1.0 / depths[0].astype(np.float64)


def test_left_right_check_finds_the_halo_of_an_occluder(pair):
    # the nearer surface's label spread 4 px onto the farther one beside it (what diffusion
    # leaves at an occluding contour): the check against the other view's sweep must fail
    # there, and pass on most of the true map
    scene, rho = pair
    unit = PinholeViews.from_scene(scene, 0, [1], rho=float(np.median(rho))).px_per_rho
    halo_map = ndimage.grey_dilation(rho, size=(1, 9))  # the larger inverse depth wins
    halo = (halo_map - rho) * unit > 1.5
    assert halo.sum() > 100  # the scene has occluding contours (the test is not vacuous)
    span = (0.8 * rho.min(), 1.2 * rho.max())
    config = SweepConfig(step=0.125, window=11, gamma=0.05, exclude=1.0)
    ok_true = cross_check(scene, 0, rho, [1], span, config)
    ok_halo = cross_check(scene, 0, halo_map, [1], span, config)
    caught = (~ok_halo[halo]).mean()
    assert ok_true.mean() > 0.75, ok_true.mean()
    assert caught > 0.75, caught
    # a box window takes the occluder's label beside it in the other view too, and so lets
    # much of the halo pass (the reason the check sweeps with adaptive support)
    box = SweepConfig(step=0.125, window=7, exclude=1.0)
    caught_box = (~cross_check(scene, 0, halo_map, [1], span, box)[halo]).mean()
    assert caught_box < caught - 0.15, (caught_box, caught)


def test_fill_takes_the_farther_side():
    rho = np.full((3, 12), 1.0)
    rho[:, 6:] = 3.0  # a near surface on the right
    rho[1, 3:6] = 2.9  # its halo on the far surface
    hidden = np.zeros(rho.shape, bool)
    hidden[1, 3:6] = True
    out = fill_hidden(rho, hidden, np.array([1.0, 0.0]))
    np.testing.assert_array_equal(out[1, 3:6], 1.0)
    np.testing.assert_array_equal(np.delete(out, 1, 0), np.delete(rho, 1, 0))


def test_select_views_leaves_out_views_beyond_the_baseline_ratio():
    # a row of five cameras, the reference in the middle: its neighbours on both sides are at
    # one baseline, the outer two at two; a ratio of 1.5 keeps the neighbours only
    scene, _ = make_multiview(n_views=5, height=24, width=32, layout="row", seed=0)
    assert select_views(scene, 2, max_views=4) == [1, 3, 0, 4]
    assert sorted(select_views(scene, 2, max_views=4, max_baseline_ratio=1.5)) == [1, 3]
    assert sorted(select_views(scene, 2, max_views=4, max_baseline_ratio=2.0)) == [0, 1, 3, 4]
    # at the end of the row the nearest view sets the scale: 1 baseline, then 2, 3, 4
    assert select_views(scene, 0, max_views=4, max_baseline_ratio=1.5) == [1]
    assert select_views(scene, 0, max_views=4, max_baseline_ratio=3.0) == [1, 2, 3]
    with pytest.raises(ValueError, match="max_baseline_ratio"):
        MultiViewConfig(max_baseline_ratio=0.5)
