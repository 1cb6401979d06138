"""Backward pass: implicit differentiation against autograd through a dense solve, gradcheck,
finite differences, and warm-started adjoints."""

from __future__ import annotations

import pytest
import torch

from diffdepth.diffuse import DiffusionSolver, SolveInfo, diffuse, diffuse_dense
from diffdepth.diffuse.multigrid import HAVE_NUMBA

BACKENDS = ["torch"] + (["numba"] if HAVE_NUMBA else [])


def leaves(problem):
    return [t.clone().requires_grad_(True) for t in problem]


GRADCHECK_CASES = [(s, b) for s in [(1, 1), (1, 6), (5, 1), (4, 5)] for b in BACKENDS]
# a grid above the direct-solve size, so the multigrid cycle is part of the check
GRADCHECK_CASES += [((3, 30), BACKENDS[-1])]


@pytest.mark.parametrize("shape, backend", GRADCHECK_CASES)
def test_gradcheck(shape, backend, random_problem):
    S, lam, theta = leaves(random_problem(shape, seed=11, density=0.5))
    lam.data += 0.05  # keep lam > 0 so the finite differences stay inside the domain

    def f(S, lam, theta):
        return diffuse(S, lam, theta, tol=1e-12, backend=backend)

    assert torch.autograd.gradcheck(f, (S, lam, theta), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(1, 13), (12, 10), (20, 23)])
def test_backward_matches_dense_autograd(shape, backend, random_problem):
    # independent reference: torch autograd through torch.linalg.solve on the assembled A
    problem = random_problem(shape, seed=3, theta_lo=1e-3, theta_hi=2.0)
    g = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    a = leaves(problem)
    b = leaves(problem)
    info = SolveInfo()
    D = diffuse(*a, tol=1e-12, info=info, backend=backend)
    D.backward(g)
    R = diffuse_dense(*b)
    R.backward(g)
    assert torch.allclose(D, R, rtol=1e-8, atol=1e-9)
    for x, y in zip(a, b):
        assert torch.allclose(x.grad, y.grad, rtol=1e-6, atol=1e-8 * y.grad.abs().max())
    assert info.adjoint_converged and info.adjoint_residual <= 1e-12
    assert info.adjoint_iterations >= 1


def test_finite_differences_on_cut_problem(cut_problem):
    # directional derivative of a loss through the solver, with theta spanning 8 decades
    S, lam, theta = cut_problem((24, 30), seed=6, theta_cut=1e-8)
    lam = lam + 0.01
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(24, 30, dtype=torch.float64, generator=gen)
    dirs = [torch.randn(24, 30, dtype=torch.float64, generator=gen) for _ in range(3)]
    dirs[2] = dirs[2] * theta  # relative perturbation of theta keeps it positive

    def loss(S, lam, theta):
        return (w * diffuse(S, lam, theta, tol=1e-13)).sum()

    args = leaves((S, lam, theta))
    loss(*args).backward()
    eps = 1e-6
    for k in range(3):
        plus = [t.clone() for t in (S, lam, theta)]
        minus = [t.clone() for t in (S, lam, theta)]
        plus[k] += eps * dirs[k]
        minus[k] -= eps * dirs[k]
        fd = (loss(*plus) - loss(*minus)) / (2 * eps)
        an = (args[k].grad * dirs[k]).sum()
        assert abs(float(fd - an)) <= 1e-6 * max(1.0, abs(float(an))), (k, float(fd), float(an))


def test_only_requested_gradients(random_problem):
    S, lam, theta = random_problem((6, 7), seed=1)
    S = S.clone().requires_grad_(True)
    D = diffuse(S, lam, theta)
    D.sum().backward()
    assert S.grad is not None and lam.grad is None and theta.grad is None
    # x0 gets no gradient
    x0 = torch.zeros(6, 7, dtype=torch.float64, requires_grad=True)
    theta2 = theta.clone().requires_grad_(True)
    diffuse(S.detach(), lam, theta2, x0=x0).sum().backward()
    assert x0.grad is None and theta2.grad is not None


def test_float32_gradients(random_problem):
    a = leaves(random_problem((10, 11), seed=2, dtype=torch.float32))
    b = leaves(random_problem((10, 11), seed=2, dtype=torch.float64))
    diffuse(*a).square().sum().backward()
    diffuse_dense(*b).square().sum().backward()
    for x, y in zip(a, b):
        assert x.grad.dtype == torch.float32
        assert torch.allclose(x.grad.double(), y.grad, rtol=1e-4, atol=1e-5 * y.grad.abs().max())


def test_solver_warm_starts_forward_and_adjoint(cut_problem):
    S, lam, theta = cut_problem((100, 90), seed=8, theta_cut=1e-4)
    g = torch.randn(100, 90, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    solver = DiffusionSolver(tol=1e-9)
    a = leaves((S, lam, theta))
    solver(*a).backward(g)
    cold = solver.last_info
    assert not cold.forward_warm and not cold.adjoint_warm
    b = leaves((S, lam * 1.01, theta * 0.99))
    solver(*b).backward(g)
    warm = solver.last_info
    assert warm.forward_warm and warm.adjoint_warm
    assert warm.forward_iterations < cold.forward_iterations
    assert warm.adjoint_iterations < cold.adjoint_iterations
    assert warm.adjoint_residual <= 1e-9
    # warm-started gradients equal cold ones for the same problem (to the solve's accuracy)
    c = leaves((S, lam * 1.01, theta * 0.99))
    diffuse(*c, tol=1e-11).backward(g)
    for x, y in zip(b, c):
        assert torch.allclose(x.grad, y.grad, rtol=1e-4, atol=1e-5 * y.grad.abs().max())
    solver.reset()
    assert solver.last_solution is None and solver.last_adjoint is None


@pytest.mark.parametrize("backend", BACKENDS)
def test_adjoint_tol_loosens_only_the_adjoint(backend, cut_problem):
    S, lam, theta = cut_problem((100, 90), seed=8, theta_cut=1e-4)
    g = torch.randn(100, 90, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    exact, loose = leaves((S, lam, theta)), leaves((S, lam, theta))
    tight_info, loose_info = SolveInfo(), SolveInfo()
    D_exact = diffuse(*exact, tol=1e-9, info=tight_info, backend=backend)
    D_exact.backward(g)
    D_loose = diffuse(*loose, tol=1e-9, adjoint_tol=1e-3, info=loose_info, backend=backend)
    D_loose.backward(g)
    # the forward map is untouched: same tolerance, same solve
    assert torch.equal(D_exact, D_loose)
    assert loose_info.forward_iterations == tight_info.forward_iterations
    assert loose_info.adjoint_tol == 1e-3 and tight_info.adjoint_tol == 1e-9
    assert 1e-9 < loose_info.adjoint_residual <= 1e-3
    assert loose_info.adjoint_iterations < tight_info.adjoint_iterations
    # ... and the gradients stay close to the exact ones (in the norm of each input's gradient)
    for x, y in zip(loose, exact):
        assert (x.grad - y.grad).norm() <= 0.05 * y.grad.norm()


def test_solver_passes_adjoint_tol(cut_problem):
    S, lam, theta = cut_problem((60, 50), seed=3, theta_cut=1e-4)
    solver = DiffusionSolver(tol=1e-9, adjoint_tol=1e-2)
    solver(*leaves((S, lam, theta))).square().sum().backward()
    info = solver.last_info
    assert info.forward_residual <= 1e-9 and info.adjoint_tol == 1e-2
    assert 1e-9 < info.adjoint_residual <= 1e-2


@pytest.mark.parametrize("bad", [0.0, 1.0, -1e-3, float("nan")])
def test_adjoint_tol_rejected(bad, random_problem):
    with pytest.raises(ValueError, match="adjoint_tol"):
        diffuse(*random_problem((4, 5), seed=0), adjoint_tol=bad)
    with pytest.raises(ValueError, match="adjoint_tol"):
        DiffusionSolver(adjoint_tol=bad)
