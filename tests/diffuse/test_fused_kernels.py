"""The fused V-cycle kernels give the separate kernels' results to the last bit."""

import numpy as np
import pytest

from diffdepth.diffuse import _kernels as k


def _level(H, W, seed):
    rng = np.random.default_rng(seed)
    lam = rng.random((H, W)) * (rng.random((H, W)) < 0.1)
    theta = np.exp(rng.normal(0, 2, (H, W)))
    wx, wy = np.empty((H, W - 1)), np.empty((H - 1, W))
    k.edge_weights(theta, wx, wy)
    diag, invd = np.empty((H, W)), np.empty((H, W))
    k.degree(lam, wx, wy, diag, invd)
    return rng, wx, wy, diag, invd


@pytest.mark.parametrize("shape", [(2, 2), (7, 5), (16, 16), (33, 18), (1, 9)])
@pytest.mark.parametrize("nu", [0, 1, 2, 3])
def test_presmooth_restrict_equals_the_separate_kernels(shape, nu):
    H, W = shape
    rng, wx, wy, diag, invd = _level(H, W, 1)
    b = rng.normal(size=(H, W))
    Hc, Wc = (H + 1) // 2, (W + 1) // 2
    x_ref, rc_ref = np.full((H, W), np.nan), np.full((Hc, Wc), np.nan)
    k.first_red(x_ref, b, invd)
    k.gs_colour(x_ref, b, wx, wy, invd, 1)
    for _ in range(nu - 1):
        k.gs_colour(x_ref, b, wx, wy, invd, 0)
        k.gs_colour(x_ref, b, wx, wy, invd, 1)
    k.residual_restrict(x_ref, b, wx, wy, diag, rc_ref)
    x, rc = np.full((H, W), np.nan), np.full((Hc, Wc), np.nan)
    k.presmooth_restrict(x, b, wx, wy, invd, diag, rc, nu)
    assert np.array_equal(x, x_ref) and np.array_equal(rc, rc_ref)
    assert np.isfinite(x).all() and np.abs(rc).sum() > 0


@pytest.mark.parametrize("shape", [(2, 2), (7, 5), (16, 16), (33, 18)])
@pytest.mark.parametrize("nu", [0, 1, 2, 3])
def test_prolong_postsmooth_equals_the_separate_kernels(shape, nu):
    H, W = shape
    rng, wx, wy, diag, invd = _level(H, W, 2)
    b = rng.normal(size=(H, W))
    e = rng.normal(size=((H + 1) // 2, (W + 1) // 2))
    x0 = rng.normal(size=(H, W))
    x_ref = x0.copy()
    k.prolong_add(x_ref, e, 1.5)
    for _ in range(nu):
        k.gs_colour(x_ref, b, wx, wy, invd, 1)
        k.gs_colour(x_ref, b, wx, wy, invd, 0)
    x = x0.copy()
    k.prolong_postsmooth(x, e, 1.5, b, wx, wy, invd, nu)
    assert np.array_equal(x, x_ref)
    assert not np.array_equal(x, x0)
