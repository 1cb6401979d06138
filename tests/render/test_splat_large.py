"""splat: many points, dense clusters, large images; CUDA against CPU."""

import pytest
import torch

from diffdepth.render import splat, splat_reference

F64 = torch.float64


def _crop_reference(xy, value, weight, depth, top, left, h, w):
    """Reference S, lam on the crop [top:top+h, left:left+w] from the points whose window can
    reach it (coordinates shifted into the crop)."""
    near = (
        (xy[:, 0] > left - 4.5)
        & (xy[:, 0] < left + w + 3.5)
        & (xy[:, 1] > top - 4.5)
        & (xy[:, 1] < top + h + 3.5)
    )
    shift = torch.tensor([left, top], dtype=xy.dtype)
    return splat_reference(xy[near] - shift, value[near], weight[near], depth[near], (h, w))


def _vjp(xy, value, weight, depth, shape, backend, g_s, g_l):
    leaves = [t.clone().requires_grad_() for t in (xy, value, weight)]
    S, lam = splat(*leaves, depth, shape, backend=backend)
    grads = torch.autograd.grad((S * g_s).sum() + (lam * g_l).sum(), leaves)
    return [S.detach(), lam.detach(), *grads]


def test_thousands_of_points_in_one_tile(make_points):
    # 4000 points in a 16x16 tile of a 30x28 image, against the dense reference
    xy, value, weight, depth = make_points(4000, (16, 16), seed=5, margin=0.0)
    xy = xy + torch.tensor([6.0, 7.0], dtype=F64)
    shape = (30, 28)
    gen = torch.Generator().manual_seed(1)
    g_s = torch.randn(shape, generator=gen, dtype=F64)
    g_l = torch.randn(shape, generator=gen, dtype=F64)
    leaves = [t.clone().requires_grad_() for t in (xy, value, weight)]
    S, lam = splat_reference(*leaves, depth, shape)
    want = [S, lam, *torch.autograd.grad((S * g_s).sum() + (lam * g_l).sum(), leaves)]
    for backend in ("numba", "torch"):
        got = _vjp(xy, value, weight, depth, shape, backend, g_s, g_l)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w.detach(), rtol=1e-8, atol=1e-9)


def test_many_points_numba_matches_torch(make_points):
    # 50k points in a 64x64 area (about 600 fragments per pixel) of a 96x80 image
    xy, value, weight, depth = make_points(50_000, (64, 64), seed=6, margin=2.0)
    xy = xy + torch.tensor([10.0, 20.0], dtype=F64)
    shape = (96, 80)
    gen = torch.Generator().manual_seed(2)
    g_s = torch.randn(shape, generator=gen, dtype=F64)
    g_l = torch.randn(shape, generator=gen, dtype=F64)
    got = _vjp(xy, value, weight, depth, shape, "numba", g_s, g_l)
    want = _vjp(xy, value, weight, depth, shape, "torch", g_s, g_l)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-7, atol=1e-8)
    assert (got[1][20:84, 10:74] > 0).all()  # every pixel of the area is covered


@pytest.mark.parametrize(
    "n, shape, crops",
    [
        (3_000, (7, 300), [(0, 0, 7, 20), (0, 281, 7, 19), (0, 140, 7, 15)]),
        (40_000, (383, 552), [(0, 0, 12, 12), (371, 540, 12, 12), (190, 300, 9, 14)]),
        (500_000, (512, 512), [(0, 0, 10, 10), (502, 502, 10, 10), (250, 100, 8, 8)]),
    ],
)
def test_large_images_match_reference_on_crops(make_points, n, shape, crops):
    xy, value, weight, depth = make_points(n, shape, seed=7, margin=5.0, dtype=torch.float32)
    S, lam = splat(xy, value, weight, depth, shape)
    assert S.shape == lam.shape == shape and S.dtype == torch.float32
    assert torch.isfinite(S).all() and torch.isfinite(lam).all()
    for top, left, h, w in crops:
        want_s, want_l = _crop_reference(
            xy.double(), value.double(), weight.double(), depth.double(), top, left, h, w
        )
        torch.testing.assert_close(S[top : top + h, left : left + w].double(), want_s, **TOL32)
        torch.testing.assert_close(lam[top : top + h, left : left + w].double(), want_l, **TOL32)


TOL32 = {"rtol": 1e-5, "atol": 1e-5}


def test_500k_points_backward_matches_reference_on_crops(make_points):
    shape = (512, 512)
    xy, value, weight, depth = make_points(500_000, shape, seed=8, dtype=torch.float32)
    gen = torch.Generator().manual_seed(4)
    g_s = torch.randn(shape, generator=gen)
    g_l = torch.randn(shape, generator=gen)
    _, _, *grads = _vjp(xy, value, weight, depth, shape, "numba", g_s, g_l)
    for top, left, h, w in [(0, 0, 14, 14), (498, 498, 14, 14), (250, 100, 12, 12)]:
        # the points whose whole 7x7 window lies in the crop get their full gradient from the
        # crop's pixels: the reference on the crop, from every point that reaches it, gives it
        near = (
            (xy[:, 0] > left - 4.5)
            & (xy[:, 0] < left + w + 3.5)
            & (xy[:, 1] > top - 4.5)
            & (xy[:, 1] < top + h + 3.5)
        )
        shift = torch.tensor([left, top], dtype=F64)
        leaves = [(xy[near].double() - shift), value[near].double(), weight[near].double()]
        leaves = [t.clone().requires_grad_() for t in leaves]
        S, lam = splat_reference(*leaves, depth[near].double(), (h, w))
        crop = (slice(top, top + h), slice(left, left + w))
        loss = (S * g_s[crop].double()).sum() + (lam * g_l[crop].double()).sum()
        want = torch.autograd.grad(loss, leaves)
        c = torch.round(leaves[0].detach())
        inner = (c[:, 0] >= 3) & (c[:, 0] <= w - 4) & (c[:, 1] >= 3) & (c[:, 1] <= h - 4)
        assert inner.sum() > 30
        for g, wnt in zip(grads, want):
            torch.testing.assert_close(g[near][inner].double(), wnt[inner], rtol=1e-4, atol=1e-5)
    # points far behind others get (almost) no gradient: occlusion is effective
    assert (grads[1].abs() < 1e-6).float().mean() > 0.5


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_torch_path_matches_cpu_numba(make_points):
    shape = (383, 552)
    xy, value, weight, depth = make_points(30_000, shape, seed=9, margin=5.0)
    gen = torch.Generator().manual_seed(3)
    g_s = torch.randn(shape, generator=gen, dtype=F64)
    g_l = torch.randn(shape, generator=gen, dtype=F64)
    want = _vjp(xy, value, weight, depth, shape, "numba", g_s, g_l)
    cuda = [t.cuda() for t in (xy, value, weight, depth)]
    got = _vjp(*cuda, shape, "auto", g_s.cuda(), g_l.cuda())
    for g, w in zip(got, want):
        assert g.is_cuda
        torch.testing.assert_close(g.cpu(), w, rtol=1e-7, atol=1e-8)
    with pytest.raises(ValueError, match="numba"):
        splat(*cuda, shape, backend="numba")
