"""Differentiable diffusion of sparse labels into a dense map (screened Poisson on the grid).

    D = diffdepth.diffuse.diffuse(S, lam, theta, tol=1e-6, x0=None)

D minimises sum_p lam_p (D_p - S_p)^2 + sum_{p~q} (theta_p + theta_q)/2 (D_p - D_q)^2, i.e. solves
(diag(lam) + L_w) D = lam * S, by multigrid-preconditioned conjugate gradients to a relative
residual tol; gradients w.r.t. S, lam, theta come from one adjoint solve. ``DiffusionSolver``
warm-starts the forward and adjoint solves of repeated calls.
"""

from diffdepth.diffuse.operator import apply_operator, assemble_dense, assemble_scipy
from diffdepth.diffuse.reference import diffuse_dense, diffuse_spsolve
from diffdepth.diffuse.solver import ConvergenceWarning, DiffusionSolver, SolveInfo, diffuse

__all__ = [
    "diffuse",
    "DiffusionSolver",
    "SolveInfo",
    "ConvergenceWarning",
    "apply_operator",
    "assemble_dense",
    "assemble_scipy",
    "diffuse_dense",
    "diffuse_spsolve",
]
