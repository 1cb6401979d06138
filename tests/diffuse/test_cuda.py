"""The torch backend on CUDA agrees with the CPU solve, forward and backward."""

from __future__ import annotations

import pytest
import torch

from diffdepth.diffuse import DiffusionSolver, SolveInfo, diffuse

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 37), (65, 130)])
def test_cuda_matches_cpu(shape, dtype, cut_problem):
    problem = [t.to(dtype) for t in cut_problem(shape, seed=1, theta_cut=1e-6)]
    g = torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(0))
    cpu = [t.clone().requires_grad_(True) for t in problem]
    gpu = [t.cuda().requires_grad_(True) for t in problem]
    Dc = diffuse(*cpu, tol=1e-10)
    Dc.backward(g)
    info = SolveInfo()
    Dg = diffuse(*gpu, tol=1e-10, info=info)
    Dg.backward(g.cuda())
    assert Dg.device.type == "cuda" and Dg.dtype == dtype and info.backend == "torch"
    assert info.forward_converged and info.adjoint_converged
    tol = 1e-5 if dtype == torch.float32 else 1e-8
    assert torch.allclose(Dg.cpu(), Dc, rtol=tol, atol=tol)
    for x, y in zip(gpu, cpu):
        assert x.grad.device.type == "cuda"
        assert torch.allclose(x.grad.cpu(), y.grad, rtol=1e-4, atol=1e-4 * y.grad.abs().max())


def test_cuda_solver_warm_start(cut_problem):
    S, lam, theta = (t.cuda() for t in cut_problem((128, 96), seed=3, theta_cut=1e-4))
    solver = DiffusionSolver()
    solver(S, lam, theta)
    cold = solver.last_info.forward_iterations
    solver(S, lam * 1.01, theta)
    assert solver.last_info.forward_warm and solver.last_info.forward_iterations < cold
