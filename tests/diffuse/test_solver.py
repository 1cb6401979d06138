"""Forward solve: agreement with a sparse direct solve, convergence, warm starts, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffdepth.diffuse import (
    ConvergenceWarning,
    DiffusionSolver,
    SolveInfo,
    apply_operator,
    assemble_scipy,
    diffuse,
    diffuse_spsolve,
)
from diffdepth.diffuse.multigrid import HAVE_NUMBA

BACKENDS = ["torch"] + (["numba"] if HAVE_NUMBA else [])

SHAPES = [(1, 1), (1, 2), (1, 57), (1, 300), (40, 1), (2, 3), (17, 31), (64, 48), (33, 100)]


def rel_err(D: torch.Tensor, ref: np.ndarray) -> float:
    return float(np.abs(D.numpy() - ref).max() / max(np.abs(ref).max(), 1e-300))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_spsolve(shape, backend, random_problem):
    S, lam, theta = random_problem(shape, seed=sum(shape))
    info = SolveInfo()
    D = diffuse(S, lam, theta, info=info, backend=backend)
    ref = diffuse_spsolve(S.numpy(), lam.numpy(), theta.numpy())
    assert D.shape == S.shape and D.dtype == torch.float64
    assert rel_err(D, ref) < 1e-5
    assert info.forward_converged and info.forward_residual <= 1e-6
    assert info.backend == backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_matches_spsolve_wide_dynamic_range(backend, random_problem):
    # theta over 4 decades, sparse data: ill-conditioned, so ask for a tighter residual
    S, lam, theta = random_problem((45, 70), seed=3, density=0.05, theta_lo=1e-4)
    D = diffuse(S, lam, theta, tol=1e-10, backend=backend)
    ref = diffuse_spsolve(S.numpy(), lam.numpy(), theta.numpy())
    assert rel_err(D, ref) < 1e-6


def test_operator_matches_scipy_matrix(random_problem):
    S, lam, theta = random_problem((7, 9), seed=1)
    A = assemble_scipy(lam.numpy(), theta.numpy())
    x = torch.randn(7, 9, dtype=torch.float64)
    assert np.allclose(apply_operator(x, lam, theta).numpy().ravel(), A @ x.numpy().ravel())
    # the solve satisfies the normal equations of E: A D = lam * S
    D = diffuse(S, lam, theta, tol=1e-12)
    assert np.allclose(A @ D.numpy().ravel(), (lam * S).numpy().ravel(), atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (23, 41)])
def test_constant_diffuses_to_itself(shape, backend, random_problem):
    _, lam, theta = random_problem(shape, seed=5, theta_lo=1e-6, theta_hi=10.0)
    S = torch.full(shape, 2.5, dtype=torch.float64)
    # theta over 7 decades: the error bound is cond(A) * tol, so solve tightly
    D = diffuse(S, lam, theta, tol=1e-12, backend=backend)
    assert torch.allclose(D, S, rtol=1e-6, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cut_regions_converge(backend, cut_problem):
    S, lam, theta = cut_problem((96, 80), seed=2, theta_cut=1e-8)
    info = SolveInfo()
    D = diffuse(S, lam, theta, info=info, backend=backend)
    assert info.forward_converged and info.forward_residual <= 1e-6
    assert info.forward_iterations <= 40
    ref = diffuse_spsolve(S.numpy(), lam.numpy(), theta.numpy())
    # every region is filled from its own rim: the piecewise-constant map comes back
    assert np.abs(D.numpy() - ref).max() < 1e-4 * np.abs(ref).max()
    assert torch.allclose(D, S, atol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_start_from_solution(backend, random_problem):
    S, lam, theta = random_problem((50, 61), seed=7)
    D = diffuse(S, lam, theta, tol=1e-10, backend=backend)
    info = SolveInfo()
    D2 = diffuse(S, lam, theta, tol=1e-6, x0=D, info=info, backend=backend)
    assert info.forward_iterations <= 1 and info.forward_warm
    assert torch.allclose(D, D2, atol=1e-8)


def test_warm_start_helps_on_nearby_problem(cut_problem):
    S, lam, theta = cut_problem((128, 128), seed=4, theta_cut=1e-4)
    solver = DiffusionSolver(tol=1e-6)
    solver(S, lam, theta)
    cold = solver.last_info.forward_iterations
    solver(S, lam * 1.01, theta * 0.99)
    warm = solver.last_info.forward_iterations
    assert solver.last_info.forward_warm and warm < cold


def test_info_reports_iterations_and_residual(random_problem):
    S, lam, theta = random_problem((30, 20), seed=9)
    info = SolveInfo()
    diffuse(S, lam, theta, tol=1e-8, info=info)
    assert info.shape == (30, 20) and info.tol == 1e-8 and info.levels >= 2
    assert 1 <= info.forward_iterations <= 30
    assert 0 <= info.forward_residual <= 1e-8
    assert info.adjoint_iterations is None and info.warnings == []
    # the reported residual is the true one
    D = diffuse(S, lam, theta, tol=1e-8)
    r = (lam * S - apply_operator(D, lam, theta)).norm() / (lam * S).norm()
    assert float(r) <= 1e-8


def test_maxiter_warns_and_records(cut_problem):
    S, lam, theta = cut_problem((64, 64), seed=1, theta_cut=1e-6)
    info = SolveInfo()
    with pytest.warns(ConvergenceWarning, match="maxiter=2 with relative residual"):
        diffuse(S, lam, theta, maxiter=2, info=info)
    assert not info.forward_converged and info.forward_iterations == 2
    assert info.forward_residual > 1e-6 and len(info.warnings) == 1


def test_zero_rhs_gives_zero(random_problem):
    _, lam, theta = random_problem((8, 8), seed=1)
    info = SolveInfo()
    D = diffuse(torch.zeros(8, 8, dtype=torch.float64), lam, theta, info=info)
    assert torch.equal(D, torch.zeros(8, 8, dtype=torch.float64))
    assert info.forward_iterations == 0 and info.forward_converged


def test_float32_in_float32_out(random_problem):
    S, lam, theta = random_problem((20, 30), seed=2, dtype=torch.float32)
    D = diffuse(S, lam, theta)
    assert D.dtype == torch.float32
    ref = diffuse_spsolve(S.double().numpy(), lam.double().numpy(), theta.double().numpy())
    assert rel_err(D.double(), ref) < 1e-5


def test_lam_all_zero_raises():
    S = torch.rand(6, 7)
    with pytest.raises(ValueError, match="nothing to diffuse: lam is zero everywhere"):
        diffuse(S, torch.zeros(6, 7), torch.ones(6, 7))


@pytest.mark.parametrize(
    "which, value, message",
    [
        ("lam", -0.5, "lam must be >= 0"),
        ("theta", -1e-3, "theta must be >= 0"),
        ("S", float("nan"), "S has 1 NaN"),
        ("theta", float("inf"), "theta has 1 NaN or infinite"),
    ],
)
def test_bad_inputs_raise(which, value, message, random_problem):
    S, lam, theta = random_problem((5, 6), seed=0)
    args = {"S": S, "lam": lam, "theta": theta}
    args[which] = args[which].clone()
    args[which][2, 3] = value
    with pytest.raises(ValueError, match=message):
        diffuse(args["S"], args["lam"], args["theta"])


def test_all_nonfinite_raises():
    nan = torch.full((4, 4), float("nan"))
    with pytest.raises(ValueError, match="nothing to diffuse"):
        diffuse(nan, nan, nan)


def test_shape_mismatch_and_isolated_pixel_raise():
    with pytest.raises(ValueError, match="same shape"):
        diffuse(torch.ones(3, 4), torch.ones(3, 4), torch.ones(4, 3))
    lam = torch.zeros(5, 5, dtype=torch.float64)
    lam[0, 0] = 1.0
    theta = torch.ones(5, 5, dtype=torch.float64)
    theta[2:5, 2:5] = 0.0  # pixel (3, 3) has no data and no link to anyone
    with pytest.raises(ValueError, match=r"pixel \(row 3, col 3\)"):
        diffuse(torch.ones(5, 5, dtype=torch.float64), lam, theta)
    with pytest.raises(ValueError, match="x0 must have the grid's shape"):
        diffuse(torch.ones(5, 5), torch.ones(5, 5), torch.ones(5, 5), x0=torch.ones(5, 4))
