"""The screened-Poisson operator on the pixel grid, and the checks on its inputs.

Convention (used by the solver, the references and the tests alike)::

    E(D) = sum_p lam_p (D_p - S_p)^2 + sum_{p~q} w_pq (D_p - D_q)^2,
    w_pq = (theta_p + theta_q) / 2

over 4-neighbour pairs p~q. Setting dE/dD = 0 and dividing by 2 gives

    A D = lam * S,   A = diag(lam) + L_w,

where L_w is the weighted graph Laplacian: off-diagonal entries -w_pq, diagonal sum_q w_pq.

Edge weights are stored per direction: ``wx [H, W-1]`` joins pixel (i, j) to (i, j+1) and
``wy [H-1, W]`` joins (i, j) to (i+1, j).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

try:
    from diffdepth.diffuse import _kernels
except ImportError:  # pragma: no cover - numba is a dependency; torch reductions are the fallback
    _kernels = None


def check_inputs(S: Tensor, lam: Tensor, theta: Tensor) -> None:
    """Raise a ValueError a user can act on when (S, lam, theta) do not define a solvable system."""
    for name, t in (("S", S), ("lam", lam), ("theta", theta)):
        if not isinstance(t, Tensor):
            raise TypeError(f"diffuse: {name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 2:
            raise ValueError(f"diffuse: {name} must have shape [H, W], got {tuple(t.shape)}")
        if not t.is_floating_point():
            raise ValueError(f"diffuse: {name} must be a floating-point tensor, got {t.dtype}")
    if not (S.shape == lam.shape == theta.shape):
        raise ValueError(
            "diffuse: S, lam and theta must have the same shape [H, W], got "
            f"{tuple(S.shape)}, {tuple(lam.shape)}, {tuple(theta.shape)}"
        )
    if S.numel() == 0:
        raise ValueError(f"diffuse: empty grid {tuple(S.shape)}; H and W must be at least 1")
    if not (S.device == lam.device == theta.device):
        raise ValueError(
            f"diffuse: S, lam, theta are on different devices ({S.device}, {lam.device}, "
            f"{theta.device})"
        )
    stats = [_summary(t.detach()) for t in (S, lam, theta)]  # (non-finite count, min, max)
    if all(bad == t.numel() for (bad, _, _), t in zip(stats, (S, lam, theta))):
        raise ValueError(
            "diffuse: nothing to diffuse: S, lam and theta contain no finite data "
            "(NaN or inf everywhere)"
        )
    for name, (bad, _, _) in zip(("S", "lam", "theta"), stats):
        if bad:
            raise ValueError(
                f"diffuse: {name} has {bad} NaN or infinite value(s); all must be finite"
            )
    for name, (_, lo, _) in (("lam", stats[1]), ("theta", stats[2])):
        if lo < 0:
            raise ValueError(f"diffuse: {name} must be >= 0 everywhere, found minimum {lo:g}")
    if stats[1][2] <= 0:
        raise ValueError(
            "diffuse: nothing to diffuse: lam is zero everywhere, so no pixel carries data and "
            "the system A D = lam * S is singular (splat at least one point with weight > 0)"
        )


def _summary(t: Tensor) -> tuple[int, float, float]:
    """(number of non-finite entries, min and max of the finite entries) of a tensor."""
    fast = t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64)
    if fast and _kernels is not None:
        bad, lo, hi = _kernels.summary(t.contiguous().numpy())
        return int(bad), float(lo), float(hi)
    finite = torch.isfinite(t)
    bad = int((~finite).sum())
    if bad == t.numel():
        return bad, float("inf"), float("-inf")
    vals = t[finite] if bad else t
    return bad, float(vals.min()), float(vals.max())


def edge_weights(theta: Tensor) -> tuple[Tensor, Tensor]:
    """Edge weights w_pq = (theta_p + theta_q) / 2: ``wx [H, W-1]``, ``wy [H-1, W]``."""
    wx = 0.5 * (theta[:, :-1] + theta[:, 1:])
    wy = 0.5 * (theta[:-1, :] + theta[1:, :])
    return wx, wy


def degree(lam: Tensor, wx: Tensor, wy: Tensor) -> Tensor:
    """Diagonal of A: lam_p + sum_q w_pq, ``[H, W]``."""
    d = lam.clone()
    d[:, :-1] += wx
    d[:, 1:] += wx
    d[:-1, :] += wy
    d[1:, :] += wy
    return d


def neighbour_sum(x: Tensor, wx: Tensor, wy: Tensor) -> Tensor:
    """sum_q w_pq x_q for every pixel p, ``[H, W]``."""
    s = torch.zeros_like(x)
    s[:, :-1] += wx * x[:, 1:]
    s[:, 1:] += wx * x[:, :-1]
    s[:-1, :] += wy * x[1:, :]
    s[1:, :] += wy * x[:-1, :]
    return s


def apply_operator(x: Tensor, lam: Tensor, theta: Tensor) -> Tensor:
    """A x with A = diag(lam) + L_w (plain torch, differentiable), ``[H, W]``."""
    wx, wy = edge_weights(theta)
    return degree(lam, wx, wy) * x - neighbour_sum(x, wx, wy)


def grid_pairs(H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """The 4-neighbour pairs (p, q) of the row-major flattened grid, int64 [E] each: first the
    x-edges in the order of ``wx``, then the y-edges in the order of ``wy``."""
    idx = np.arange(H * W).reshape(H, W)
    p = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    q = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    return p, q


def dense_operator(diag: Tensor, wx: Tensor, wy: Tensor) -> Tensor:
    """A = diag(diag) - the weights of every pair, dense ``[H*W, H*W]``, differentiable."""
    H, W = diag.shape
    p, q = (torch.from_numpy(a).to(diag.device) for a in grid_pairs(H, W))
    w = torch.cat([wx.reshape(-1), wy.reshape(-1)])
    A = torch.diag(diag.reshape(-1))
    return A.index_put((p, q), -w, accumulate=True).index_put((q, p), -w, accumulate=True)


def assemble_dense(lam: Tensor, theta: Tensor) -> Tensor:
    """A as a dense ``[H*W, H*W]`` torch matrix, differentiable w.r.t. lam and theta."""
    wx, wy = edge_weights(theta)
    return dense_operator(degree(lam, wx, wy), wx, wy)


def assemble_scipy(lam: np.ndarray, theta: np.ndarray) -> sp.csr_matrix:
    """A = diag(lam) + L_w as a SciPy CSR matrix over the row-major flattened grid."""
    lam_t = torch.as_tensor(np.asarray(lam, dtype=np.float64))
    wx, wy = edge_weights(torch.as_tensor(np.asarray(theta, dtype=np.float64)))
    diag = degree(lam_t, wx, wy).numpy().ravel()
    p, q = grid_pairs(*lam_t.shape)
    w = np.concatenate([wx.numpy().ravel(), wy.numpy().ravel()])
    n = len(diag)
    rows = np.concatenate([np.arange(n), p, q])
    cols = np.concatenate([np.arange(n), q, p])
    vals = np.concatenate([diag, -w, -w])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
