"""The synthetic light field: exact ground truth, consistent views, HCI sign convention."""

import numpy as np
import pytest
from scipy import ndimage

from diffdepth.synth.lightfield import Surface, default_scene, make_lightfield


@pytest.fixture(scope="module")
def lf():
    return make_lightfield()


def far_from_edges(gt, radius):
    """Pixels farther than radius from any depth discontinuity of gt."""
    jump = np.zeros(gt.shape, dtype=bool)
    dx = np.abs(np.diff(gt, axis=1)) > 0.05
    dy = np.abs(np.diff(gt, axis=0)) > 0.05
    jump[:, 1:] |= dx
    jump[:, :-1] |= dx
    jump[1:] |= dy
    jump[:-1] |= dy
    return ~ndimage.maximum_filter(jump, size=2 * radius + 1)


def test_shapes_non_square_and_metadata(lf):
    assert lf.views.shape == (9, 9, 128, 176, 3)
    assert lf.views.dtype == np.float32 and lf.gt.dtype == np.float32
    assert lf.gt.shape == (128, 176)
    assert lf.ref == (4, 4)
    assert 0.0 <= lf.views.min() and lf.views.max() <= 1.0
    lo, hi = lf.disp_range
    assert lo <= lf.gt.min() and lf.gt.max() <= hi
    assert -1.7 < lo < -1.2 and 1.2 < hi < 1.7


def test_small_odd_grid_and_reference():
    small = make_lightfield(height=40, width=64, grid=(3, 5), seed=3)
    assert small.views.shape == (3, 5, 40, 64, 3)
    assert small.ref == (1, 2)
    np.testing.assert_array_equal(small.ref_view, small.views[1, 2])
    views, uv = small.crosshair()
    assert len(views) == 2 + 4
    assert {tuple(o) for o in uv} == {(0, -1), (0, 1), (-2, 0), (-1, 0), (1, 0), (2, 0)}


def test_reference_view_is_the_unshifted_render(lf):
    np.testing.assert_array_equal(lf.ref_view, lf.views[lf.ref])
    # A view with a different reference choice renders the same centre picture.
    other = make_lightfield(grid=(1, 3), ref=(0, 1))
    np.testing.assert_allclose(other.views[0, 1], lf.ref_view, atol=1e-6)
    np.testing.assert_array_equal(other.gt, lf.gt)


def test_gt_exact_on_each_surface(lf):
    h, w = lf.shape
    bg, rect, disc, strip = default_scene(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    in_rect = rect.contains(xx, yy)
    in_disc = disc.contains(xx, yy)
    in_strip = strip.contains(xx, yy)
    only_rect = in_rect & ~in_disc & ~in_strip
    only_bg = ~(in_rect | in_disc | in_strip)
    assert only_rect.sum() > 1000 and in_disc.sum() > 500 and only_bg.sum() > 5000
    # Fronto-parallel surfaces: exactly their disparity.
    assert np.all(lf.gt[only_rect] == np.float32(0.35))
    assert np.all(lf.gt[in_disc] == np.float32(1.3))
    # Slanted surfaces: the plane equation at the pixel centres.
    np.testing.assert_allclose(lf.gt[only_bg], bg.disparity_at(xx, yy)[only_bg], atol=1e-6)
    strip_front = in_strip & ~in_disc
    np.testing.assert_allclose(
        lf.gt[strip_front], strip.disparity_at(xx, yy)[strip_front], atol=1e-6
    )


def test_integer_disparity_is_an_exact_shift_with_hci_sign():
    # One fronto-parallel plane at d = 1: I_k(x - d u, y - d v) = I_ref(x, y) exactly.
    lf1 = make_lightfield(height=24, width=36, grid=(3, 3), surfaces=[Surface("plane", (1, 0, 0))])
    ref = lf1.ref_view
    right = lf1.views[1, 2]  # u = +1
    below = lf1.views[2, 1]  # v = +1
    np.testing.assert_allclose(right[:, :-1], ref[:, 1:], atol=1e-6)
    np.testing.assert_allclose(below[:-1, :], ref[1:, :], atol=1e-6)
    assert np.abs(right - ref).mean() > 0.01  # the views do differ


@pytest.mark.parametrize("rc", [(0, 0), (8, 8), (4, 0), (2, 7), (4, 5), (8, 1)])
def test_views_consistent_with_gt(lf, rc, warp):
    r, c = rc
    u, v = c - lf.ref[1], r - lf.ref[0]
    gt = lf.gt.astype(np.float64)
    radius = int(np.ceil(2.8 * max(abs(u), abs(v)))) + 2
    warped, inside = warp(lf.views[r, c], gt, u, v)
    unwarped, _ = warp(lf.views[r, c], np.zeros_like(gt), u, v)
    mask = inside & far_from_edges(gt, radius)
    assert mask.sum() > 2000
    err = np.abs(warped - lf.ref_view)[mask].mean()
    err0 = np.abs(unwarped - lf.ref_view)[mask].mean()
    assert err < 0.006
    assert err < 0.2 * err0


def test_texture_poor_disc(lf):
    h, w = lf.shape
    _, rect, disc, _ = default_scene(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    inner_disc = disc.contains(xx, yy) & (lf.gt == np.float32(1.3))
    inner_disc = ndimage.binary_erosion(inner_disc, iterations=2)
    inner_rect = ndimage.binary_erosion(
        rect.contains(xx, yy) & (lf.gt == np.float32(0.35)), iterations=2
    )
    assert lf.ref_view[inner_disc].std(axis=0).max() < 0.01
    assert lf.ref_view[inner_rect].std(axis=0).max() > 0.03


def test_determinism_by_seed():
    a = make_lightfield(height=32, width=48, grid=(3, 3), seed=7)
    b = make_lightfield(height=32, width=48, grid=(3, 3), seed=7)
    c = make_lightfield(height=32, width=48, grid=(3, 3), seed=8)
    np.testing.assert_array_equal(a.views, b.views)
    np.testing.assert_array_equal(a.gt, b.gt)
    assert np.abs(a.views - c.views).mean() > 0.01
    np.testing.assert_array_equal(a.gt, c.gt)  # the seed changes textures, not geometry


def test_noise_option_is_seeded():
    a = make_lightfield(height=32, width=48, grid=(3, 3), seed=1, noise=0.02)
    b = make_lightfield(height=32, width=48, grid=(3, 3), seed=1, noise=0.02)
    clean = make_lightfield(height=32, width=48, grid=(3, 3), seed=1)
    np.testing.assert_array_equal(a.views, b.views)
    assert 0.01 < np.abs(a.views - clean.views).mean() < 0.03


def test_bad_arguments():
    with pytest.raises(ValueError, match="positive"):
        make_lightfield(height=0)
    with pytest.raises(ValueError, match="outside"):
        make_lightfield(grid=(3, 3), ref=(3, 0))
    with pytest.raises(ValueError, match="too steep"):
        make_lightfield(height=16, width=16, surfaces=[Surface("plane", (0.0, 0.3, 0.0))])
    with pytest.raises(ValueError, match="shape numbers"):
        Surface("disc", (0.0, 0.0, 0.0), (1.0, 2.0))
