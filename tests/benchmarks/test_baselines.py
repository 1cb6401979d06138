"""The accuracy suite's SGBM baseline recovers known disparities with the HCI sign (the
structure-tensor one is the library's, tested in tests/points/test_orientation.py)."""

import numpy as np
import pytest

from benchmarks.baselines import _fill_rows, sgbm_disparity
from diffdepth.synth import Surface, make_lightfield

INNER = (slice(8, -8), slice(8, -8))  # away from the image border


def plane(d, grid=(9, 9), slope=(0.004, -0.002), **kw):
    return make_lightfield(64, 80, grid, seed=1, surfaces=[Surface("plane", (d, *slope), **kw)])


@pytest.mark.parametrize("d", [-1.2, 0.7, 1.5])
def test_sgbm_sign_and_scale(d):
    pytest.importorskip("cv2", reason="opencv-python-headless (the 'bench' extra) is absent")
    lf = plane(d)
    est = sgbm_disparity(lf.views, lf.ref, lf.disp_range)
    assert est.shape == lf.gt.shape and np.isfinite(est).all()
    # SGBM's disparity is in 1/16 px over 4 view steps: 1/64 px per step
    assert np.median(np.abs(est - lf.gt)[INNER]) < 0.03


def test_sgbm_on_a_row_uses_the_view_it_has():
    pytest.importorskip("cv2", reason="opencv-python-headless (the 'bench' extra) is absent")
    lf = plane(3.0, grid=(1, 5), slope=(0.0, 0.0))  # centre view 2: two steps to the right
    est = sgbm_disparity(lf.views, lf.ref, (0.0, 8.0))
    assert np.median(np.abs(est - lf.gt)[INNER]) < 0.03
    with pytest.raises(ValueError, match="no view to the right"):
        sgbm_disparity(lf.views, (0, 4), (0.0, 8.0))


def test_fill_rows_takes_the_farther_neighbour():
    nan = np.nan
    d = np.array([[nan, 2.0, nan, nan, 5.0, nan], [nan, nan, nan, nan, nan, nan]])
    d[1, :] = nan
    out = _fill_rows(d)
    np.testing.assert_array_equal(out[0], [2.0, 2.0, 2.0, 2.0, 5.0, 5.0])
    np.testing.assert_array_equal(out[1], np.full(6, 3.5))  # the map's median
