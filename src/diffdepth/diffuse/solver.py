"""Differentiable screened-Poisson diffusion: converged forward solve, implicit adjoint.

See ``operator.py`` for the convention: D solves A D = lam * S with A = diag(lam) + L_w.
The backward pass solves A a = dL/dD once more (A is symmetric) and reads off

    dL/dS_p = lam_p a_p,   dL/dlam_p = a_p (S_p - D_p),   dL/dw_pq = -(a_p - a_q)(D_p - D_q),
    dL/dtheta_p = 1/2 sum_{q~p} dL/dw_pq.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from diffdepth.diffuse import multigrid
from diffdepth.diffuse import operator as op
from diffdepth.diffuse.multigrid import _kernels
from diffdepth.diffuse.pcg import pcg


class ConvergenceWarning(RuntimeWarning):
    """A solve stopped at ``maxiter`` before reaching the relative residual ``tol``."""


@dataclass
class SolveInfo:
    """Record of one diffusion: filled by the forward solve, completed by the backward solve."""

    shape: tuple[int, int] = (0, 0)  # (H, W) of the grid
    tol: float = 0.0  # requested relative residual of the forward solve
    adjoint_tol: float = 0.0  # requested relative residual of the adjoint solve
    maxiter: int = 0  # iteration cap per solve
    backend: str = ""  # "numba" (CPU kernels) or "torch"
    levels: int = 0  # multigrid levels, the coarsest solved directly
    forward_iterations: int = 0  # PCG iterations of the forward solve
    forward_residual: float = float("nan")  # ||lam*S - A D|| / ||lam*S|| reached
    forward_converged: bool = False  # forward_residual <= tol
    forward_warm: bool = False  # the forward solve started from a warm start
    adjoint_iterations: int | None = None  # PCG iterations of the adjoint solve (None: no backward)
    adjoint_residual: float | None = None  # ||g - A a|| / ||g|| reached by the adjoint solve
    adjoint_converged: bool | None = None  # adjoint_residual <= tol
    adjoint_warm: bool | None = None  # the adjoint solve started from a warm start
    warnings: list[str] = field(default_factory=list)  # messages of solves that hit maxiter


@dataclass
class _Job:
    """Options and state one call hands to the autograd function (not differentiated)."""

    tol: float
    maxiter: int
    backend: str
    info: SolveInfo
    adjoint_tol: float | None = None  # None: tol
    adjoint_x0: Tensor | None = None  # warm start of the adjoint solve, [H, W]
    on_forward: object = None  # callable receiving the forward solution D [H, W] (float64)
    on_adjoint: object = None  # callable receiving the adjoint solution a [H, W] (float64)


def _to_backend(mg, t: Tensor, copy: bool = True):
    """t as the hierarchy's float64 array kind: a private copy, or (copy=False, for arrays
    that are only read during the call) the tensor's own memory when it already fits."""
    t = t.detach().to(torch.float64)
    if mg.backend == "numba":
        a = t.cpu().numpy()
        return np.array(a, order="C") if copy else np.ascontiguousarray(a)
    return t.contiguous()


def _to_torch(x, device) -> Tensor:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x).to(device)
    return x


def _solve(mg, b, x0: Tensor | None, job: _Job, which: str):
    """Solve A x = b (b in the hierarchy's array kind); fills the info, warns on maxiter."""
    info = job.info
    # pcg copies x0 before updating it and only reads b
    x0_b = None if x0 is None else _to_backend(mg, x0, copy=False)
    tol = job.tol if which == "forward" or job.adjoint_tol is None else job.adjoint_tol
    res = pcg(mg, b, x0_b, tol=tol, maxiter=job.maxiter)
    setattr(info, f"{which}_iterations", res.iterations)
    setattr(info, f"{which}_residual", res.residual)
    setattr(info, f"{which}_converged", res.converged)
    setattr(info, f"{which}_warm", x0 is not None)
    if not res.converged:
        msg = (
            f"diffuse: {which} solve on a {info.shape[0]}x{info.shape[1]} grid stopped at "
            f"maxiter={job.maxiter} with relative residual {res.residual:.3g} > tol {tol:g}"
        )
        info.warnings.append(msg)
        warnings.warn(msg, ConvergenceWarning, stacklevel=4)
    return res.x


def _check_isolated(diag) -> None:
    bad = diag <= 0
    if bool(bad.any()):
        where = np.argwhere(bad) if isinstance(bad, np.ndarray) else torch.nonzero(bad).cpu()
        i, j = (int(v) for v in where[0])
        raise ValueError(
            f"diffuse: pixel (row {i}, col {j}) has lam = 0 and theta = 0 on itself and all "
            f"its neighbours ({int(bad.sum())} such pixel(s)), so its value is undetermined; "
            "give it some smoothness (theta > 0) or data (lam > 0)"
        )


def _grads_torch(a: Tensor, D: Tensor, S: Tensor, lam: Tensor):
    dS = lam * a
    dlam = a * (S - D)
    gx = -(a[:, :-1] - a[:, 1:]) * (D[:, :-1] - D[:, 1:])  # dL/dw, [H, W-1]
    gy = -(a[:-1, :] - a[1:, :]) * (D[:-1, :] - D[1:, :])  # dL/dw, [H-1, W]
    dth = torch.zeros_like(D)
    dth[:, :-1] += gx
    dth[:, 1:] += gx
    dth[:-1, :] += gy
    dth[1:, :] += gy
    return dS, dlam, 0.5 * dth


class _Diffuse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, S, lam, theta, x0, job):
        out_dtype = torch.promote_types(torch.promote_types(S.dtype, lam.dtype), theta.dtype)
        lam64, theta64 = (t.detach().to(torch.float64) for t in (lam, theta))
        mg = multigrid.build(lam64, theta64, backend=job.backend)
        _check_isolated(mg.levels[0].diag)
        job.info.backend = mg.backend
        job.info.levels = len(mg.levels)
        S_b, lam_b = _to_backend(mg, S), mg.levels[0].lam
        D = _solve(mg, lam_b * S_b, x0, job, "forward")
        D_t = _to_torch(D, S.device)
        if job.on_forward is not None:
            job.on_forward(D_t)
        ctx.mg, ctx.job = mg, job
        ctx.S, ctx.D = S_b, D
        ctx.dtypes = (S.dtype, lam.dtype, theta.dtype)
        return D_t.to(out_dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        job, mg = ctx.job, ctx.mg
        x0 = job.adjoint_x0
        if x0 is not None and tuple(x0.shape) != tuple(g.shape):
            x0 = None
        a = _solve(mg, _to_backend(mg, g, copy=False), x0, job, "adjoint")
        if job.on_adjoint is not None:
            job.on_adjoint(_to_torch(a, g.device))
        lam = mg.levels[0].lam
        if isinstance(a, np.ndarray):
            dS, dlam, dtheta = (np.empty_like(a) for _ in range(3))
            _kernels.adjoint_grads(a, ctx.D, ctx.S, lam, dS, dlam, dtheta)
        else:
            dS, dlam, dtheta = _grads_torch(a, ctx.D, ctx.S, lam)
        out = []
        for grad, need, dtype in zip((dS, dlam, dtheta), ctx.needs_input_grad[:3], ctx.dtypes):
            out.append(_to_torch(grad, g.device).to(dtype) if need else None)
        # x0 (a warm start) and job (options) get no gradient
        return out[0], out[1], out[2], None, None


def _check_start(x0: Tensor | None, S: Tensor, name: str) -> Tensor | None:
    if x0 is None:
        return None
    if not isinstance(x0, Tensor):
        raise TypeError(f"diffuse: {name} must be a torch.Tensor or None, got {type(x0).__name__}")
    if tuple(x0.shape) != tuple(S.shape):
        raise ValueError(
            f"diffuse: {name} must have the grid's shape {tuple(S.shape)}, got {tuple(x0.shape)}"
        )
    if not bool(torch.isfinite(x0).all()):
        raise ValueError(f"diffuse: {name} contains NaN or infinite values")
    return x0.detach().to(device=S.device, dtype=torch.float64)


def _check_options(tol: float, maxiter: int, adjoint_tol: float | None = None) -> None:
    if not (tol > 0):
        raise ValueError(f"diffuse: tol must be > 0, got {tol!r}")
    if adjoint_tol is not None and not (0 < adjoint_tol < 1):
        raise ValueError(f"diffuse: adjoint_tol must be in (0, 1) or None, got {adjoint_tol!r}")
    if int(maxiter) < 0:
        raise ValueError(f"diffuse: maxiter must be >= 0, got {maxiter!r}")


def diffuse(
    S: Tensor,
    lam: Tensor,
    theta: Tensor,
    tol: float = 1e-6,
    x0: Tensor | None = None,
    *,
    maxiter: int = 200,
    info: SolveInfo | None = None,
    backend: str = "auto",
    adjoint_tol: float | None = None,
) -> Tensor:
    """Dense map D minimising sum lam (D - S)^2 + sum_{p~q} w_pq (D_p - D_q)^2.

    Args:
        S: labels ``[H, W]`` (read where lam > 0).
        lam: data weights ``[H, W]``, >= 0, not all zero.
        theta: smoothness ``[H, W]``, >= 0; the edge p~q has weight (theta_p + theta_q) / 2.
        tol: relative residual ||lam*S - A D|| / ||lam*S|| to reach, forward and adjoint.
        adjoint_tol: the adjoint solve's relative residual ||g - A a|| / ||g|| instead of tol
            (None: tol). The gradients are linear in a, so their relative error is about
            adjoint_tol times the conditioning of the residual's weighting; an optimiser
            that only follows their direction can take 1e-3 where the forward map needs 1e-6.
        x0: warm start ``[H, W]`` (e.g. the previous solution); gets no gradient.
        maxiter: cap on CG iterations per solve; hitting it warns (ConvergenceWarning).
        info: a SolveInfo to fill with iteration counts and residuals (adjoint fields on backward).
        backend: "auto" (numba kernels on CPU, torch elsewhere), "numba" or "torch".

    Returns:
        D ``[H, W]`` in the promoted dtype of the inputs, on their device; differentiable
        w.r.t. S, lam and theta by implicit differentiation (one adjoint solve per backward).

    The system is A D = lam * S with A = diag(lam) + L_w (L_w: weighted graph Laplacian,
    off-diagonals -w_pq, diagonal sum_q w_pq), solved in float64 by conjugate gradients
    preconditioned with an aggregation-multigrid V-cycle.
    """
    op.check_inputs(S, lam, theta)
    _check_options(tol, maxiter, adjoint_tol)
    x0 = _check_start(x0, S, "x0")
    adj = None if adjoint_tol is None else float(adjoint_tol)
    job = _Job(float(tol), int(maxiter), backend, info if info is not None else SolveInfo(), adj)
    job.info.shape, job.info.tol, job.info.maxiter = tuple(S.shape), float(tol), int(maxiter)
    job.info.adjoint_tol = float(tol) if adj is None else adj
    return _Diffuse.apply(S, lam, theta, x0, job)


class DiffusionSolver:
    """A reusable diffusion operator that warm-starts both solves from its previous call.

    An optimiser calls it hundreds of times with slowly changing S, lam, theta: the previous
    forward solution D starts the next forward solve and the previous adjoint solution starts
    the next adjoint solve, so each costs a few iterations instead of a cold solve.

    >>> solver = DiffusionSolver(tol=1e-6)
    >>> D = solver(S, lam, theta)          # cold
    >>> D.sum().backward()                 # adjoint, remembered
    >>> D = solver(S, lam * 1.01, theta)   # forward and (on backward) adjoint warm-started
    >>> solver.last_info.forward_iterations
    """

    def __init__(
        self,
        tol: float = 1e-6,
        maxiter: int = 200,
        backend: str = "auto",
        warm_start: bool = True,
        adjoint_tol: float | None = None,
    ):
        _check_options(tol, maxiter, adjoint_tol)
        self.tol = float(tol)  # relative residual of the forward solves
        # relative residual of the adjoint solves (None: tol); see `diffuse`
        self.adjoint_tol = None if adjoint_tol is None else float(adjoint_tol)
        self.maxiter = int(maxiter)  # CG iteration cap per solve
        self.backend = backend  # "auto", "numba" or "torch"
        self.warm_start = bool(warm_start)  # reuse the last solutions as starting points
        self.last_solution: Tensor | None = None  # last forward D, float64 [H, W]
        self.last_adjoint: Tensor | None = None  # last adjoint a, float64 [H, W]
        self.last_info: SolveInfo | None = None  # record of the last call

    def reset(self) -> None:
        """Forget the remembered solutions (the next call starts cold)."""
        self.last_solution = None
        self.last_adjoint = None

    def _remember_forward(self, D: Tensor) -> None:
        self.last_solution = D.detach()

    def _remember_adjoint(self, a: Tensor) -> None:
        self.last_adjoint = a.detach()

    def __call__(self, S: Tensor, lam: Tensor, theta: Tensor, x0: Tensor | None = None) -> Tensor:
        """D ``[H, W]`` for S, lam, theta ``[H, W]``; an explicit x0 overrides the warm start."""
        op.check_inputs(S, lam, theta)
        shape = tuple(S.shape)

        def usable(t: Tensor | None) -> bool:
            return (
                self.warm_start
                and t is not None
                and tuple(t.shape) == shape
                and t.device == S.device
            )

        x0 = _check_start(x0, S, "x0")
        if x0 is None and usable(self.last_solution):
            x0 = self.last_solution
        adj = self.tol if self.adjoint_tol is None else self.adjoint_tol
        info = SolveInfo(shape=shape, tol=self.tol, adjoint_tol=adj, maxiter=self.maxiter)
        job = _Job(self.tol, self.maxiter, self.backend, info, self.adjoint_tol)
        job.adjoint_x0 = self.last_adjoint if usable(self.last_adjoint) else None
        job.on_forward = self._remember_forward
        job.on_adjoint = self._remember_adjoint
        self.last_info = info
        D = _Diffuse.apply(S, lam, theta, x0, job)
        return D
