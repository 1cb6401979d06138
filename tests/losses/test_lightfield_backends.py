"""The compiled CPU kernels of the light-field error and masks agree with the torch paths."""

import pytest
import torch

from diffdepth.losses import occlusion_masks, view_errors, view_errors_reference


def _case(dtype, seed=0, H=23, W=31):
    g = torch.Generator().manual_seed(seed)
    offs = torch.tensor(
        [[u, v] for v in (-2, 0, 1) for u in (-2, 0, 3) if (u, v) != (0, 0)], dtype=dtype
    )
    views = torch.rand(len(offs), 3, H, W, generator=g, dtype=dtype)
    ref = torch.rand(3, H, W, generator=g, dtype=dtype)
    # a two-layer map with a slanted part, values that push samples off the image at the borders
    D = torch.full((H, W), -0.6, dtype=dtype)
    D[5:15, 8:20] = 1.7
    D += 0.05 * torch.arange(W, dtype=dtype) + 0.01 * torch.rand(H, W, generator=g, dtype=dtype)
    return ref, views, offs, D


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_view_errors_numba_matches_torch_forward_backward(dtype):
    ref, views, offs, D = _case(dtype)
    cot = torch.randn(len(offs), *D.shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    out = {}
    for backend in ("numba", "torch"):
        d = D.clone().requires_grad_()
        e = view_errors(ref, views, offs, d, backend=backend)
        (e * cot).sum().backward()
        out[backend] = (e.detach(), d.grad)
    tol = 1e-5 if dtype == torch.float32 else 1e-11
    torch.testing.assert_close(out["numba"][0], out["torch"][0], atol=tol, rtol=tol)
    torch.testing.assert_close(out["numba"][1], out["torch"][1], atol=tol * 10, rtol=tol * 10)
    # and both agree with the plain grid_sample reference
    ref_e = view_errors_reference(ref, views, offs, D)
    torch.testing.assert_close(out["numba"][0], ref_e, atol=tol * 10, rtol=tol * 10)


def test_view_errors_numba_gradcheck():
    ref, views, offs, D = _case(torch.float64, H=9, W=11)
    D = (D * 0.3 + 0.137).requires_grad_()  # away from integer sample positions
    assert torch.autograd.gradcheck(
        lambda d: view_errors(ref, views, offs, d, backend="numba"), (D,), eps=1e-6, atol=1e-5
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_occlusion_masks_numba_matches_torch(dtype):
    _, _, offs, D = _case(dtype)
    a = occlusion_masks(D, offs, 0.1, backend="numba")
    b = occlusion_masks(D, offs, 0.1, backend="torch")
    assert a.dtype == torch.bool and a.shape == b.shape
    assert torch.equal(a, b)
    assert 0 < a.float().mean() < 1  # some pixels hidden or outside, most visible
