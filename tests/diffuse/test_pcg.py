"""PCG internals: the rescaled warm start and the fused residual kernels of both backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffdepth.diffuse import diffuse_spsolve, multigrid
from diffdepth.diffuse.multigrid import HAVE_NUMBA
from diffdepth.diffuse.pcg import pcg

BACKENDS = ["torch"] + (["numba"] if HAVE_NUMBA else [])


def _arrays(mg, *ts):
    return [t.numpy().copy() if mg.backend == "numba" else t.clone() for t in ts]


@pytest.mark.parametrize("backend", BACKENDS)
def test_scaled_warm_start_costs_at_most_one_iteration(backend, cut_problem):
    # a warm start that is right up to a factor (all weights of a step scaled together)
    S, lam, theta = cut_problem((40, 52), seed=4, theta_cut=1e-3)
    mg = multigrid.build(lam, theta, backend=backend)
    D = torch.from_numpy(diffuse_spsolve(S.numpy(), lam.numpy(), theta.numpy()))
    b, x0 = _arrays(mg, lam * S, 0.7 * D)
    res = pcg(mg, b, x0, tol=1e-6, maxiter=100)
    assert res.converged and res.iterations <= 1
    cold = pcg(mg, b, None, tol=1e-6, maxiter=100)
    assert cold.iterations > 3  # the problem itself is not trivial


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_start_that_is_not_a_multiple_is_not_rescaled(backend, random_problem):
    # rescaling only when it lowers the residual by 10 %: here alpha ~ 1 and x0 keeps its norm
    S, lam, theta = random_problem((30, 20), seed=2)
    mg = multigrid.build(lam, theta, backend=backend)
    D = torch.from_numpy(diffuse_spsolve(S.numpy(), lam.numpy(), theta.numpy()))
    noise = 1e-3 * torch.randn(D.shape, generator=torch.Generator().manual_seed(0), dtype=D.dtype)
    b, x0 = _arrays(mg, lam * S, D + noise)
    x, r, Ax, rr, bAx, AxAx = mg.start(b, x0)
    alpha = bAx / AxAx
    assert abs(alpha - 1.0) < 1e-3
    res = pcg(mg, b, x0, tol=1e-6, maxiter=100)
    assert res.converged
    x0_np = x0.numpy() if isinstance(x0, torch.Tensor) else x0
    assert np.allclose(x0_np, (D + noise).numpy())  # the caller's start is not modified


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed")
def test_fused_kernels_match_the_torch_hierarchy(random_problem):
    S, lam, theta = random_problem((23, 37), seed=5)
    mg_t = multigrid.build(lam, theta, backend="torch")
    mg_n = multigrid.build(lam, theta, backend="numba")
    g = torch.Generator().manual_seed(1)
    b = torch.randn(lam.shape, generator=g, dtype=torch.float64)
    x = torch.randn(lam.shape, generator=g, dtype=torch.float64)
    r_t, rr_t = mg_t.residual(b, x)
    r_n, rr_n = mg_n.residual(b.numpy(), x.numpy())
    assert np.allclose(r_n, r_t.numpy(), atol=1e-12) and rr_n == pytest.approx(rr_t, rel=1e-12)
    # residual = b - A x with the plain operator
    assert np.allclose(r_n, (b - mg_t.matvec(x)).numpy(), atol=1e-12)
    out_t = mg_t.start(b, x)
    out_n = mg_n.start(b.numpy(), x.numpy())
    for a_t, a_n in zip(out_t[:3], out_n[:3]):
        assert np.allclose(a_n, a_t.numpy(), atol=1e-12)
    for a_t, a_n in zip(out_t[3:], out_n[3:]):
        assert a_n == pytest.approx(a_t, rel=1e-10)
    x_t, r_t2, Ax_t = (t.clone() for t in out_t[:3])
    x_n, r_n2, Ax_n = (a.copy() for a in out_n[:3])
    rr_t = mg_t.rescale(x_t, r_t2, b, Ax_t, 0.8)
    rr_n = mg_n.rescale(x_n, r_n2, b.numpy(), Ax_n, 0.8)
    assert np.allclose(x_n, 0.8 * x.numpy()) and np.allclose(x_t.numpy(), 0.8 * x.numpy())
    assert np.allclose(r_n2, (b - 0.8 * mg_t.matvec(x)).numpy(), atol=1e-12)
    assert rr_n == pytest.approx(rr_t, rel=1e-10)
