"""supervised_loss: L1 to the ground truth over finite pixels plus a small smoothness."""

import pytest
import torch

from diffdepth.losses.supervised import supervised_loss


def _scene(H=24, W=26):
    y, x = torch.meshgrid(torch.arange(float(H)), torch.arange(float(W)), indexing="ij")
    gt = 0.8 * torch.sin(x / 5) + 0.4 * torch.cos(y / 4)
    gt[6:14, 8:18] += 1.0  # a raised block
    image = (gt[None].expand(3, H, W) + 1.0) / 3.0  # image edges where the map has edges
    return gt, image


def test_gradient_points_toward_the_ground_truth():
    gt, image = _scene()
    gt[0, :5] = float("nan")
    noise = torch.randn(gt.shape, generator=torch.Generator().manual_seed(0))
    D = (gt.nan_to_num(0.0) + noise).requires_grad_(True)
    supervised_loss(D, gt, image, w_s=0.0).backward()
    valid = torch.isfinite(gt)
    assert torch.equal(torch.sign(D.grad[valid]), torch.sign(D.detach() - gt)[valid])
    assert (D.grad[~valid] == 0).all()
    D.grad = None
    supervised_loss(D, gt, image).backward()
    assert float((D.grad[valid] * (gt - D.detach())[valid]).sum()) < 0  # a descent direction


def test_adam_on_the_map_alone_recovers_it():
    gt, image = _scene()
    D = torch.zeros_like(gt, requires_grad=True)
    opt = torch.optim.Adam([D], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        supervised_loss(D, gt, image).backward()
        opt.step()
    assert float((D.detach() - gt).abs().mean()) < 0.02


def test_no_finite_ground_truth_is_refused():
    gt, image = _scene()
    with pytest.raises(ValueError, match="no finite"):
        supervised_loss(torch.zeros_like(gt), torch.full_like(gt, float("nan")), image)
