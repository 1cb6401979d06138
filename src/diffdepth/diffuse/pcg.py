"""Preconditioned conjugate gradients on a multigrid hierarchy (numpy or torch vectors)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class PCGResult:
    """Outcome of one solve."""

    x: object  # solution, same kind as the right-hand side ([H, W] numpy array or tensor)
    iterations: int  # preconditioned CG iterations (one V-cycle and one product with A each)
    residual: float  # final relative residual ||b - A x|| / ||b||, recomputed from x
    converged: bool  # residual <= tol


def pcg(mg, b, x0=None, tol: float = 1e-6, maxiter: int = 100) -> PCGResult:
    """Solve A x = b to relative residual ``tol`` with a multigrid-preconditioned CG.

    ``mg`` provides ``matvec``, ``precondition`` (one V-cycle; a fresh array unless
    ``fresh=False``), ``dot``, the in-place updates ``cg_step`` and ``xpby``, and the fused
    ``residual``, ``start`` and ``rescale``. The residual
    reported is recomputed as b - A x at the end (not the recurrence's), and CG restarts from
    it in the rare case where the recurrence has drifted below tol while the true residual has
    not.

    A warm start x0 is first rescaled to alpha x0 with alpha = (b . A x0) / |A x0|^2, the
    multiple of x0 with the smallest residual, when that lowers the residual by 10 % or more:
    after a change of the operator's overall scale (all weights of an optimisation step moving
    together) the old solution is right up to a factor, and the factor costs CG iterations.
    """
    bnorm = math.sqrt(mg.dot(b, b))
    if bnorm == 0.0:
        return PCGResult(b * 0.0, 0, 0.0, True)
    if x0 is None:
        x = b * 0.0
        r = b.clone() if hasattr(b, "clone") else b.copy()
        res = 1.0
    else:
        x, r, Ax, rr, bAx, AxAx = mg.start(b, x0)  # x: a copy of x0
        if AxAx > 0.0:
            alpha = bAx / AxAx
            t = 1.0 - alpha  # |b - alpha A x0|^2 = |r + t A x0|^2, without cancellation
            if rr + 2.0 * t * (bAx - AxAx) + t * t * AxAx < 0.81 * rr:
                rr = mg.rescale(x, r, b, Ax, alpha)
        del Ax
        res = math.sqrt(rr) / bnorm
    it = 0
    while res > tol and it < maxiter:
        p = mg.precondition(r)
        rz = mg.dot(r, p)
        start = it
        while it < maxiter:
            Ap = mg.matvec(p)
            pAp = mg.dot(p, Ap)
            if not pAp > 0.0:  # breakdown: no further progress possible in this direction
                break
            rr = mg.cg_step(x, r, p, Ap, rz / pAp)  # x += a p, r -= a Ap
            it += 1
            if math.sqrt(rr) <= tol * bnorm:
                break
            z = mg.precondition(r, fresh=False)  # consumed before the next V-cycle
            rz_new = mg.dot(r, z)
            mg.xpby(z, p, rz_new / rz)  # p = z + beta p
            rz = rz_new
        r, rr = mg.residual(b, x)
        res = math.sqrt(rr) / bnorm
        if it == start:
            break
    return PCGResult(x, it, res, res <= tol)
