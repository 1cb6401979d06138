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


def _ridge_sides(
    y: torch.Tensor, x_e: torch.Tensor, d: torch.Tensor, side: torch.Tensor, cfg: EPIConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The side and the shift of each line, mended at thin structures.

    A structure a few pixels wide in front of an untextured background gives two lines of
    the same slope close together on an EPI row, and the colour test of `_support` fails on
    them: outside, the untextured background stays constant along the line; inside, the
    +-1 px samples straddle the structure's other edge.  So a line with a line of the same
    slope (within ``ridge_tol``) no farther than ``ridge_width`` px on exactly one side takes
    that side, and moves ``ridge_shift`` px towards it (at most to the midpoint of the two
    lines: the edges of a structure narrower than the filters are found outside it).  Other
    lines keep the colour test's side and ``side_shift``.  y, x_e, d, side [N]; returns side
    and the signed shift [N] (x_p = x_e + shift).
    """
    shift = side * cfg.side_shift
    if cfg.ridge_width <= 0 or len(x_e) < 2:
        return side, shift
    key = y.double() * (x_e.max().double() + 4 * cfg.ridge_width + 1) + x_e.double()
    order = torch.argsort(key)
    ys, xs, ds = y[order], x_e[order], d[order]

    # The pairs (k, k + 1) in sorted order: neighbours on one EPI row, of one slope.
    gap = xs[1:] - xs[:-1]  # [N-1]
    same = (ys[1:] == ys[:-1]) & (gap <= cfg.ridge_width)
    same &= (ds[1:] - ds[:-1]).abs() <= cfg.ridge_tol
    no = torch.zeros(1, dtype=torch.bool)
    inf = torch.full((1,), float("inf"))
    right_ok, right_gap = torch.cat([same, no]), torch.cat([gap, inf])
    left_ok, left_gap = torch.cat([no, same]), torch.cat([inf, gap])
    one = right_ok ^ left_ok
    new_side = torch.where(right_ok, 1.0, -1.0)
    half_gap = 0.5 * torch.where(right_ok, right_gap, left_gap)
    new_shift = new_side * torch.minimum(torch.full_like(half_gap, cfg.ridge_shift), half_gap)
    side_sorted = torch.where(one, new_side, side[order])
    shift_sorted = torch.where(one, new_shift, shift[order])
    side_out, shift_out = torch.empty_like(side), torch.empty_like(shift)
    side_out[order], shift_out[order] = side_sorted, shift_sorted
    return side_out, shift_out


def epi_lines(
    a: torch.Tensor, u: np.ndarray, slopes: np.ndarray, cfg: EPIConfig, transposed: bool
) -> dict[str, torch.Tensor]:
    """Lines on the EPIs of a row of views, as points of the reference view.

    a [n, C, H, W] Lab views of one row of the grid (for the reference column: transposed,
    so that the EPIs are rows again), u [n] view offsets, slopes [S] the filter bank.
    Returns xy [N, 2] (reference-view x = column, y = row), disp [N], conf [N] in 0..1 and
    sides uint8 [N]: the bit (`types.SIDE_STEPS`) of the side across each point's edge, away
    from the side whose colour follows the line (the occluded side at a depth edge).
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
        none = torch.zeros(0, dtype=torch.uint8)
        return {"xy": empty.reshape(0, 2), "disp": empty, "conf": empty, "sides": none}

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
    side, shift = _ridge_sides(y, x_e, d, side, cfg)
    x_p = x_e + shift

    ok = support >= need
    scale = torch.quantile(strength, 0.99).clamp(min=1e-9) if len(strength) else 1.0
    conf = (strength / scale).clamp(max=1.0).sqrt() * (support.float() / n)
    xy = torch.stack([x_p, y], dim=1)[ok]
    # The occluded side is -side: bit 0 (-x) or 1 (+x); on a column's EPI 2 (-y) or 3 (+y).
    bit = (side < 0).long() + (2 if transposed else 0)
    sides = torch.bitwise_left_shift(torch.ones_like(bit), bit).to(torch.uint8)[ok]
    if transposed:
        xy = xy.flip(1)
    return {"xy": xy, "disp": d[ok], "conf": conf[ok], "sides": sides}


def merge_lines(
    lines: list[dict[str, torch.Tensor]], shape: tuple[int, int], agree_tol: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Row and column EPI points in one set, one point per reference pixel (the most confident).

    Returns xy [N, 2], disp [N], conf [N] and sides uint8 [N]: the sides (see `epi_lines`)
    of every line at the pixel whose disparity lies within ``agree_tol`` of the kept one's
    (a pixel of a structure two pixels wide keeps the sides of both its edges, and of both
    EPI directions).
    """
    h, w = shape

    def cat(key: str, shape: tuple[int, ...], dtype=torch.float32) -> torch.Tensor:
        parts = [ln[key] for ln in lines]
        return torch.cat(parts) if parts else torch.zeros(shape, dtype=dtype)

    xy, disp, conf = cat("xy", (0, 2)), cat("disp", (0,)), cat("conf", (0,))
    sides = cat("sides", (0,), torch.uint8)
    inside = (xy[:, 0] > -0.5) & (xy[:, 0] < w - 0.5) & (xy[:, 1] > -0.5) & (xy[:, 1] < h - 0.5)
    xy, disp, conf, sides = xy[inside], disp[inside], conf[inside], sides[inside]
    if len(xy) == 0:
        return xy, disp, conf, sides
    key = (xy[:, 1].round().long() * w + xy[:, 0].round().long()).numpy()
    order = np.argsort(-conf.numpy(), kind="stable")
    _, first = np.unique(key[order], return_index=True)
    sel = np.sort(order[first])
    kept = key[sel]
    by_key = np.argsort(kept, kind="stable")
    dst = by_key[np.searchsorted(kept[by_key], key)]  # [all] the kept point of each pixel
    d_np = disp.numpy()
    agree = np.abs(d_np - d_np[sel[dst]]) <= agree_tol
    out = np.zeros(len(sel), np.uint8)
    np.bitwise_or.at(out, dst[agree], sides.numpy()[agree])
    idx = torch.from_numpy(sel)
    return xy[idx], disp[idx], conf[idx], torch.from_numpy(out)
