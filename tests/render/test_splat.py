"""splat: fast paths against the dense reference, forward and backward, and gradcheck."""

import pytest
import torch

from diffdepth.render import SIGMA_S, splat, splat_reference

BACKENDS = ["numba", "torch"]
F64 = torch.float64
CS = 1.0 / (2.0 * SIGMA_S**2)  # the kernels' footprint argument

CASES = [
    # (N, (H, W), margin, depth_levels)
    (1, (1, 1), 3.0, None),
    (5, (1, 1), 4.0, None),
    (60, (7, 30), 4.0, None),
    (80, (13, 17), 6.0, 3),  # many ties in depth, many points outside
    (40, (24, 9), 0.0, None),
    (150, (16, 16), -5.0, None),  # dense cluster in the image centre
    (30, (20, 20), 12.0, 1),  # all depths equal; many points wholly outside
]


def _vjp(fn, xy, value, weight, depth, shape, seed=1):
    """Outputs and gradients w.r.t. xy, value, weight for random cotangents."""
    leaves = [t.clone().requires_grad_() for t in (xy, value, weight)]
    S, lam = fn(*leaves, depth, shape)
    gen = torch.Generator().manual_seed(seed)
    g_s = torch.randn(S.shape, generator=gen, dtype=torch.float64).to(S.dtype)
    g_l = torch.randn(S.shape, generator=gen, dtype=torch.float64).to(S.dtype)
    grads = torch.autograd.grad((S * g_s).sum() + (lam * g_l).sum(), leaves)
    return [S.detach(), lam.detach(), *grads]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n, shape, margin, levels", CASES)
def test_matches_reference_forward_and_backward(make_points, backend, n, shape, margin, levels):
    pts = make_points(n, shape, seed=n, margin=margin, depth_levels=levels)
    want = _vjp(splat_reference, *pts, shape)
    got = _vjp(lambda *a: splat(*a, backend=backend), *pts, shape)
    names = ["S", "lam", "d/dxy", "d/dvalue", "d/dweight"]
    for name, g, w in zip(names, got, want):
        assert g.dtype == torch.float64
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10, msg=name)
    assert (want[0] != 0).any()  # the case really draws something


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_matches_reference(make_points, backend):
    shape = (19, 23)
    pts = make_points(120, shape, seed=3, dtype=torch.float32)
    want = _vjp(splat_reference, *[t.double() for t in pts], shape)
    got = _vjp(lambda *a: splat(*a, backend=backend), *pts, shape)
    for g, w in zip(got, want):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g.double(), w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradcheck(make_points, backend):
    shape = (6, 8)
    xy, value, weight, depth = make_points(7, shape, seed=11, margin=2.0, depth_levels=4)
    inputs = tuple(t.clone().requires_grad_() for t in (xy, value, weight))

    def fn(a, b, c):
        return splat(a, b, c, depth, shape, backend=backend)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigma_s", [0.6, 0.9, 2.0])
def test_other_footprints_match_reference(make_points, backend, sigma_s):
    shape = (13, 17)
    pts = make_points(80, shape, seed=5, margin=4.0, depth_levels=3)
    want = _vjp(lambda *a: splat_reference(*a, sigma_s=sigma_s), *pts, shape)
    got = _vjp(lambda *a: splat(*a, backend=backend, sigma_s=sigma_s), *pts, shape)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)
    # a narrower footprint really is another image: it covers less of the frame
    default = _vjp(splat_reference, *pts, shape)[0]
    assert not torch.allclose(want[0], default)
    xy, value, weight, depth = make_points(7, (6, 8), seed=11, margin=2.0, depth_levels=4)
    inputs = tuple(t.clone().requires_grad_() for t in (xy, value, weight))
    assert torch.autograd.gradcheck(
        lambda a, b, c: splat(a, b, c, depth, (6, 8), backend=backend, sigma_s=sigma_s),
        inputs,
        eps=1e-6,
        atol=1e-7,
        rtol=1e-5,
    )


def test_gradcheck_reference(make_points):
    shape = (5, 7)
    xy, value, weight, depth = make_points(6, shape, seed=12, margin=2.0)
    inputs = tuple(t.clone().requires_grad_() for t in (xy, value, weight))
    assert torch.autograd.gradcheck(
        lambda a, b, c: splat_reference(a, b, c, depth, shape), inputs, eps=1e-6, atol=1e-7
    )


def test_depth_gets_no_gradient_and_order_matters():
    shape = (9, 9)
    xy = torch.tensor([[4.2, 4.1], [4.4, 3.9]], dtype=torch.float64)
    value = torch.tensor([1.0, 3.0], dtype=torch.float64)
    weight = torch.ones(2, dtype=torch.float64)
    depth = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    S, lam = splat(xy, value, weight, depth, shape)
    assert not S.requires_grad  # only depth requires grad, and it gets none
    S_swapped, _ = splat(xy, value, weight, depth.detach().flip(0), shape)
    assert S[4, 4] == pytest.approx(1.0, abs=1e-3)
    assert S_swapped[4, 4] == pytest.approx(3.0, abs=1e-3)


def test_ties_are_broken_by_index():
    shape = (9, 9)
    xy = torch.tensor([[4.0, 4.0], [4.0, 4.0]], dtype=torch.float64)
    weight = torch.ones(2, dtype=torch.float64)
    depth = torch.zeros(2, dtype=torch.float64)
    for backend in BACKENDS:
        S, _ = splat(xy, torch.tensor([1.0, 5.0]).double(), weight, depth, shape, backend=backend)
        S2, _ = splat(xy, torch.tensor([5.0, 1.0]).double(), weight, depth, shape, backend=backend)
        assert S[4, 4] == pytest.approx(1.0, abs=1e-5)
        assert S2[4, 4] == pytest.approx(5.0, abs=1e-5)


def test_row_bands_give_the_same_result(make_points):
    from diffdepth.render import _splat_numba

    shape = (40, 23)
    xy, value, weight, depth = make_points(300, shape, seed=4, margin=5.0)
    order = torch.argsort(depth, stable=True)
    pts = torch.cat([xy, value[:, None], weight[:, None]], 1)[order].contiguous().numpy()
    gen = torch.Generator().manual_seed(0)
    g_s = torch.randn(shape[0] * shape[1], generator=gen, dtype=F64).numpy()
    g_l = torch.randn(shape[0] * shape[1], generator=gen, dtype=F64).numpy()
    fwd1, frag1 = _splat_numba.splat_forward(pts, *shape, 1, CS)
    grad1 = _splat_numba.splat_backward(pts, fwd1, frag1, g_s, g_l, *shape, 1, CS)
    for bands in (2, 5):  # 5 bands of 8 rows: windows span two bands
        fwd, frag = _splat_numba.splat_forward(pts, *shape, bands, CS)
        grad = _splat_numba.splat_backward(pts, fwd, frag, g_s, g_l, *shape, bands, CS)
        torch.testing.assert_close(torch.from_numpy(fwd), torch.from_numpy(fwd1), rtol=0, atol=0)
        torch.testing.assert_close(torch.from_numpy(grad), torch.from_numpy(grad1))
