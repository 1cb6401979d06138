"""LightFieldLoss and LossConfig."""

import dataclasses

import pytest
import torch

from diffdepth.losses import LightFieldLoss, LossConfig, masked_view_mean
from diffdepth.losses.lightfield import occlusion_masks, view_errors, warp_views
from diffdepth.losses.photometric import ssim
from diffdepth.losses.smoothness import edge_aware_smoothness, gradient_reward


def test_config_presets_and_validation():
    lf, mv = LossConfig.light_field(), LossConfig.multi_view()
    assert (lf.w_ssim, lf.w_g, lf.w_s, lf.distance) == (0.0, 0.01, 0.05, "rgb")
    assert mv.w_ssim == 0.05
    assert LossConfig.light_field(distance="vgg").distance == "vgg"
    with pytest.raises(dataclasses.FrozenInstanceError):
        lf.w_g = 1.0
    with pytest.raises(ValueError, match="distance"):
        LossConfig(distance="lab")
    with pytest.raises(ValueError, match="w_s"):
        LossConfig(w_s=-1.0)
    with pytest.raises(TypeError):
        LossConfig(w_smooth=0.1)


@pytest.mark.parametrize("w_ssim", [0.0, 0.05])
def test_total_is_the_sum_of_its_parts(make_lf, crosshair, diagonal, w_ssim):
    ref, views, off = make_lf(0.4, crosshair + diagonal)
    g = torch.Generator().manual_seed(0)
    D = (0.4 + 0.3 * torch.rand(ref.shape[:2], generator=g, dtype=torch.float64)).requires_grad_()
    cfg = LossConfig(w_ssim=w_ssim, w_g=0.01, w_s=0.05)
    loss, parts, E = LightFieldLoss(ref, views, off, cfg)(D)
    # independent assembly from the public pieces
    M = occlusion_masks(D, off, cfg.occlusion_margin)
    E_ref = masked_view_mean(view_errors(ref, views, off, D), M, cfg.eps)
    want = (
        E_ref.mean()
        + 0.01 * gradient_reward(E_ref)
        + 0.05 * edge_aware_smoothness(D, ref.permute(2, 0, 1))
    )
    torch.testing.assert_close(E, E_ref.detach())
    if w_ssim:
        warped = warp_views(views, off, D).permute(0, 3, 1, 2)
        dissim = 1 - ssim(warped, ref.permute(2, 0, 1)[None])[:, 0]
        want = want + w_ssim * masked_view_mean(dissim, M, cfg.eps).mean()
        assert parts["ssim"] > 0
    torch.testing.assert_close(loss, want)
    assert parts["total"] == pytest.approx(float(loss.detach()))
    assert parts["error"] == pytest.approx(float(E_ref.mean().detach()))
    (g1,) = torch.autograd.grad(loss, D)
    (g2,) = torch.autograd.grad(want, D)
    torch.testing.assert_close(g1, g2)
    assert not E.requires_grad


def test_true_disparity_has_the_lowest_loss_and_descent_moves_toward_it(make_lf, crosshair):
    ref, views, off = make_lf(-0.5, crosshair, dtype=torch.float32)
    loss_fn = LightFieldLoss(ref, views, off)
    losses = {}
    for d in (-0.9, -0.5, -0.1):
        D = torch.full(ref.shape[:2], d, requires_grad=True)
        loss, _, _ = loss_fn(D)
        loss.backward()
        losses[d] = float(loss.detach())
        if d != -0.5:
            assert float(D.grad.sum()) * (d + 0.5) > 0
    assert losses[-0.5] < losses[-0.9] and losses[-0.5] < losses[-0.1]


def test_occluded_views_do_not_count():
    # every view sees only a copy of the reference; pixels hidden in all views get E = 0
    ref = torch.rand(10, 12, 3, generator=torch.Generator().manual_seed(0))
    views = ref.expand(2, 10, 12, 3).contiguous()
    D = torch.full((10, 12), 3.0)
    _, _, E = LightFieldLoss(ref, views, [[1.0, 0.0], [2.0, 0.0]])(D)
    assert (E[:, :3] == 0).all()  # x - 3 < 0: outside both views


def test_bad_inputs_are_named():
    ref = torch.rand(8, 9, 3)
    with pytest.raises(ValueError, match="ref"):
        LightFieldLoss(ref, torch.rand(2, 8, 10, 3), [[1.0, 0.0], [0.0, 1.0]])
    loss_fn = LightFieldLoss(ref, torch.rand(2, 8, 9, 3), [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="D must be"):
        loss_fn(torch.zeros(9, 8))


def test_depth_edge_weight_marks_both_sides_of_a_jump_and_dilates():
    from diffdepth.losses.loss import depth_edge_weight

    D = torch.zeros(9, 12, dtype=torch.float64)
    D[:, 6:] = 1.0  # a vertical depth edge between columns 5 and 6
    D[:, :3] += 0.05 * torch.arange(3)  # a gentle slope stays unmasked
    w0 = depth_edge_weight(D, LossConfig(edge_mask_jump=0.2, edge_mask_dilation=0))
    assert torch.equal(w0.sum(0), torch.tensor([9.0] * 5 + [0.0, 0.0] + [9.0] * 5, dtype=D.dtype))
    w2 = depth_edge_weight(D, LossConfig(edge_mask_jump=0.2, edge_mask_dilation=2))
    assert (w2[:, 3:9] == 0).all() and (w2[:, :3] == 1).all() and (w2[:, 9:] == 1).all()
    assert depth_edge_weight(D, LossConfig(edge_mask_jump=2.0)).min() == 1


def test_edge_mask_removes_edge_pixels_from_the_error_term(make_lf, crosshair):
    ref, views, off = make_lf(0.4, crosshair)
    D = torch.full(ref.shape[:2], 0.4, dtype=torch.float64)
    D[:, D.shape[1] // 2 :] = 1.2  # a wrong depth edge
    D.requires_grad_()
    plain = LossConfig(w_g=0.0, w_s=0.0)
    masked = dataclasses.replace(plain, edge_mask_jump=0.2, edge_mask_dilation=1)
    loss_p, parts_p, E_p = LightFieldLoss(ref, views, off, plain)(D)
    loss_m, parts_m, E_m = LightFieldLoss(ref, views, off, masked)(D)
    torch.testing.assert_close(E_m, E_p)  # the error map itself is not masked
    (g,) = torch.autograd.grad(loss_m, D)
    c = D.shape[1] // 2
    assert (g[:, c - 2 : c + 2] == 0).all()  # no gradient from the masked columns
    assert g[:, : c - 2].abs().sum() > 0
    assert parts_m["error"] < parts_p["error"]
