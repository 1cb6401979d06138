"""Synthetic light fields with exact ground truth, shared by the loss tests (fixtures)."""

from __future__ import annotations

import math

import pytest
import torch

CROSSHAIR = [(-2.0, 0.0), (-1.0, 0.0), (1.0, 0.0), (2.0, 0.0), (0.0, -2.0), (0.0, -1.0)]
CROSSHAIR += [(0.0, 1.0), (0.0, 2.0)]
DIAGONAL = [(1.0, 1.0), (-1.0, 2.0), (2.0, -1.0)]


def texture(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A smooth RGB texture in 0..1 at any real (x, y): [3, *x.shape]. Wavelengths 6..15 px."""
    waves = [
        (0.70, 0.30, 0.1),
        (-0.25, 0.80, 1.3),
        (0.45, -0.55, 2.1),
        (0.90, 0.15, 0.7),
        (-0.60, -0.40, 2.9),
        (0.20, 0.95, 0.4),
    ]
    chans = []
    for c in range(3):
        acc = torch.zeros_like(x)
        for i, (a, b, p) in enumerate(waves):
            acc = acc + math.cos(c + i) * torch.sin(a * x + b * y + p + c)
        chans.append(0.5 + 0.08 * acc)
    return torch.stack(chans)


def constant_disparity_lf(
    d: float, offsets, H: int = 24, W: int = 28, dtype=torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference [H,W,3], views [K,H,W,3] (channel-last), offsets [K,2] of a fronto-parallel
    textured plane at disparity d: I_k(x - d u, y - d v) = I_ref(x, y) exactly."""
    y, x = torch.meshgrid(torch.arange(H, dtype=dtype), torch.arange(W, dtype=dtype), indexing="ij")
    ref = texture(x, y).permute(1, 2, 0).contiguous()
    views = torch.stack([texture(x + d * u, y + d * v).permute(1, 2, 0) for u, v in offsets])
    return ref, views, torch.tensor(offsets, dtype=dtype)


@pytest.fixture
def make_lf():
    """Factory: make_lf(d, offsets, H=24, W=28, dtype=float64) -> (ref, views, offsets)."""
    return constant_disparity_lf


@pytest.fixture
def crosshair():
    return list(CROSSHAIR)


@pytest.fixture
def diagonal():
    return list(DIAGONAL)
