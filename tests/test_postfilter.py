"""The colour-weighted median post-filter."""

from __future__ import annotations

import numpy as np
import pytest

from diffdepth.postfilter import weighted_median


def _two_colour_image(h=20, w=30, edge=15):
    img = np.zeros((h, w, 3))
    img[:, edge:] = 0.8
    return img


def test_constant_map_is_unchanged():
    D = np.full((12, 17), 0.7)
    out = weighted_median(D, np.random.default_rng(0).random((12, 17, 3)), radius=3)
    assert out.dtype == np.float32 and np.allclose(out, 0.7)


def test_soft_depth_edge_snaps_to_the_colour_edge():
    img = _two_colour_image()
    D = np.zeros((20, 30))
    D[:, 15:] = 2.0
    soft = D.copy()
    soft[:, 13:17] = [0.4, 0.8, 1.2, 1.6]  # a diffused ramp across the edge
    out = weighted_median(soft, img, radius=3)
    err_soft = ((soft - D) ** 2).sum()
    err_out = ((out - D) ** 2).sum()
    assert err_out < 0.5 * err_soft  # a plain median would keep the ramp
    assert np.abs(out - D)[:, :12].max() == 0 and np.abs(out - D)[:, 18:].max() == 0


def test_sharp_edge_on_the_colour_edge_stays_and_radius_zero_is_identity():
    img = _two_colour_image()
    D = np.zeros((20, 30))
    D[:, 15:] = 2.0
    np.testing.assert_allclose(weighted_median(D, img, radius=2), D)
    noisy = D + np.random.default_rng(1).normal(0, 0.01, D.shape)
    np.testing.assert_allclose(weighted_median(noisy, img, radius=0), noisy.astype(np.float32))


def test_outlier_pixel_is_removed():
    img = np.full((15, 15, 3), 0.5)
    D = np.full((15, 15), 1.0)
    D[7, 7] = 5.0
    assert weighted_median(D, img, radius=1)[7, 7] == pytest.approx(1.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="differ"):
        weighted_median(np.zeros((4, 5)), np.zeros((5, 4, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        weighted_median(np.full((4, 5), np.nan), np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="radius"):
        weighted_median(np.zeros((4, 5)), np.zeros((4, 5, 3)), radius=-1)
