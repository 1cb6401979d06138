import numpy as np
import pytest
import torch

from diffdepth.config import LossConfig
from diffdepth.losses.loss import reprojection_loss
from diffdepth.losses.multiview import MultiViewLoss
from diffdepth.synth.multiview import make_multiview
from diffdepth.types import MultiViewScene


@pytest.fixture(scope="module")
def synth():
    return make_multiview(n_views=5, seed=0)


def _twin_scene(img, shift=None):
    """Two cameras; the second equal to the first (shift None) or translated by shift."""
    h, w = img.shape[:2]
    K = np.array([[w, 0, (w - 1) / 2], [0, w, (h - 1) / 2], [0, 0, 1.0]])
    t2 = np.zeros(3) if shift is None else -np.asarray(shift, float)
    return MultiViewScene(
        [img, img.copy()],
        ["a", "b"],
        np.stack([K, K]),
        np.stack([np.eye(3)] * 2),
        np.stack([np.zeros(3), t2]),
    )


def test_zero_motion_warps_to_the_identity():
    rng = np.random.default_rng(0)
    img = rng.random((12, 17, 3)).astype(np.float32)
    loss = MultiViewLoss(0, _twin_scene(img))
    D = torch.rand(12, 17, dtype=torch.float64) + 0.1  # any depth
    W, M = loss.warp(D, 1)
    assert torch.allclose(W, torch.as_tensor(img, dtype=torch.float64).permute(2, 0, 1), atol=1e-6)
    assert bool((M == 1).all())
    _, parts, E = loss(D)
    assert float(E.abs().max()) < 1e-6 and parts["visible"] == 1.0


def test_fronto_parallel_plane_shifts_by_the_disparity():
    # camera 2 moved by b along x: a plane at depth z moves by f b / z pixels to the left,
    # so W(x) = I_2(x - f b / z)
    rng = np.random.default_rng(1)
    h, w = 10, 30
    scene = _twin_scene(rng.random((h, w, 3)).astype(np.float32), shift=[0.1, 0, 0])
    f = scene.K[0, 0, 0]
    z = f * 0.1 / 2.0  # disparity 2 px
    loss = MultiViewLoss(0, scene)
    W, M = loss.warp(torch.full((h, w), 1.0 / z, dtype=torch.float64), 1)
    img = torch.as_tensor(scene.images[1], dtype=torch.float64).permute(2, 0, 1)
    assert torch.allclose(W[:, :, 2:], img[:, :, :-2], atol=1e-9)
    assert bool((M[:, 2:] == 1).all()) and bool((M[:, :2] == 0).all())


def test_true_depth_reproduces_colours_and_wins(synth):
    scene, depths = synth
    loss = MultiViewLoss(0, scene, n_views=4)
    D = torch.as_tensor(1.0 / depths[0])
    l_true, parts, E = loss(D)
    assert E.shape == (120, 160) and parts["visible"] > 0.95
    assert set(parts) == {"error", "ssim", "grad_reward", "smoothness", "total", "visible"}
    assert float(E.median()) < 0.01
    for s in (0.9, 1.1):
        l_wrong, _, E_wrong = loss(D * s)
        assert float(l_wrong) > float(l_true) + 0.005
        assert float(E_wrong.median()) > 2 * float(E.median())


def test_occlusion_mask_agrees_with_ray_casting(synth):
    scene, depths = synth
    h, w = scene.shape(0)
    loss = MultiViewLoss(0, scene)
    D = torch.as_tensor(1.0 / depths[0], dtype=torch.float64)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    X = (np.stack([xs, ys, np.ones_like(xs)], -1) @ np.linalg.inv(scene.K[0]).T) * depths[0][
        ..., None
    ]
    X = (X - scene.t[0]) @ scene.R[0]
    for k in range(1, len(scene)):
        _, M = loss.warp(D, k)
        xy, z = scene.project(k, X.reshape(-1, 3))
        xy, z = xy.reshape(h, w, 2), z.reshape(h, w)
        inside = (xy[..., 0] >= 0) & (xy[..., 0] <= w - 1) & (xy[..., 1] >= 0)
        inside &= xy[..., 1] <= h - 1
        r = np.round(xy[inside]).astype(int)
        zk = np.full((h, w), np.inf)
        zk[inside] = depths[k][r[:, 1], r[:, 0]]
        truth = inside & (np.abs(zk - z) < 0.01 * z)
        M = M.numpy().astype(bool)
        assert (M == truth).mean() > 0.9
        hidden = inside & ~truth
        flagged = inside & ~M
        assert hidden.sum() > 300  # the scene does occlude
        # a z-buffer of reference pixels cannot see surfaces the reference does not see (a side
        # of the box), so it finds only part of what view k hides, but what it flags is hidden
        assert (flagged & hidden).sum() > 0.3 * hidden.sum()
        assert (flagged & hidden).sum() > 0.8 * flagged.sum()
        assert (flagged & truth).sum() < 0.03 * inside.sum()


def test_gradcheck_float64():
    scene, depths = make_multiview(n_views=3, height=6, width=8, n_points=20, seed=2)
    cfg = LossConfig.multi_view(w_ssim=0.05, w_g=0.01, w_s=0.05)
    loss = MultiViewLoss(0, scene, cfg, n_views=2)
    D = torch.as_tensor(1.0 / depths[0], dtype=torch.float64) * 1.03
    D.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda d: loss(d)[0], (D,), eps=1e-7, atol=1e-5)


def test_view_subsets_are_seeded():
    scene, depths = make_multiview(n_views=5, height=12, width=16, n_points=20)
    D = torch.as_tensor(1.0 / depths[2])

    def draws(seed):
        loss = MultiViewLoss(2, scene, n_views=2, generator=torch.Generator().manual_seed(seed))
        out = []
        for _ in range(6):
            loss(D)
            out.append(tuple(loss.last_views))
        return out

    a = draws(0)
    assert a == draws(0)
    assert all(len(v) == 2 and 2 not in v for v in a)
    assert len(set(a)) > 1  # redrawn every call
    everything = MultiViewLoss(2, scene, n_views=10)
    assert everything.select_views() == [0, 1, 3, 4]


def test_bad_arguments(synth):
    scene, _ = synth
    with pytest.raises(ValueError):
        MultiViewLoss(7, scene)
    with pytest.raises(ValueError):
        MultiViewLoss(0, scene)(torch.ones(5, 5))


def test_terms_are_the_one_assembly_of_the_warped_views(synth):
    # the multi-view loss is reprojection_loss of its per-view errors, masks and warped views
    scene, depths = synth
    cfg = LossConfig.multi_view()
    loss = MultiViewLoss(0, scene, cfg, views=[1, 2, 3])
    D = torch.as_tensor(1.05 / depths[0]).requires_grad_()
    got, parts, E = loss(D)
    warped, masks = zip(*(loss.warp(D, k) for k in (1, 2, 3)))
    W, M = torch.stack(warped), torch.stack(masks)
    I_ref = loss.I_ref.to(D.dtype)
    e = (I_ref[None] - W).abs().mean(1)
    want, want_parts, want_E = reprojection_loss(e, M, D, loss._edge_w, cfg, W, I_ref)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(E, want_E)
    assert parts["error"] == pytest.approx(float(E.mean()))
    assert parts["grad_reward"] < 0 and parts["ssim"] > 0
    assert parts["total"] == pytest.approx(
        parts["error"]
        + 0.01 * parts["grad_reward"]
        + 0.05 * parts["smoothness"]
        + 0.05 * parts["ssim"]
    )


def _grad(loss, D):
    d = D.clone().requires_grad_()
    value, _, _ = loss(d)
    (g,) = torch.autograd.grad(value, d)
    return value.detach(), g


def test_compiled_warp_agrees_with_the_torch_definition(synth):
    # the whole loss through the compiled warp and through plain torch: same value, same
    # gradient (float64: to rounding)
    scene, depths = synth
    D = torch.as_tensor(1.0 / depths[0], dtype=torch.float64) * 1.02
    v1, g1 = _grad(MultiViewLoss(0, scene, backend="numba"), D)
    v2, g2 = _grad(MultiViewLoss(0, scene, backend="torch"), D)
    torch.testing.assert_close(v1, v2, rtol=1e-12, atol=1e-14)
    assert g2.abs().max() > 0
    torch.testing.assert_close(g1, g2, rtol=1e-9, atol=1e-14)


def test_compiled_float32_gradient_is_the_float64_one(synth):
    # in float32 the kernel projects in float64 and keeps the float64 gradient to rounding of
    # the images; torch's float32 projection moves samples across pixel cells
    scene, depths = synth
    D = torch.as_tensor(1.0 / depths[0], dtype=torch.float64) * 1.02
    _, truth = _grad(MultiViewLoss(0, scene, backend="torch"), D)
    _, g = _grad(MultiViewLoss(0, scene, backend="numba"), D.float())
    assert g.dtype == torch.float32
    assert float((g.double() - truth).norm() / truth.norm()) < 1e-4
