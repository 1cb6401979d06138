"""The compiled pinhole warping kernels against their plain torch definitions: warped views,
errors and visibility, forward and backward (random cotangents), gradcheck in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffdepth.photo.pinhole import (
    PinholeWarp,
    _compiled_ok,
    pinhole_errors,
    pinhole_subset_means,
    pinhole_visibility,
    pinhole_visibility_reference,
    pinhole_warp,
    pinhole_warp_reference,
    stack_views,
    warp_matrices,
)
from diffdepth.synth.multiview import make_multiview
from diffdepth.types import MultiViewScene


def _rotation(rng, degrees):
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    a = np.radians(degrees)
    Kx = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * Kx + (1 - np.cos(a)) * Kx @ Kx


def _random_case(seed=0, h=13, w=17, dtype=torch.float64):
    """A reference and three views of other sizes, rotated and moved: samples fall inside,
    outside and (view 2, turned by 100 degrees) behind the camera."""
    rng = np.random.default_rng(seed)
    sizes = [(h, w), (11, 19), (15, 14), (h, w)]
    images = [rng.random((a, b, 3)).astype(np.float32) for a, b in sizes]
    K = np.stack(
        [[[b * 0.9, 0, (b - 1) / 2], [0, b * 0.9, (a - 1) / 2], [0, 0, 1]] for a, b in sizes]
    )
    R = np.stack([np.eye(3), _rotation(rng, 6), _rotation(rng, 100), _rotation(rng, 3)])
    t = np.stack([np.zeros(3), [0.3, -0.1, 0.05], [0.2, 0.1, -0.3], [-0.25, 0.05, 0.1]])
    scene = MultiViewScene(images, [f"v{i}" for i in range(4)], K, R, t)
    stack, vsizes = stack_views(images[1:])
    A, b = (np.stack(m) for m in zip(*(warp_matrices(scene, 0, k) for k in (1, 2, 3))))
    ref = torch.as_tensor(images[0], dtype=dtype)
    rho = torch.as_tensor(rng.uniform(0.3, 1.2, (h, w)), dtype=dtype)
    return ref, torch.as_tensor(stack, dtype=dtype), vsizes, A, b, rho


def test_warp_matches_reference_forward_and_backward():
    ref, views, sizes, A, b, rho = _random_case()
    rho_a = rho.clone().requires_grad_()
    rho_b = rho.clone().requires_grad_()
    W1, e1 = pinhole_warp(rho_a, ref, views, sizes, A, b, backend="numba")
    W2, e2 = pinhole_warp_reference(rho_b, ref, views, sizes, A, b)
    assert W1.shape == (3, 3, 13, 17) and e1.shape == (3, 13, 17)
    torch.testing.assert_close(W1, W2, rtol=0, atol=1e-12)
    torch.testing.assert_close(e1, e2, rtol=0, atol=1e-12)
    gen = torch.Generator().manual_seed(3)
    gW = torch.randn(W1.shape, generator=gen, dtype=W1.dtype)
    ge = torch.randn(e1.shape, generator=gen, dtype=e1.dtype)
    (g1,) = torch.autograd.grad((W1 * gW).sum() + (e1 * ge).sum(), rho_a)
    (g2,) = torch.autograd.grad((W2 * gW).sum() + (e2 * ge).sum(), rho_b)
    assert g2.abs().max() > 0.1  # the views move with rho
    torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-10)
    # one output alone (the other's cotangent is absent)
    e3 = pinhole_warp(rho_a, ref, views, sizes, A, b)[1]
    e4 = pinhole_warp_reference(rho_b, ref, views, sizes, A, b)[1]
    (g3,) = torch.autograd.grad((e3 * ge).sum(), rho_a)
    (g4,) = torch.autograd.grad((e4 * ge).sum(), rho_b)
    torch.testing.assert_close(g3, g4, rtol=1e-9, atol=1e-10)


def test_the_case_covers_outside_and_behind():
    ref, views, sizes, A, b, rho = _random_case()
    _, seen = pinhole_errors(ref.numpy(), views.numpy(), sizes, A, b, rho.numpy())
    q = np.einsum("kij,j->ki", A, [8.0, 6.0, 1.0])[:, 2] + 0.7 * b[:, 2]
    assert (q < 0).any()  # one view sees the middle of the reference from behind
    assert seen.any() and not seen.all() and seen[0].mean() > 0.3


def test_warp_float32_agrees_with_float64():
    ref, views, sizes, A, b, rho = _random_case(seed=1)
    W64, e64 = pinhole_warp(rho, ref, views, sizes, A, b)
    W32, e32 = pinhole_warp(rho.float(), ref.float(), views.float(), sizes, A, b)
    assert W32.dtype == torch.float32
    torch.testing.assert_close(W32.double(), W64, rtol=0, atol=1e-5)
    torch.testing.assert_close(e32.double(), e64, rtol=0, atol=1e-5)


def test_gradcheck_float64():
    ref, views, sizes, A, b, rho = _random_case(seed=2, h=4, w=5)
    rho.requires_grad_()
    geometry = (sizes, A, b)
    assert torch.autograd.gradcheck(
        lambda r: PinholeWarp.apply(r, ref, views, geometry), (rho,), eps=1e-7, atol=1e-6
    )


def test_visibility_matches_reference():
    scene, depths = make_multiview(n_views=4, height=40, width=56, n_points=20, seed=1)
    rho = torch.as_tensor(1.0 / depths[0])
    A, b = (np.stack(m) for m in zip(*(warp_matrices(scene, 0, k) for k in (1, 2, 3))))
    sizes = np.array([scene.shape(k) for k in (1, 2, 3)])
    for tol, margin in ((0.02, 1e-4), (0.02, 0.5), (0.0, 0.0)):
        got = pinhole_visibility(rho, sizes, A, b, tol=tol, margin=margin)
        want = pinhole_visibility_reference(rho, sizes, A, b, tol=tol, margin=margin)
        assert got.dtype == torch.bool and got.shape == (3, 40, 56)
        assert (~want).sum() > 50  # the scene occludes and leaves the images
        # the two compute the projection in different orders: a rounding tie may differ
        assert (got != want).float().mean() < 1e-3


def test_errors_at_constant_and_map_rho_only_where_needed():
    ref, views, sizes, A, b, rho = _random_case(seed=4)
    ref, views = ref.float().numpy(), views.float().numpy()
    need = np.zeros(rho.shape, bool)
    need[2:9, 3:12] = True
    for r in (0.8, rho.numpy()):
        err, seen = pinhole_errors(ref, views, sizes, A, b, r, need)
        r_map = torch.tensor(np.broadcast_to(r, rho.shape), dtype=torch.float64)
        _, e_ref = pinhole_warp_reference(
            r_map, torch.as_tensor(ref), torch.as_tensor(views), sizes, A, b
        )
        assert err.dtype == np.float32 and seen.dtype == bool
        assert not seen[:, ~need].any() and (err[:, ~need] == 0).all()
        np.testing.assert_allclose(err[:, need], e_ref.numpy()[:, need], atol=1e-6)
        assert seen[:, need].any() and not seen[:, need].all()


def test_subset_means():
    rng = np.random.default_rng(0)
    err = rng.random((3, 4, 5)).astype(np.float32)
    seen = rng.random((3, 4, 5)) > 0.4
    member = np.array([[True, True, False], [False, False, True]])
    out = np.empty((2, 4, 5), np.float32)
    pinhole_subset_means(err, seen, member, out)
    for s in range(2):
        m = seen & member[s, :, None, None]
        n = m.sum(0)
        want = np.where(n > 0, (err * m).sum(0) / np.maximum(n, 1), 100.0)
        np.testing.assert_allclose(out[s], want, rtol=1e-6)


def test_without_gradient_the_same_warp():
    ref, views, sizes, A, b, rho = _random_case(seed=5)
    with torch.no_grad():
        W1, e1 = pinhole_warp(rho, ref, views, sizes, A, b)
    W2, e2 = pinhole_warp(rho.clone().requires_grad_(), ref, views, sizes, A, b)
    assert W2.requires_grad and not W1.requires_grad
    torch.testing.assert_close(W1, W2.detach(), rtol=0, atol=0)
    torch.testing.assert_close(e1, e2.detach(), rtol=0, atol=0)


def test_tensors_off_the_cpu_take_the_torch_definition():
    meta = torch.empty(3, 4, device="meta")
    assert not _compiled_ok("auto", meta) and _compiled_ok("auto", torch.ones(3, 4))
    assert not _compiled_ok("auto", torch.ones(3, 4, dtype=torch.float16))
    with pytest.raises(ValueError):
        _compiled_ok("numba", meta)


def test_bad_arguments():
    ref, views, sizes, A, b, rho = _random_case()
    with pytest.raises(ValueError):
        pinhole_warp(rho, ref, views, sizes[:2], A, b)
    with pytest.raises(ValueError):
        pinhole_warp(rho, ref[:5], views, sizes, A, b)
    with pytest.raises(ValueError):
        pinhole_warp(rho, ref, views, sizes, A, b, backend="cuda")
    with pytest.raises(ValueError):
        stack_views([np.zeros((1, 4, 3), np.float32)])
