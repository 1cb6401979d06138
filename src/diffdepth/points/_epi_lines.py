"""Line candidates on the EPIs of one row (or column) of views, and the merge of both directions."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from diffdepth.config import EPIConfig
from diffdepth.image import sample_bilinear
from diffdepth.points._epi_ops import filter_bank


def _parabola_offset(left: torch.Tensor, mid: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Vertex offset in -0.5..0.5 of the parabola through (-1, left), (0, mid), (1, right)."""
    denom = left - 2.0 * mid + right
    off = torch.where(denom.abs() > 1e-12, 0.5 * (left - right) / denom, torch.zeros_like(mid))
    return off.clamp(-0.5, 0.5)


def _tile_max(values: torch.Tensor, tile: int) -> torch.Tensor:
    """Per-pixel maximum of values [H, W] over its tile (tile x tile), same shape."""
    h, w = values.shape
    pooled = F.max_pool2d(values[None, None], tile, stride=tile, ceil_mode=True)[0, 0]
    return pooled.repeat_interleave(tile, 0).repeat_interleave(tile, 1)[:h, :w]


def _refine_lines(
    stack: torch.Tensor,
    u: torch.Tensor,
    y: torch.Tensor,
    x_e: torch.Tensor,
    d: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-pixel line fit: locate the edge in every view, then fit intercept and slope.

    In each view k the edge is sought near the line's position x_e - d u_k as the peak of the
    gradient across the edge projected on the line's mean gradient (a parabola through three
    samples half a pixel apart); the line through those positions is fitted by least squares,
    weighted by the positive projected gradient.  y, x_e, d [N]; returns x_e, d [N].
    """
    n = len(u)
    xv = x_e[:, None] - d[:, None] * u[None, :]  # [N, n]
    yv = y[:, None].expand_as(xv)
    vv = torch.arange(n)[None, :].expand_as(xv)
    offs = (-0.5, 0.0, 0.5)
    grads = []
    for o in offs:
        plus, _ = sample_bilinear(stack, xv + o + 0.5, yv, vv)
        minus, inside = sample_bilinear(stack, xv + o - 0.5, yv, vv)
        grads.append(plus - minus)  # [N, n, C]
    g_mean = grads[1].mean(1)
    g_dir = g_mean / g_mean.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    left, mid, right = ((g * g_dir[:, None, :]).sum(-1) for g in grads)
    off = 0.5 * _parabola_offset(left, mid, right)  # in pixels: samples 0.5 px apart
    peak = (mid >= left) & (mid >= right) & (mid > 0) & inside
    wgt = torch.where(peak, mid, torch.zeros_like(mid))
    q = xv + off  # [N, n] edge position per view
    sw = wgt.sum(1).clamp(min=1e-12)
    mu_u = (wgt * u[None, :]).sum(1) / sw
    mu_q = (wgt * q).sum(1) / sw
    var_u = (wgt * (u[None, :] - mu_u[:, None]) ** 2).sum(1) / sw
    cov = (wgt * (u[None, :] - mu_u[:, None]) * (q - mu_q[:, None])).sum(1) / sw
    ok = (var_u > 0.5) & (peak.sum(1) >= 3)
    d_new = torch.where(ok, -cov / var_u.clamp(min=1e-9), d)
    x_new = torch.where(ok, mu_q + d_new * mu_u, x_e)
    # A refinement that moves the line by more than a pixel anywhere is not trusted.
    span = u.abs().max()
    moved = ((x_new - x_e).abs() + (d_new - d).abs() * span) > 1.0
    return torch.where(moved, x_e, x_new), torch.where(moved, d, d_new)


def _support(
    stack: torch.Tensor,
    u: torch.Tensor,
    y: torch.Tensor,
    x_e: torch.Tensor,
    d: torch.Tensor,
    cfg: EPIConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Views that support each line, and the side of the edge that belongs to the line.

    A view supports the line when its gradient across the line, at the line's position in
    that view, points the same way as the line's mean gradient (cosine >= agree_cos) and is
    not much weaker (>= agree_ratio of it).  The side is -1 (left, lower x) or +1: the one
    whose colour stays constant along the line over the supporting views, i.e. the occluding
    side at a depth edge.  y, x_e, d [N]; returns support (long [N]) and side (float [N]).
    """
    n = len(u)
    xv = x_e[:, None] - d[:, None] * u[None, :]  # [N, n] the line in view k
    yv = y[:, None].expand_as(xv)
    vv = torch.arange(n)[None, :].expand_as(xv)
    plus, inside = sample_bilinear(stack, xv + 0.5, yv, vv)
    minus, _ = sample_bilinear(stack, xv - 0.5, yv, vv)
    grad = plus - minus  # [N, n, C]
    g_mean = (grad * inside[..., None]).sum(1) / inside.sum(1, keepdim=True).clamp(min=1)
    g_norm = grad.norm(dim=-1)
    m_norm = g_mean.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    cos = (grad * g_mean[:, None, :]).sum(-1) / (g_norm * m_norm).clamp(min=1e-12)
    agree = inside & (cos >= cfg.agree_cos) & (g_norm >= cfg.agree_ratio * m_norm)

    left, _ = sample_bilinear(stack, xv - 1.0, yv, vv)
    right, _ = sample_bilinear(stack, xv + 1.0, yv, vv)
    wgt = agree.float()[..., None]
    cnt = wgt.sum(1).clamp(min=1)

    def spread(s: torch.Tensor) -> torch.Tensor:  # colour variance over supporting views [N]
        mu = (s * wgt).sum(1) / cnt
        return (((s - mu[:, None, :]) ** 2) * wgt).sum((1, 2)) / cnt[:, 0]

    side = torch.where(spread(left) <= spread(right), -1.0, 1.0)
    return agree.sum(1), side


def epi_lines(
    a: torch.Tensor, u: np.ndarray, slopes: np.ndarray, cfg: EPIConfig, transposed: bool
) -> dict[str, torch.Tensor]:
    """Lines on the EPIs of a row of views, as points of the reference view.

    a [n, C, H, W] Lab views of one row of the grid (for the reference column: transposed,
    so that the EPIs are rows again), u [n] view offsets, slopes [S] the filter bank.
    Returns xy [N, 2] (reference-view x = column, y = row), disp [N], conf [N] in 0..1.
    """
    n, c, h, w = a.shape
    s_count = len(slopes)
    resp = filter_bank(a, u, slopes)  # [S, H, W-1]
    best, idx = resp.max(0)  # [H, W-1]
    mean_resp = resp.mean(0)

    # Non-maximum suppression across the edge, then the adaptive (per tile) threshold.
    keep = torch.zeros_like(best, dtype=torch.bool)
    keep[:, 1:-1] = (best[:, 1:-1] >= best[:, :-2]) & (best[:, 1:-1] > best[:, 2:])
    keep &= best >= cfg.min_response
    keep &= best >= cfg.min_peak * mean_resp
    keep &= (idx > 0) & (idx < s_count - 1)  # a maximum on the bank's end: out of range
    keep &= best >= cfg.tile_fraction * _tile_max(best * keep, cfg.tile)
    rows, cols = torch.nonzero(keep, as_tuple=True)
    empty = torch.zeros(0)
    if len(rows) == 0:
        return {"xy": empty.reshape(0, 2), "disp": empty, "conf": empty}

    # Sub-pixel edge position and slope (parabolas through the neighbouring responses).
    b_l, b_m, b_r = best[rows, cols - 1], best[rows, cols], best[rows, cols + 1]
    x_e = cols.float() + 0.5 + _parabola_offset(b_l, b_m, b_r)
    k = idx[rows, cols]
    r_l, r_m, r_r = resp[k - 1, rows, cols], resp[k, rows, cols], resp[k + 1, rows, cols]
    f_idx = k.float() + _parabola_offset(r_l, r_m, r_r)
    d = torch.from_numpy(np.interp(f_idx.numpy(), np.arange(s_count), slopes).astype(np.float32))
    strength = best[rows, cols]
    y = rows.float()
    del resp

    stack = a.permute(0, 2, 3, 1).contiguous()  # [n, H, W, C] for sampling
    uu = torch.from_numpy(np.asarray(u, np.float32))
    need = max(2, n - cfg.max_missing_views)

    # Lines that too few views support are dropped before and after the sub-pixel fit.
    support, _ = _support(stack, uu, y, x_e, d, cfg)
    pre = support >= need
    y, x_e, d, strength = y[pre], x_e[pre], d[pre], strength[pre]
    for _ in range(cfg.refine_iters):
        x_e, d = _refine_lines(stack, uu, y, x_e, d)
    support, side = _support(stack, uu, y, x_e, d, cfg)
    x_p = x_e + side * cfg.side_shift

    ok = support >= need
    scale = torch.quantile(strength, 0.99).clamp(min=1e-9) if len(strength) else 1.0
    conf = (strength / scale).clamp(max=1.0).sqrt() * (support.float() / n)
    xy = torch.stack([x_p, y], dim=1)[ok]
    if transposed:
        xy = xy.flip(1)
    return {"xy": xy, "disp": d[ok], "conf": conf[ok]}


def merge_lines(
    lines: list[dict[str, torch.Tensor]], shape: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row and column EPI points in one set, one point per reference pixel (the most confident).

    Returns xy [N, 2], disp [N], conf [N].
    """
    h, w = shape
    xy = torch.cat([ln["xy"] for ln in lines]) if lines else torch.zeros(0, 2)
    disp = torch.cat([ln["disp"] for ln in lines]) if lines else torch.zeros(0)
    conf = torch.cat([ln["conf"] for ln in lines]) if lines else torch.zeros(0)
    inside = (xy[:, 0] > -0.5) & (xy[:, 0] < w - 0.5) & (xy[:, 1] > -0.5) & (xy[:, 1] < h - 0.5)
    xy, disp, conf = xy[inside], disp[inside], conf[inside]
    if len(xy) == 0:
        return xy, disp, conf
    key = (xy[:, 1].round().long() * w + xy[:, 0].round().long()).numpy()
    order = np.argsort(-conf.numpy(), kind="stable")
    _, first = np.unique(key[order], return_index=True)
    sel = torch.from_numpy(np.sort(order[first]))
    return xy[sel], disp[sel], conf[sel]
