"""Occlusion-robust photo-consistency: the error of a reference pixel over subsets of views.

For a disparity d per reference pixel (a map, or one value: a plane of constant disparity), view
k is sampled bilinearly at (x - d u_k, y - d v_k) (light-field convention; `diffdepth.image`'s
inside rule), and the error of the pixel in view k is the channel mean of |ref - view_k|.  A
*subset* of views averages the errors of its views that see the pixel (the sample lies inside
the image); a pixel that no view of the subset sees gets `UNSEEN`.  With one subset per view
(``member`` the identity) these are the per-view errors of the re-projection loss; with
`one_sided_subsets` they are the occlusion-robust costs of the plane sweep and the edge
refinement (a background pixel beside an occluder is hidden only on one side).

    costs = subset_errors(ref, views, offsets, member, D)       # [S, H, W]

`subset_errors_reference` is the plain torch definition the compiled kernel is tested against
(forward and, through autograd, backward).
"""

from __future__ import annotations

import numpy as np
import torch

from diffdepth.image import sample_bilinear
from diffdepth.photo._kernels import UNSEEN, subset_errors_kernel

__all__ = ["UNSEEN", "one_sided_subsets", "subset_errors", "subset_errors_reference"]


def one_sided_subsets(offsets: np.ndarray) -> np.ndarray:
    """bool [S, K]: the views on one side of the reference, for each of up to four sides pairs
    (left or up, right or down, left or down, right or up); empty and repeated sets dropped."""
    offsets = np.asarray(offsets, np.float64).reshape(-1, 2)
    u, v = offsets[:, 0], offsets[:, 1]
    sets = [(u < 0) | (v < 0), (u > 0) | (v > 0), (u < 0) | (v > 0), (u > 0) | (v < 0)]
    out: list[np.ndarray] = []
    for s in sets:
        if s.any() and not any((s == o).all() for o in out):
            out.append(s)
    if not out:
        out.append(np.ones(len(offsets), dtype=bool))
    return np.stack(out)


def subset_errors(
    ref: np.ndarray,
    views: np.ndarray,
    offsets: np.ndarray,
    member: np.ndarray,
    D: float | np.ndarray,
    need: np.ndarray | None = None,
    out: np.ndarray | None = None,
    sens: np.ndarray | None = None,
) -> np.ndarray:
    """Per-pixel error of every view subset, compiled.

    ref [H, W, C] and views [K, H, W, C] (float32 or float64, C-contiguous, one dtype; no
    copy is made), offsets [K, 2] (u, v), member bool [S, K], D a float (every pixel) or
    [H, W]; need bool [H, W]: only these pixels are computed (the others get UNSEEN).
    out [S, H, W] (allocated in ref's dtype when None) is filled and returned; sens, when
    given ([S, H, W]), receives d out / d D (0 where UNSEEN).
    """
    K, H, W, C = views.shape
    if ref.shape != (H, W, C) or not (ref.flags.c_contiguous and views.flags.c_contiguous):
        raise ValueError(
            f"subset_errors: ref [H, W, C] and views [K, H, W, C] must be C-contiguous and "
            f"agree, got {ref.shape} and {views.shape}"
        )
    offs = np.ascontiguousarray(np.asarray(offsets, np.float64).reshape(-1, 2))
    member = np.ascontiguousarray(member, dtype=bool)
    if len(offs) != K or member.ndim != 2 or member.shape[1] != K:
        raise ValueError(
            f"subset_errors: {K} views, {len(offs)} offsets, member {member.shape} ([S, K])"
        )
    D = np.asarray(D, dtype=np.float64)
    D = D.reshape(1, 1) if D.ndim == 0 else np.ascontiguousarray(D)
    if D.shape not in ((1, 1), (H, W)):
        raise ValueError(f"subset_errors: D must be a number or [H, W] = [{H}, {W}], got {D.shape}")
    need = np.ones((H, W), bool) if need is None else np.ascontiguousarray(need, dtype=bool)
    if out is None:
        out = np.empty((member.shape[0], H, W), ref.dtype)
    no_sens = np.empty((0, 0, 0), out.dtype)
    subset_errors_kernel(ref, views, offs, member, D, need, out, no_sens if sens is None else sens)
    return out


def subset_errors_reference(ref, views, offsets, member, D) -> torch.Tensor:
    """Plain torch definition of `subset_errors` (every pixel needed): float64 [S, H, W],
    differentiable w.r.t. D (a tensor) by autograd.  ref [H, W, C], views [K, H, W, C]."""
    ref = torch.as_tensor(np.asarray(ref) if not torch.is_tensor(ref) else ref).double()
    views = torch.as_tensor(np.asarray(views) if not torch.is_tensor(views) else views).double()
    offsets = torch.as_tensor(np.asarray(offsets, np.float64)).reshape(-1, 2)
    member = torch.as_tensor(np.asarray(member, bool))
    K, H, W, _ = views.shape
    D = torch.as_tensor(D, dtype=torch.float64).expand(H, W)
    yy, xx = torch.meshgrid(
        torch.arange(H, dtype=torch.float64), torch.arange(W, dtype=torch.float64), indexing="ij"
    )
    errors, seen = [], []
    for k in range(K):
        u, v = float(offsets[k, 0]), float(offsets[k, 1])
        val, inside = sample_bilinear(views[k : k + 1], xx - D * u, yy - D * v)
        errors.append((val - ref).abs().mean(-1))
        seen.append(inside)
    errors = torch.stack(errors)  # [K, H, W]
    seen = torch.stack(seen)
    out = []
    for s in range(member.shape[0]):
        m = seen & member[s, :, None, None]
        n = m.sum(0)
        total = torch.where(m, errors, torch.zeros_like(errors)).sum(0)
        out.append(torch.where(n > 0, total / n.clamp(min=1), torch.full_like(total, UNSEEN)))
    return torch.stack(out)
