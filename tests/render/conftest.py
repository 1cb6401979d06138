"""Fixtures of the splatting tests: random point sets."""

import pytest
import torch


def random_points(
    n: int,
    shape: tuple[int, int],
    *,
    seed: int = 0,
    margin: float = 4.0,
    dtype: torch.dtype = torch.float64,
    depth_levels: int | None = None,
):
    """xy spread over the image plus ``margin`` px on every side, values, weights, depths.

    With ``depth_levels`` the depths take that many distinct values (many ties). Positions stay
    at least 0.05 px away from half-pixel coordinates, where the window jumps.
    """
    gen = torch.Generator().manual_seed(seed)
    h, w = shape
    span = torch.tensor([w - 1 + 2 * margin, h - 1 + 2 * margin], dtype=torch.float64)
    xy = torch.rand(n, 2, generator=gen, dtype=torch.float64) * span - margin
    frac = xy - torch.floor(xy)
    xy = torch.where((frac - 0.5).abs() < 0.05, xy + 0.1, xy)
    value = torch.randn(n, generator=gen, dtype=torch.float64)
    weight = torch.rand(n, generator=gen, dtype=torch.float64) + 0.1
    if depth_levels is None:
        depth = torch.rand(n, generator=gen, dtype=torch.float64)
    else:
        depth = torch.randint(0, depth_levels, (n,), generator=gen).to(torch.float64)
    return xy.to(dtype), value.to(dtype), weight.to(dtype), depth.to(dtype)


@pytest.fixture
def make_points():
    """The ``random_points`` factory."""
    return random_points
