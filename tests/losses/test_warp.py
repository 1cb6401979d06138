"""warp_views / view_errors: known warps, agreement with grid_sample and with the photo layer's
reference, gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from diffdepth.losses.lightfield import view_errors, warp_views
from diffdepth.photo import UNSEEN, subset_errors_reference


def _random(K=5, C=3, H=13, W=17, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    views = torch.rand(K, H, W, C, generator=g, dtype=dtype)
    ref = torch.rand(H, W, C, generator=g, dtype=dtype)
    # disparities well inside (-1.5, 1.5): some samples leave the image
    D = torch.rand(H, W, generator=g, dtype=dtype) * 3 - 1.5
    return g, views, ref, D


OFFSETS = [[1.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -3.0], [1.0, 1.0], [-2.0, 1.5]]


def test_zero_disparity_is_identity():
    _, views, _, _ = _random(K=6)
    D = torch.zeros(13, 17, dtype=torch.float64)
    assert torch.equal(warp_views(views, OFFSETS, D), views)


@pytest.mark.parametrize("u, v", [(1.0, 0.0), (-2.0, 0.0), (0.0, 1.0), (0.0, -1.0), (1.0, -1.0)])
@pytest.mark.parametrize("d", [1, 2])
def test_integer_disparity_shifts_exactly(u, v, d):
    _, views, _, _ = _random(K=1, H=12, W=15)
    D = torch.full((12, 15), float(d), dtype=torch.float64)
    out = warp_views(views, [[u, v]], D)[0]
    sx, sy = int(d * u), int(d * v)
    # out(x, y) = view(x - sx, y - sy) where that lies inside the image
    ys = slice(max(sy, 0), 12 + min(sy, 0))
    xs = slice(max(sx, 0), 15 + min(sx, 0))
    ys_src = slice(max(-sy, 0), 12 + min(-sy, 0))
    xs_src = slice(max(-sx, 0), 15 + min(-sx, 0))
    assert torch.equal(out[ys, xs], views[0][ys_src, xs_src])


def test_warp_matches_grid_sample_forward_and_backward():
    g, views, _, D = _random(K=6)
    D.requires_grad_(True)
    fast = warp_views(views, OFFSETS, D)
    H, W = D.shape
    yy, xx = torch.meshgrid(
        torch.arange(H, dtype=D.dtype), torch.arange(W, dtype=D.dtype), indexing="ij"
    )
    off = torch.tensor(OFFSETS, dtype=D.dtype)
    X = xx - D * off[:, 0, None, None]
    Y = yy - D * off[:, 1, None, None]
    grid = torch.stack([X * (2 / (W - 1)) - 1, Y * (2 / (H - 1)) - 1], dim=-1)
    slow = F.grid_sample(
        views.permute(0, 3, 1, 2), grid, padding_mode="border", align_corners=True
    ).permute(0, 2, 3, 1)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    cot = torch.randn(fast.shape, generator=g, dtype=torch.float64)
    (g_fast,) = torch.autograd.grad(fast, D, cot)
    (g_slow,) = torch.autograd.grad(slow, D, cot)
    torch.testing.assert_close(g_fast, g_slow, rtol=0, atol=1e-11)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_view_errors_match_the_photo_reference(backend):
    g, views, ref, D = _random(K=6)
    D.requires_grad_(True)
    fast = view_errors(ref, views, OFFSETS, D, backend=backend)
    member = np.eye(len(OFFSETS), dtype=bool)
    slow = subset_errors_reference(ref, views, OFFSETS, member, D)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)
    assert (fast == UNSEEN).any() and (fast < 1).any()
    cot = torch.randn(fast.shape, generator=g, dtype=torch.float64)
    (g_fast,) = torch.autograd.grad(fast, D, cot)
    (g_slow,) = torch.autograd.grad(slow, D, cot)
    torch.testing.assert_close(g_fast, g_slow, rtol=0, atol=1e-11)


def test_gradcheck_float64_away_from_integer_samples():
    _, views, ref, _ = _random(K=6, H=7, W=8, seed=3)
    # every sample position x - D u, y - D v at least 0.1 px from an integer and inside
    D = torch.full((7, 8), 0.3, dtype=torch.float64)
    D += torch.linspace(0, 0.05, 56, dtype=torch.float64).view(7, 8)
    D.requires_grad_(True)
    offsets = [[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]
    assert torch.autograd.gradcheck(lambda d: warp_views(views, offsets, d), (D,))
    for backend in ("numba", "torch"):
        assert torch.autograd.gradcheck(
            lambda d, b=backend: view_errors(ref, views, offsets, d, backend=b), (D,)
        )


def test_views_with_gradient_are_differentiated():
    _, views, ref, D = _random(K=6)
    views.requires_grad_(True)
    (gv,) = torch.autograd.grad(warp_views(views, OFFSETS, D).sum(), views)
    assert gv.abs().sum() > 0
    (gv,) = torch.autograd.grad(view_errors(ref, views, OFFSETS, D).sum(), views)
    assert gv.abs().sum() > 0


def test_float32_inputs_stay_float32():
    _, views, ref, D = _random(K=6, dtype=torch.float32)
    assert warp_views(views, OFFSETS, D).dtype == torch.float32
    for backend in ("numba", "torch"):
        assert view_errors(ref, views, OFFSETS, D, backend=backend).dtype == torch.float32


def test_bad_shapes_are_named():
    _, views, ref, D = _random(K=6)
    with pytest.raises(ValueError, match=r"offsets must be \[K, 2\]"):
        warp_views(views, OFFSETS[:3], D)
    with pytest.raises(ValueError, match="D must be"):
        warp_views(views, OFFSETS, D[:5])
    with pytest.raises(ValueError, match="ref must be"):
        view_errors(ref[:, :-1], views, OFFSETS, D)
    with pytest.raises(ValueError, match="numba"):
        view_errors(ref, views, OFFSETS, D.to(torch.int64), backend="numba")


def test_error_lowest_at_true_disparity_and_gradient_points_to_it(make_lf, crosshair):
    d_true = 0.7
    ref, views, off = make_lf(d_true, crosshair)
    errs = {}
    for d in (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1):
        D = torch.full(ref.shape[:2], d, dtype=torch.float64, requires_grad=True)
        e = view_errors(ref, views, off, D)[:, 3:-3, 3:-3].mean()  # away from the border
        (g,) = torch.autograd.grad(e, D)
        errs[d] = float(e.detach())
        if d != d_true:
            # moving every pixel against the gradient moves toward the truth
            assert float(g.sum()) * (d - d_true) > 0
    # bilinear interpolation of the fractional shifts leaves a small error at the truth
    assert min(errs, key=errs.get) == d_true
    assert errs[d_true] < 0.7 * min(errs[0.6], errs[0.8])
