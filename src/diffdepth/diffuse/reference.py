"""Plain, obviously-correct references for the fast solver (slow: tests and benchmarks only)."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla
import torch
from torch import Tensor

from diffdepth.diffuse import operator as op


def diffuse_spsolve(S: np.ndarray, lam: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """D ``[H, W]`` by a sparse direct solve (SuperLU) of A D = lam * S, float64."""
    S = np.asarray(S, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    A = op.assemble_scipy(lam, theta).tocsc()
    return spla.spsolve(A, (lam * S).ravel()).reshape(S.shape)


def diffuse_dense(S: Tensor, lam: Tensor, theta: Tensor) -> Tensor:
    """D ``[H, W]`` by a dense solve, differentiable by ordinary torch autograd (small grids)."""
    op.check_inputs(S, lam, theta)
    A = op.assemble_dense(lam, theta)
    return torch.linalg.solve(A, (lam * S).reshape(-1, 1)).reshape(S.shape)
