"""The alternating optimisation of points and smoothness through splatting and diffusion.

Parameters (SPEC section 2): per point i a position ``xy[i]`` (px), a label ``value[i]`` and a
weight logit ``R[i]`` (weight ``exp(-R)``); per pixel a smoothness logit ``Q`` (``theta =
exp(-Q)``). One forward pass splats the points into (S, lam), diffuses them into a dense map D
and hands D to a loss. A *phase* optimises one parameter group with a fresh Adam while the
others stay fixed; a *pass* runs the phases in turn (SPEC section 6).

Three choices of the light-field presets go beyond the SPEC's defaults (each one is a field of
`diffdepth.config.ModelConfig` or `OptimConfig`; ``ModelConfig()`` and ``OptimConfig()`` are the
SPEC's):

- occlusion order ``"robust"``: points are composited front to back by the median label of their
  nearest neighbours (ties: the point closest to that median first) instead of by their own
  label. With tens of thousands of points every pixel is covered by several of them, and the
  SPEC's opacity is about 1 out to 2.5 px, so ordering by the noisy label itself shows the
  largest label of each neighbourhood: a bias towards the front, and an outlier that lies in
  front of its neighbours hides them. The robust order keeps true occlusions (at a depth edge
  the neighbourhood median changes with the side) and sends outliers to the back.
- occlusion cuts in the initial smoothness: where a point has a neighbour within
  ``cut_radius`` px whose label is smaller by more than ``cut_jump`` (it lies behind), the
  point's pixel and its neighbour towards the farther point get ``cut_strength`` added to Q.
  Image edges alone miss silhouettes of low contrast, and diffusion then draws a ramp from the
  foreground into the background.
- anchors: ``prior_value * mean((value - value0)^2) + prior_xy * mean(|xy - xy0|^2)`` is added
  to the loss, so that labels and positions move where the re-projection error says so clearly
  and stay where it is flat (Adam's steps have about the same size whatever the gradient).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from diffdepth.config import GROUPS, OptimConfig
from diffdepth.diffuse import DiffusionSolver
from diffdepth.image import sobel_magnitude
from diffdepth.render import SIGMA_S, splat
from diffdepth.types import SIDE_STEPS

ORDERS = ("depth", "robust")


def initial_q(image: np.ndarray, q_scale: float, colour: bool = False) -> torch.Tensor:
    """Q = q_scale * |Sobel(grey image)|, border pixels set to max(Q) (SPEC section 2); with
    ``colour`` the largest |Sobel| of one channel (`diffdepth.image.sobel_magnitude`).

    image: numpy [H, W, C] -> float32 [H, W] (on the CPU; the Sobel of the float32 image)."""
    img = torch.from_numpy(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))).float()
    q = q_scale * sobel_magnitude(img, colour)
    if min(q.shape) > 2:
        qmax = q.max()
        q[0, :] = qmax
        q[-1, :] = qmax
        q[:, 0] = qmax
        q[:, -1] = qmax
    return q


def occlusion_cuts(
    xy: np.ndarray,
    value: np.ndarray,
    shape: tuple[int, int],
    radius: float,
    jump: float,
    group_size: int = 20000,
) -> np.ndarray:
    """Pixels where the smoothness should be cut at occlusions implied by the points.

    For every pair of points closer than ``radius`` px whose labels differ by more than
    ``jump`` (larger label = nearer), the nearer point's pixel and its 4-neighbour stepping
    towards the farther point are marked: the edge between them is cut once both get a large
    Q (an edge's weight is the mean of its pixels' theta). xy [N, 2], value [N] -> bool [H, W].

    The pairs are found in overlapping groups of about ``group_size`` points (`_pair_groups`),
    so that memory grows with the points, not with their pairs (a million points hold
    hundreds of millions of pairs); the marks are the same as from all pairs at once.
    """
    from scipy.spatial import cKDTree

    h, w = shape
    cut = np.zeros((h, w), dtype=bool)
    if len(xy) < 2 or radius <= 0:
        return cut
    xy = np.asarray(xy)
    value = np.asarray(value)
    for group in _pair_groups(xy, radius, group_size):
        pairs = cKDTree(xy[group]).query_pairs(radius, output_type="ndarray")  # [P, 2]
        if len(pairs):
            _mark_cuts(cut, xy, value, group[pairs[:, 0]], group[pairs[:, 1]], jump)
    return cut


def _pair_groups(xy: np.ndarray, radius: float, size: int):
    """Index arrays of point groups such that every pair closer than ``radius`` lies inside
    one group: cores of ``size`` points in order of y (a crowded band again in order of x),
    each with every point within ``radius`` of its extent."""
    n = len(xy)
    if n <= size:
        yield np.arange(n)
        return
    by_y = np.argsort(xy[:, 1], kind="stable")
    ys = xy[by_y, 1]
    for start in range(0, n, size):
        stop = min(start + size, n)
        lo = np.searchsorted(ys, ys[start] - radius, "left")
        hi = np.searchsorted(ys, ys[stop - 1] + radius, "right")
        band = by_y[lo:hi]
        if len(band) <= 2 * size:
            yield band
            continue
        core = by_y[start:stop]
        core = core[np.argsort(xy[core, 0], kind="stable")]
        band = band[np.argsort(xy[band, 0], kind="stable")]
        bx = xy[band, 0]
        for s in range(0, len(core), size):
            part = core[s : s + size]
            x0, x1 = xy[part[0], 0], xy[part[-1], 0]
            yield band[
                np.searchsorted(bx, x0 - radius, "left") : np.searchsorted(bx, x1 + radius, "right")
            ]


def _mark_cuts(cut: np.ndarray, xy, value, i: np.ndarray, j: np.ndarray, jump: float) -> None:
    """Mark the cuts of the pairs (i, j) in ``cut`` (see `occlusion_cuts`)."""
    h, w = cut.shape
    swap = value[i] < value[j]
    i, j = np.where(swap, j, i), np.where(swap, i, j)  # i nearer than j
    keep = value[i] - value[j] > jump
    i, j = i[keep], j[keep]
    near = np.round(xy[i]).astype(np.int64)  # [P, 2] (x, y)
    toward = xy[j] - xy[i]
    along_x = np.abs(toward[:, 0]) >= np.abs(toward[:, 1])
    step = np.zeros_like(near)
    step[along_x, 0] = np.sign(toward[along_x, 0]).astype(np.int64)
    step[~along_x, 1] = np.sign(toward[~along_x, 1]).astype(np.int64)
    for p in (near, near + step):
        inside = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
        cut[p[inside, 1], p[inside, 0]] = True


def side_cuts(
    xy: np.ndarray,
    value: np.ndarray,
    sides: np.ndarray,
    shape: tuple[int, int],
    radius: float,
    jump: float,
    depth: int = 1,
    reach: int = 24,
    tile: int = 16,
    quantile: float = 0.1,
) -> np.ndarray:
    """Pixels where the smoothness should be cut on the occluded side of foreground edges.

    A point that knows the sides of its pixel across its edges (``sides`` uint8 [N], the bits
    of `diffdepth.types.SIDE_STEPS`: -x, +x, -y, +y; 0 where unknown) lies on a foreground
    edge towards one of them when both hold:
    - its label exceeds the local background level by more than ``jump`` (larger label =
      nearer); the level is the lowest, over the tiles (``tile`` px) within ``radius`` px, of
      each tile's ``quantile`` of the labels of its points;
    - across its edge its surface does not go on: the first points met walking from it across
      the edge towards that side (in a band 3 px wide, at most ``reach`` px) all differ from
      its label by more than ``jump``, or there are none.
    Such a point marks its pixel and ``depth`` pixels beyond it across its edge: the links
    between marked pixels are cut (an edge's weight is the mean of its pixels' theta, as in
    `occlusion_cuts`), the ones within the splat footprint's reach included.  So an untextured
    region behind thin structures fills from its own rims, not from the structures beside it,
    while texture edges within a surface are left alone.  xy [N, 2], value [N] -> bool [H, W].
    """
    from scipy.ndimage import minimum_filter

    h, w = shape
    cut = np.zeros((h, w), dtype=bool)
    sides = np.asarray(sides, np.uint8)
    knows = sides > 0
    if not knows.any() or radius <= 0:
        return cut
    xy = np.asarray(xy, np.float64)
    value = np.asarray(value, np.float64)
    pix = np.round(xy).astype(np.int64)  # [N, 2] (x, y)
    th, tw = -(-h // tile), -(-w // tile)
    tx = np.clip(pix[:, 0] // tile, 0, tw - 1)
    ty = np.clip(pix[:, 1] // tile, 0, th - 1)
    t = ty * tw + tx
    order = np.lexsort((value, t))  # by tile, then label
    count = np.bincount(t, minlength=th * tw)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    pick = start + np.floor(quantile * np.maximum(count - 1, 0)).astype(np.int64)
    pick = np.minimum(pick, len(t) - 1)
    level = np.where(count > 0, value[order][pick], np.inf)
    size = 2 * int(np.ceil(radius / tile)) + 1
    level = minimum_filter(level.reshape(th, tw), size=size, mode="nearest")
    cand = np.flatnonzero(knows & (value - level[ty, tx] > jump))
    if len(cand) == 0:
        return cut

    # The labels of the points as an image (NaN: no point), for the walks across the edges.
    labels = np.full((h + 2, w + 2), np.nan)
    inside = (pix[:, 0] >= 0) & (pix[:, 0] < w) & (pix[:, 1] >= 0) & (pix[:, 1] < h)
    labels[pix[inside, 1] + 1, pix[inside, 0] + 1] = value[inside]
    for bit, step in enumerate(SIDE_STEPS):
        c = cand[(sides[cand] >> bit) & 1 == 1]
        a = np.broadcast_to(np.array(step, np.int64), (len(c), 2))
        p, perp = pix[c], a[:, ::-1]
        met = np.zeros(len(c), dtype=bool)  # points met yet
        goes_on = np.zeros(len(c), dtype=bool)  # one of the first met is of its surface
        for k in range(1, reach + 1):
            if met.all():
                break
            hits = []
            for lateral in (-1, 0, 1):
                q = p + k * a + lateral * perp
                qx, qy = np.clip(q[:, 0] + 1, 0, w + 1), np.clip(q[:, 1] + 1, 0, h + 1)
                hits.append(labels[qy, qx])
            hits = np.stack(hits)  # [3, M]
            first = ~met & (~np.isnan(hits)).any(0)
            same = (np.abs(hits - value[c]) <= jump).any(0)  # NaN compares False
            goes_on |= first & same
            met |= first
        ends = ~goes_on
        p, a = p[ends], a[ends]
        for k in range(depth + 1):
            r = p + k * a
            ok = (r[:, 0] >= 0) & (r[:, 0] < w) & (r[:, 1] >= 0) & (r[:, 1] < h)
            cut[r[ok, 1], r[ok, 0]] = True
    return cut


def _neighbours(xy: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k nearest other points of every point: long [N, k] (fewer points: all)."""
    from scipy.spatial import cKDTree

    n = xy.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return torch.zeros((n, 0), dtype=torch.long, device=xy.device)
    pts = xy.detach().cpu().double().numpy()
    _, idx = cKDTree(pts).query(pts, k=k + 1)
    return torch.from_numpy(np.asarray(idx[:, 1:], dtype=np.int64)).to(xy.device)


def robust_order_key(value: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """Occlusion key of the robust order (smaller = nearer): -m + |value - m| with m the median
    of the point's own label and its neighbours' labels.  value [N], neighbours long [N, k]."""
    v = value.detach()
    if neighbours.shape[1] == 0:
        return -v
    m = torch.cat([v[:, None], v[neighbours]], dim=1).median(dim=1).values
    return -m + (v - m).abs()


class DiffusionModel(torch.nn.Module):
    """Points + smoothness map -> dense map, through splatting and a warm-started solve.

    xy:    [N, 2] float (x = column, y = row)
    value: [N] labels (disparity, or inverse depth)
    R:     [N] weight logits, weight = exp(-R)
    Q:     [H, W] smoothness logits, theta = exp(-Q)
    order: "depth": the occlusion key is -value (a larger disparity or inverse depth is
           nearer); "robust": `robust_order_key` over the ``neighbours`` nearest points
           (neighbour sets are found once, from the initial positions), computed on the first
           splat and kept until `refresh_order` (the optimiser refreshes it at every phase,
           so that within a phase S changes smoothly and the warm starts stay close).
    sigma_s: the splat's opacity footprint (px; SPEC's SIGMA_S by default).
    tol, adjoint_tol, maxiter: of the solver (`DiffusionSolver`); adjoint_tol None: tol.
    optimise_tol: the forward solves' tolerance while `optimize` runs (`optimising`; None:
           tol); outside it every solve reaches tol.
    """

    def __init__(
        self,
        xy: torch.Tensor,
        value: torch.Tensor,
        Q: torch.Tensor,
        R: torch.Tensor | None = None,
        tol: float = 1e-6,
        maxiter: int = 500,
        order: str = "depth",
        neighbours: int = 4,
        sigma_s: float = SIGMA_S,
        adjoint_tol: float | None = None,
        optimise_tol: float | None = None,
    ) -> None:
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
        self.shape = tuple(Q.shape)
        self.xy = torch.nn.Parameter(xy.detach().clone())
        self.value = torch.nn.Parameter(value.detach().clone())
        R0 = torch.zeros_like(self.value) if R is None else R.detach().clone()
        self.R = torch.nn.Parameter(R0)
        self.Q = torch.nn.Parameter(Q.detach().clone())
        self.solver = DiffusionSolver(tol=tol, maxiter=maxiter, adjoint_tol=adjoint_tol)
        self.tol = float(tol)
        self.optimise_tol = float(tol) if optimise_tol is None else float(optimise_tol)
        if not 0 < self.optimise_tol < 1:
            raise ValueError(f"optimise_tol must be in (0, 1), not {optimise_tol!r}")
        self.order = order
        self.n_neighbours = int(neighbours)
        self.sigma_s = float(sigma_s)
        self._update_neighbours()

    def _update_neighbours(self) -> None:
        self.neighbours = (
            _neighbours(self.xy, self.n_neighbours) if self.order == "robust" else None
        )
        self._key = None

    @contextmanager
    def optimising(self):
        """Within: forward solves to ``optimise_tol``; after: to ``tol`` again."""
        self.solver.tol = self.optimise_tol
        try:
            yield self
        finally:
            self.solver.tol = self.tol

    def refresh_order(self) -> None:
        """Recompute the robust occlusion order from the current labels on the next splat."""
        self._key = None

    def group(self, name: str) -> torch.nn.Parameter:
        return getattr(self, name)

    def occlusion_key(self) -> torch.Tensor:
        """[N] front-to-back key of the splat (smaller = nearer); carries no gradient."""
        if self.order == "robust":
            if self._key is None:
                self._key = robust_order_key(self.value, self.neighbours)
            return self._key
        return -self.value.detach()

    def splat(self) -> tuple[torch.Tensor, torch.Tensor]:
        key = self.occlusion_key()
        return splat(self.xy, self.value, torch.exp(-self.R), key, self.shape, sigma_s=self.sigma_s)

    def forward(self) -> torch.Tensor:
        S, lam = self.splat()
        return self.solver(S, lam, torch.exp(-self.Q))

    @torch.no_grad()
    def add_points(self, xy: torch.Tensor, value: torch.Tensor) -> None:
        """Append points (R = 0); parameters are replaced, so build optimisers afterwards."""
        dev, dt = self.xy.device, self.xy.dtype
        self.xy = torch.nn.Parameter(torch.cat([self.xy.detach(), xy.to(dev, dt)]))
        self.value = torch.nn.Parameter(torch.cat([self.value.detach(), value.to(dev, dt)]))
        self.R = torch.nn.Parameter(
            torch.cat([self.R.detach(), torch.zeros(len(value), device=dev, dtype=dt)])
        )
        self._update_neighbours()


@dataclass
class History:
    """Loss and parts per iteration, with the pass and group that produced them."""

    loss: list[float] = field(default_factory=list)
    parts: list[dict] = field(default_factory=list)
    group: list[str] = field(default_factory=list)
    pass_index: list[int] = field(default_factory=list)
    solver_iters: list[int] = field(default_factory=list)


LossFn = Callable[[torch.Tensor], tuple[torch.Tensor, dict, torch.Tensor]]
Densify = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def optimize(
    model: DiffusionModel,
    loss_fn: LossFn,
    config: OptimConfig,
    progress: bool = True,
    densify: Densify | None = None,
    callback: Callable[[int, str, int, float], None] | None = None,
) -> History:
    """Run the alternating schedule in place on ``model``; returns the loss history.

    loss_fn(D) -> (scalar loss, dict of float parts, error map). ``densify(D)`` -> (xy, value)
    of points to add after the first Q phase when ``config.densify_after_first_q``. The
    anchors of ``config`` (prior_value, prior_xy) are added to the loss here ("prior" part).
    """
    from tqdm.auto import tqdm  # progress display only

    hist = History()
    xy0 = model.xy.detach().clone()
    value0 = model.value.detach().clone()
    phases: list[tuple[int, str, int]] = []
    if config.first_q_iters > 0:
        phases.append((0, "Q", config.first_q_iters))
    for p in range(config.passes):
        phases += [(p, g, config.iters_per_phase) for g in config.phases]
    total = sum(n for _, _, n in phases)
    bar = tqdm(total=total, disable=not progress, unit="it", dynamic_ncols=True, leave=True)
    densified = False
    try:
        with model.optimising():
            for p, group, n in phases:
                model.refresh_order()
                param = model.group(group)
                opt = torch.optim.Adam([param], lr=config.learning_rate(group, p))
                for _ in range(n):
                    opt.zero_grad(set_to_none=True)
                    D = model()
                    loss, parts, _ = loss_fn(D)
                    if config.prior_value > 0 or config.prior_xy > 0:
                        prior = anchor_penalty(model, value0, xy0, config)
                        parts = {**parts, "prior": float(prior.detach())}
                        loss = loss + prior
                    loss.backward()
                    opt.step()
                    if group == "xy":
                        _clamp_positions(model, xy0, config.max_xy_step)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"the loss became {value} in pass {p}, group {group}"
                        )
                    hist.loss.append(value)
                    hist.parts.append(parts)
                    hist.group.append(group)
                    hist.pass_index.append(p)
                    hist.solver_iters.append(model.solver.last_info.forward_iterations)
                    bar.set_postfix_str(f"pass {p + 1}/{config.passes} {group:>5} loss {value:.5f}")
                    bar.update(1)
                    if callback is not None:
                        callback(len(hist.loss), group, p, value)
                if config.densify_after_first_q and densify is not None and not densified:
                    if group == "Q":
                        with torch.no_grad():
                            new_xy, new_value = densify(model())
                        model.add_points(new_xy, new_value)
                        xy0 = torch.cat([xy0, new_xy.to(xy0)])
                        value0 = torch.cat([value0, new_value.to(value0)])
                        densified = True
    finally:
        bar.close()
    return hist


def anchor_penalty(
    model: DiffusionModel, value0: torch.Tensor, xy0: torch.Tensor, config: OptimConfig
) -> torch.Tensor:
    """prior_value * mean((value - value0)^2) + prior_xy * mean(|xy - xy0|^2): a scalar."""
    out = config.prior_value * (model.value - value0).pow(2).mean()
    return out + config.prior_xy * (model.xy - xy0).pow(2).sum(1).mean()


@torch.no_grad()
def _clamp_positions(model: DiffusionModel, xy0: torch.Tensor, max_step: float) -> None:
    """Keep each point within max_step px of its start and its window on the image."""
    h, w = model.shape
    model.xy.copy_(xy0 + (model.xy - xy0).clamp(-max_step, max_step))
    model.xy[:, 0].clamp_(-3.0, w + 2.0)
    model.xy[:, 1].clamp_(-3.0, h + 2.0)


def snapshot(model: DiffusionModel, groups: Sequence[str] = GROUPS) -> dict[str, torch.Tensor]:
    """Copies of the parameter groups ``{name: tensor}`` (to check which ones moved)."""
    return {g: model.group(g).detach().clone() for g in groups}
