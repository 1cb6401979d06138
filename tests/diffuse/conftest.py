"""Random diffusion problems shared by the diffuse tests (as fixtures returning factories)."""

from __future__ import annotations

import pytest
import torch


def make_random_problem(
    shape, seed=0, density=0.2, theta_lo=0.1, theta_hi=1.0, dtype=torch.float64
):
    """(S, lam, theta) ``[H, W]``: data on a random subset (never empty), log-uniform theta."""
    g = torch.Generator().manual_seed(seed)
    S = torch.rand(shape, generator=g, dtype=torch.float64) * 4.0 - 1.0
    lam = torch.where(
        torch.rand(shape, generator=g, dtype=torch.float64) < density,
        0.5 + torch.rand(shape, generator=g, dtype=torch.float64),
        torch.zeros(shape, dtype=torch.float64),
    )
    lam.view(-1)[int(torch.randint(lam.numel(), (1,), generator=g))] = 1.0
    u = torch.rand(shape, generator=g, dtype=torch.float64)
    theta = theta_lo * (theta_hi / theta_lo) ** u
    return S.to(dtype), lam.to(dtype), theta.to(dtype)


def make_cut_problem(shape, seed=0, theta_cut=1e-8):
    """Piecewise-constant rectangles, data on their rims only, theta cut across the rims."""
    g = torch.Generator().manual_seed(seed)
    H, W = shape
    label = torch.zeros(shape, dtype=torch.long)
    for k in range(1, 6):
        y0 = int(torch.randint(H, (1,), generator=g))
        x0 = int(torch.randint(W, (1,), generator=g))
        h = int(torch.randint(H // 4 + 1, H // 2 + 2, (1,), generator=g))
        w = int(torch.randint(W // 4 + 1, W // 2 + 2, (1,), generator=g))
        label[y0 : y0 + h, x0 : x0 + w] = k
    depth = torch.rand(6, generator=g, dtype=torch.float64) * 5.0
    edge = torch.zeros(shape, dtype=torch.bool)
    dx = label[:, 1:] != label[:, :-1]
    dy = label[1:, :] != label[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    S = depth[label]
    lam = edge.double()
    theta = torch.where(edge, torch.full(shape, theta_cut, dtype=torch.float64), torch.ones(shape))
    return S, lam, theta.double()


@pytest.fixture
def random_problem():
    return make_random_problem


@pytest.fixture
def cut_problem():
    return make_cut_problem
