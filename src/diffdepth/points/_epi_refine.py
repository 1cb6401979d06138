"""Plane sweeps over the views: the coarse disparity range, and the per-point disparity polish."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from diffdepth.config import EPIConfig
from diffdepth.image import sample_bilinear


def estimate_disparity_range(a: torch.Tensor, uv: np.ndarray, bound: float) -> tuple[float, float]:
    """Disparity range of a scene from a coarse plane sweep over [-bound, bound].

    a [K, C, H, W] Lab views, uv [K, 2] their offsets (u = dc, v = dr) from the reference view
    (which must be among them).  The views are averaged down to about 192 px, every candidate
    disparity warps them onto the reference view, the colour variance across views (5x5 box)
    picks the best disparity per textured pixel, and the 2nd..98th percentiles of those,
    widened by one sweep step, are the range.  Returns (lo, hi).
    """
    k_views, c, h, w = a.shape
    span = float(np.abs(uv).max())
    if span == 0:
        raise ValueError("estimate_disparity_range: all views sit at the reference position")
    f = max(1, int(math.ceil(max(h, w) / 192)))
    small = F.avg_pool2d(a, f, ceil_mode=True) if f > 1 else a
    hs, ws = small.shape[-2:]
    step = f / span  # one coarse pixel at the outermost view
    cands = np.arange(-bound, bound + 0.5 * step, step)
    ys, xs = torch.meshgrid(
        torch.arange(hs, dtype=torch.float32), torch.arange(ws, dtype=torch.float32), indexing="ij"
    )
    uvt = torch.from_numpy(np.asarray(uv, np.float32))
    stack = small.permute(0, 2, 3, 1).contiguous()  # [K, hs, ws, C]
    view = torch.arange(k_views).view(-1, 1, 1)
    best = torch.full((hs, ws), float("inf"))
    best_d = torch.zeros(hs, ws)
    total = torch.zeros(hs, ws)
    for d in cands:
        sx = xs[None] - float(d) * uvt[:, 0, None, None] / f  # [K, hs, ws]
        sy = ys[None] - float(d) * uvt[:, 1, None, None] / f
        warped, _ = sample_bilinear(stack, sx, sy, view)  # [K, hs, ws, C]
        mu = warped.mean(0)
        cost = ((warped * warped).mean(0) - mu * mu).sum(-1)
        cost = F.avg_pool2d(cost[None, None], 5, stride=1, padding=2, count_include_pad=False)[0, 0]
        better = cost < best
        best = torch.where(better, cost, best)
        best_d = torch.where(better, torch.full_like(best_d, float(d)), best_d)
        total += cost
    mean = total / len(cands)
    ref = small[int(np.argmin(np.abs(uv).sum(1)))]
    gx = (ref[:, :, 2:] - ref[:, :, :-2]).norm(dim=0)
    gy = (ref[:, 2:, :] - ref[:, :-2, :]).norm(dim=0)
    grad = torch.zeros(hs, ws)
    grad[:, 1:-1] += gx
    grad[1:-1, :] += gy
    textured = grad >= torch.quantile(grad.flatten(), 0.7)
    distinct = best < 0.5 * mean
    sel = best_d[textured & distinct]
    if len(sel) < 20:
        sel = best_d[textured] if int(textured.sum()) >= 20 else best_d.flatten()
    lo, hi = np.percentile(sel.numpy(), [2.0, 98.0])
    return float(lo - step), float(hi + step)


def _sweep_cost(
    stack: torch.Tensor,
    uv: torch.Tensor,
    xy: torch.Tensor,
    disps: torch.Tensor,
    patch: torch.Tensor,
) -> torch.Tensor:
    """Colour variance across views of a patch warped by each disparity.

    stack [K, H, W, C] views, uv [K, 2], xy [N, 2], disps [N, J], patch [P, 2] offsets.
    Returns the cost [N, J]: variance over the views that see the sample, summed over
    channels and patch pixels.
    """
    k = uv.shape[0]
    px = xy[:, 0, None, None, None] + patch[None, None, :, 0, None]  # [N, 1, P, 1]
    py = xy[:, 1, None, None, None] + patch[None, None, :, 1, None]
    dd = disps[:, :, None, None]  # [N, J, 1, 1]
    x = px - dd * uv[None, None, None, :, 0]  # [N, J, P, K]
    y = py - dd * uv[None, None, None, :, 1]
    view = torch.arange(k).view(1, 1, 1, k).expand_as(x)
    s, inside = sample_bilinear(stack, x, y, view)  # [N, J, P, K, C]
    m = inside.float()[..., None]
    cnt = m.sum(3).clamp(min=1)
    mu = (s * m).sum(3) / cnt
    var = ((s * s) * m).sum(3) / cnt - mu * mu
    return var.clamp(min=0).sum((-1, -2))


def polish(
    a: torch.Tensor,
    uv: np.ndarray,
    xy: torch.Tensor,
    disp: torch.Tensor,
    conf: torch.Tensor,
    cfg: EPIConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Refine every point's disparity by a small plane sweep of patch variance across views.

    a [K, C, H, W] Lab views, uv [K, 2] their offsets (u = dc, v = dr), xy [N, 2], disp [N],
    conf [N].  Sweeps d + j step for |j step| <= radius, takes the minimum of the variance
    and refines it by a parabola; a minimum on the sweep's end re-centres the sweep there
    (up to polish_rounds times), and points whose minimum stays on the end are dropped.
    Returns xy, disp, conf of the kept points (conf scaled by how distinct the minimum is) and
    keep, bool [N]: which points are kept.
    """
    k_views, c, h, w = a.shape
    stack = a.permute(0, 2, 3, 1).contiguous()  # [K, H, W, C]
    uvt = torch.from_numpy(np.asarray(uv, np.float32))
    r = cfg.polish_patch
    g = torch.arange(-r, r + 1, dtype=torch.float32)
    patch = torch.stack(torch.meshgrid(g, g, indexing="xy"), dim=-1).reshape(-1, 2)
    m = max(1, int(round(cfg.polish_radius / cfg.polish_step)))
    steps = torch.arange(-m, m + 1, dtype=torch.float32) * cfg.polish_step
    n = len(xy)
    d0 = disp.clone()
    out_d = disp.clone()
    quality = torch.zeros(n)
    done = torch.zeros(n, dtype=torch.bool)
    todo = torch.arange(n)
    for _ in range(max(1, cfg.polish_rounds)):
        if len(todo) == 0:
            break
        costs = []
        for start in range(0, len(todo), cfg.chunk):
            sel = todo[start : start + cfg.chunk]
            disps = d0[sel, None] + steps[None, :]
            costs.append(_sweep_cost(stack, uvt, xy[sel], disps, patch))
        cost = torch.cat(costs)  # [T, J]
        j = cost.argmin(1)
        interior = (j > 0) & (j < 2 * m)
        jc = j.clamp(1, 2 * m - 1)
        rows = torch.arange(len(todo))
        left, mid, right = cost[rows, jc - 1], cost[rows, jc], cost[rows, jc + 1]
        denom = left - 2 * mid + right
        off = torch.where(denom > 1e-12, 0.5 * (left - right) / denom, torch.zeros_like(mid))
        off = off.clamp(-0.5, 0.5)
        fin = todo[interior]
        out_d[fin] = d0[fin] + (jc[interior].float() + off[interior] - m) * cfg.polish_step
        c_min = cost[rows, j]
        c_mean = cost.mean(1).clamp(min=1e-12)
        quality[fin] = (1.0 - c_min / c_mean)[interior].clamp(0, 1)
        done[fin] = True
        # Sweeps whose minimum lies on their end: centre the next sweep on that end.
        rest = todo[~interior]
        d0[rest] = d0[rest] + steps[j[~interior]]
        todo = rest
    keep = done
    return xy[keep], out_d[keep], (conf * quality.sqrt())[keep], keep
