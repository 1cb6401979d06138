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
    ``fresh=False``), ``dot`` and the in-place updates ``cg_step`` and ``xpby``. The residual
    reported is recomputed as b - A x at the end (not the recurrence's), and CG restarts from
    it in the rare case where the recurrence has drifted below tol while the true residual has
    not.
    """
    bnorm = math.sqrt(mg.dot(b, b))
    if bnorm == 0.0:
        return PCGResult(b * 0.0, 0, 0.0, True)
    if x0 is None:
        x = b * 0.0
        r = b.clone() if hasattr(b, "clone") else b.copy()
    else:
        x = x0.clone() if hasattr(x0, "clone") else x0.copy()
        r = b - mg.matvec(x)
    res = math.sqrt(mg.dot(r, r)) / bnorm
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
        r = b - mg.matvec(x)
        res = math.sqrt(mg.dot(r, r)) / bnorm
        if it == start:
            break
    return PCGResult(x, it, res, res <= tol)
