"""Edge-aware smoothness and the gradient reward."""

import torch

from diffdepth.losses.smoothness import edge_aware_smoothness, gradient_reward


def test_constant_map_is_perfectly_smooth():
    img = torch.rand(3, 9, 10, generator=torch.Generator().manual_seed(0))
    assert float(edge_aware_smoothness(torch.full((9, 10), 1.7), img)) == 0.0


def test_known_value_on_a_ramp():
    D = torch.arange(10.0).mul(0.5).expand(9, 10)  # |dx D| = 0.5, dy D = 0
    flat = torch.zeros(3, 9, 10)
    assert abs(float(edge_aware_smoothness(D, flat)) - 0.5) < 1e-6
    img = flat.clone()
    img[:, :, 5:] = 1.0  # one vertical image edge: weight exp(-1) on its 9 pairs
    want = 0.5 * (9 * 8 + 9 * torch.exp(torch.tensor(-1.0))) / 81
    assert abs(float(edge_aware_smoothness(D, img)) - float(want)) < 1e-6


def test_depth_edges_cost_less_on_image_edges():
    D = torch.zeros(12, 12)
    D[:, 6:] = 1.0
    aligned = torch.zeros(3, 12, 12)
    aligned[:, :, 6:] = 1.0
    elsewhere = torch.zeros(3, 12, 12)
    elsewhere[:, :, 3:] = 1.0
    assert edge_aware_smoothness(D, aligned) < edge_aware_smoothness(D, elsewhere)


def test_batched_form_and_gradient():
    D = torch.rand(2, 1, 6, 7, dtype=torch.float64, requires_grad=True)
    img = torch.rand(2, 3, 6, 7, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda d: edge_aware_smoothness(d, img), (D,))


def test_gradient_reward_is_minus_mean_absolute_gradient():
    E = torch.zeros(4, 5)
    assert float(gradient_reward(E)) == 0.0
    E[:, 2:] = 1.0  # one step of 1 across each row: 4 of the 16 x-pairs
    assert abs(float(gradient_reward(E)) + 4 / 16) < 1e-7
    sharp = torch.zeros(8, 8)
    sharp[:, 4:] = 1.0
    soft = torch.arange(8.0).div(7).expand(8, 8)  # same rise, spread out
    # equal total variation gives an equal reward; a larger rise a larger one
    assert abs(float(gradient_reward(sharp)) - float(gradient_reward(soft))) < 1e-6
    assert gradient_reward(2 * sharp) < gradient_reward(sharp)
