"""The EPI orientation estimate recovers known disparities with the HCI sign."""

import numpy as np
import pytest
from scipy import ndimage

from diffdepth.points.orientation import shear_levels, structure_tensor_disparity
from diffdepth.synth import Surface, make_lightfield

INNER = (slice(8, -8), slice(8, -8))  # away from the image border


def plane(d, grid=(9, 9), slope=(0.004, -0.002), **kw):
    return make_lightfield(64, 80, grid, seed=1, surfaces=[Surface("plane", (d, *slope), **kw)])


@pytest.mark.parametrize("d", [-1.2, -0.4, 0.0, 0.7, 1.5])
def test_structure_tensor_on_slanted_planes(d):
    lf = plane(d)
    est = structure_tensor_disparity(lf.views, lf.ref, lf.disp_range)
    assert est.shape == lf.gt.shape and est.dtype == np.float32
    err = (est - lf.gt)[INNER]
    assert np.median(np.abs(err)) < 0.03


def test_structure_tensor_takes_the_coherent_epi():
    # Horizontal stripes (constant along x): the row EPI sees nothing, the column EPI does.
    lf = plane(0.6, slope=(0.0, 0.0), stripes=(9.0, 90.0))
    est = structure_tensor_disparity(lf.views, lf.ref, lf.disp_range)
    assert np.median(np.abs(est - lf.gt)[INNER]) < 0.03
    row_only = structure_tensor_disparity(lf.views[4:5], (0, 4))
    assert np.median(np.abs(row_only - lf.gt)[INNER]) > 0.2


def test_structure_tensor_on_a_single_row():
    lf = plane(0.5, grid=(1, 5))
    est = structure_tensor_disparity(lf.views, lf.ref)
    assert np.median(np.abs(est - lf.gt)[INNER]) < 0.08  # 5 views: a bias of about -11 %
    with pytest.raises(ValueError, match="single view"):
        structure_tensor_disparity(lf.views[:, :1], (0, 0))


def test_shear_levels():
    np.testing.assert_array_equal(shear_levels(None), [0.0])
    np.testing.assert_array_equal(shear_levels((-0.4, 0.45)), [0.0])
    np.testing.assert_array_equal(shear_levels((-3.13, 2.69)), np.arange(-3.0, 4.0))
    np.testing.assert_array_equal(shear_levels((0.0, 14.5)), np.arange(0.0, 15.0))
    np.testing.assert_array_equal(shear_levels((1.2, 2.6)), np.arange(0.0, 4.0))


def fine_plane(d, size=(48, 64)):
    """9x9 views of a fronto-parallel plane at disparity d carrying fine random texture
    (white noise blurred by 1 px): I_k(x) = I_ref(x + d u, y + d v)."""
    rng = np.random.default_rng(3)
    ref = ndimage.gaussian_filter(rng.uniform(0, 1, (*size, 3)), (1.0, 1.0, 0))
    views = np.empty((9, 9, *size, 3))
    for r in range(9):
        for c in range(9):
            shift = (-d * (r - 4), -d * (c - 4), 0)
            views[r, c] = ndimage.shift(ref, shift, order=3, mode="reflect")
    return views


@pytest.mark.parametrize("d", [-3.0, 2.7])
def test_structure_tensor_sheared_for_large_disparities(d):
    # fine texture: unsheared, the EPI derivatives alias at about 3 px per view step
    views = fine_plane(d)
    sheared = np.median(np.abs(structure_tensor_disparity(views, (4, 4), (-3.2, 2.8)) - d)[INNER])
    plain = np.median(np.abs(structure_tensor_disparity(views, (4, 4)) - d)[INNER])
    assert sheared < 0.02 and plain > 2 * sheared, (sheared, plain)


def test_the_shear_is_ndimage_shift():
    """The whole-pixel fast path of the shear equals ndimage.shift (order 1, nearest)."""
    from diffdepth.points.orientation import _shift_x

    img = np.random.default_rng(0).random((5, 11, 3)).astype(np.float32)
    for s in (-3.0, 0.0, 2.0, 12.0, 1.5, -0.25):
        ref = ndimage.shift(img, (0, s, 0), order=1, mode="nearest")
        np.testing.assert_array_equal(_shift_x(img, s), ref)
