"""The compiled CPU kernel of the occlusion masks agrees with the torch path."""

import pytest
import torch

from diffdepth.losses import occlusion_masks


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_occlusion_masks_numba_matches_torch(dtype):
    g = torch.Generator().manual_seed(0)
    H, W = 23, 31
    offs = torch.tensor(
        [[u, v] for v in (-2, 0, 1) for u in (-2, 0, 3) if (u, v) != (0, 0)], dtype=dtype
    )
    # a two-layer map with a slanted part, values that push samples off the image at the borders
    D = torch.full((H, W), -0.6, dtype=dtype)
    D[5:15, 8:20] = 1.7
    D += 0.05 * torch.arange(W, dtype=dtype) + 0.01 * torch.rand(H, W, generator=g, dtype=dtype)
    a = occlusion_masks(D, offs, 0.1, backend="numba")
    b = occlusion_masks(D, offs, 0.1, backend="torch")
    assert a.dtype == torch.bool and a.shape == b.shape
    assert torch.equal(a, b)
    assert 0 < a.float().mean() < 1  # some pixels hidden or outside, most visible
