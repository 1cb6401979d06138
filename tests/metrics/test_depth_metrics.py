import numpy as np
import pytest

from diffdepth.metrics.depth import scale_fitted_metrics


def _gt(h=60, w=80, seed=1):
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w]
    return 2.0 + 0.03 * xs + 0.02 * ys + rng.uniform(0, 0.5, (h, w))


def test_exact_recovery_of_a_scaled_map():
    gt = _gt()
    m = scale_fitted_metrics(gt / 3.7, gt)
    assert m["scale"] == pytest.approx(3.7, rel=1e-12)
    assert m["mse"] < 1e-20 and m["q25"] < 1e-10
    assert m["n_valid"] == gt.size


def test_noisy_map_scale_and_errors():
    gt = _gt()
    rng = np.random.default_rng(5)
    sigma = 0.02
    est = (gt + rng.normal(0, sigma, gt.shape)) / 2.0
    m = scale_fitted_metrics(est, gt, seed=3)
    assert m["scale"] == pytest.approx(2.0, rel=5e-3)
    assert m["mse"] == pytest.approx(sigma**2, rel=0.15)
    # the 25th percentile of |N(0, sigma)| is 0.3186 sigma
    assert m["q25"] == pytest.approx(0.3186 * sigma, rel=0.15)
    # seeded: the same seed gives the same numbers
    assert scale_fitted_metrics(est, gt, seed=3) == m


def test_invalid_pixels_and_mask_are_left_out():
    gt = _gt()
    est = gt / 2.0
    est[:10] = np.nan  # non-finite estimate
    gt2 = gt.copy()
    gt2[:, :5] = 0.0  # unknown ground truth
    mask = np.ones(gt.shape, bool)
    mask[-3:] = False
    est[-3:] = 100.0  # masked out: would spoil the fit
    m = scale_fitted_metrics(est, gt2, mask=mask)
    assert m["scale"] == pytest.approx(2.0, rel=1e-12)
    assert m["n_valid"] == (gt.shape[0] - 13) * (gt.shape[1] - 5)


def test_best_of_several_fits_resists_outliers():
    gt = _gt()
    est = gt / 2.0
    rng = np.random.default_rng(0)
    out = rng.random(gt.shape) < 0.002  # a few wild pixels
    est[out] = 50.0
    everything = scale_fitted_metrics(est, gt, n_fits=1, n_samples=gt.size)
    best = scale_fitted_metrics(est, gt, n_fits=10, n_samples=50)
    assert abs(everything["scale"] - 2.0) > 0.05  # one fit on all pixels is pulled away
    assert best["scale"] == pytest.approx(2.0, rel=1e-9)
    assert best["q25"] < 1e-9


def test_errors():
    with pytest.raises(ValueError, match="differ"):
        scale_fitted_metrics(np.ones((3, 3)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="no valid"):
        scale_fitted_metrics(np.full((3, 3), np.nan), np.ones((3, 3)))
