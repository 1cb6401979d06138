"""The alternating optimisation of points and smoothness through splatting and diffusion.

Parameters (SPEC section 2): per point i a position ``xy[i]`` (px), a label ``value[i]`` and a
weight logit ``R[i]`` (weight ``exp(-R)``); per pixel a smoothness logit ``Q`` (``theta =
exp(-Q)``). One forward pass splats the points into (S, lam), diffuses them into a dense map D
and hands D to a loss. A *phase* optimises one parameter group with a fresh Adam while the
others stay fixed; a *pass* runs the phases in turn (SPEC section 6).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from diffdepth.diffuse import DiffusionSolver
from diffdepth.render import splat

GROUPS = ("Q", "value", "R", "xy")


@dataclass(frozen=True)
class OptimConfig:
    """Schedule and initialisation of the alternating optimisation."""

    passes: int = 5  # passes over the phases
    iters_per_phase: int = 13  # Adam steps in each phase
    phases: tuple[str, ...] = GROUPS  # order of the groups within a pass
    lr: tuple[float, float, float, float] = (0.015, 0.015, 0.015, 0.1)  # Q, value, R, xy (px)
    decay: tuple[float, float, float, float] = (0.9, 0.9, 0.8, 0.75)  # per-pass lr factor
    q_scale: float = 6.0  # Q initialised to q_scale * |Sobel(grey reference)|
    tol: float = 1e-6  # relative residual of every diffusion solve
    maxiter: int = 500  # cap on solver iterations (a warning is raised if it is reached)
    max_xy_step: float = 3.0  # positions stay within this many px of their start
    first_q_iters: int = 0  # extra smoothness-only iterations before the first pass
    densify_after_first_q: bool = False  # multi-view: add edge points after the first Q phase

    def __post_init__(self) -> None:
        unknown = set(self.phases) - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown parameter groups {sorted(unknown)}; known: {GROUPS}")
        if self.passes < 0 or self.iters_per_phase < 0:
            raise ValueError("passes and iters_per_phase must be >= 0")

    def learning_rate(self, group: str, pass_index: int) -> float:
        i = GROUPS.index(group)
        return self.lr[i] * self.decay[i] ** pass_index

    @staticmethod
    def light_field() -> OptimConfig:
        """13 iterations per phase, 5 passes (SPEC section 6)."""
        return OptimConfig()

    @staticmethod
    def multi_view() -> OptimConfig:
        """25 iterations per phase, 5 passes, densification after the first Q phase."""
        return OptimConfig(iters_per_phase=25, densify_after_first_q=True)


def sobel_magnitude(image: torch.Tensor) -> torch.Tensor:
    """|Sobel| of the grey image. image: [3, H, W] or [H, W] -> [H, W] (kernels sum |k| = 8)."""
    grey = image.mean(0) if image.dim() == 3 else image
    kx = torch.tensor(
        [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=grey.dtype, device=grey.device
    )
    k = torch.stack([kx, kx.t()])[:, None]  # [2, 1, 3, 3]
    g = F.conv2d(F.pad(grey[None, None], (1, 1, 1, 1), mode="replicate"), k)[0]
    return torch.sqrt(g[0] ** 2 + g[1] ** 2)


def initial_q(image: torch.Tensor, q_scale: float) -> torch.Tensor:
    """Q = q_scale * |Sobel(grey)|, border pixels set to max(Q) (SPEC section 2). -> [H, W]"""
    q = q_scale * sobel_magnitude(image)
    if min(q.shape) > 2:
        qmax = q.max()
        q[0, :] = qmax
        q[-1, :] = qmax
        q[:, 0] = qmax
        q[:, -1] = qmax
    return q


class DiffusionModel(torch.nn.Module):
    """Points + smoothness map -> dense map, through splatting and a warm-started solve.

    xy:    [N, 2] float (x = column, y = row)
    value: [N] labels (disparity, or inverse depth)
    R:     [N] weight logits, weight = exp(-R)
    Q:     [H, W] smoothness logits, theta = exp(-Q)
    The occlusion key is -value: a larger disparity or inverse depth is nearer.
    """

    def __init__(
        self,
        xy: torch.Tensor,
        value: torch.Tensor,
        Q: torch.Tensor,
        R: torch.Tensor | None = None,
        tol: float = 1e-6,
        maxiter: int = 500,
    ) -> None:
        super().__init__()
        self.shape = tuple(Q.shape)
        self.xy = torch.nn.Parameter(xy.detach().clone())
        self.value = torch.nn.Parameter(value.detach().clone())
        R0 = torch.zeros_like(self.value) if R is None else R.detach().clone()
        self.R = torch.nn.Parameter(R0)
        self.Q = torch.nn.Parameter(Q.detach().clone())
        self.solver = DiffusionSolver(tol=tol, maxiter=maxiter)

    def group(self, name: str) -> torch.nn.Parameter:
        return getattr(self, name)

    def splat(self) -> tuple[torch.Tensor, torch.Tensor]:
        key = -self.value.detach()
        return splat(self.xy, self.value, torch.exp(-self.R), key, self.shape)

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
    of points to add after the first Q phase when ``config.densify_after_first_q``.
    """
    from tqdm.auto import tqdm  # progress display only

    hist = History()
    xy0 = model.xy.detach().clone()
    phases: list[tuple[int, str, int]] = []
    if config.first_q_iters > 0:
        phases.append((0, "Q", config.first_q_iters))
    for p in range(config.passes):
        phases += [(p, g, config.iters_per_phase) for g in config.phases]
    total = sum(n for _, _, n in phases)
    bar = tqdm(total=total, disable=not progress, unit="it", dynamic_ncols=True, leave=True)
    densified = False
    try:
        for p, group, n in phases:
            param = model.group(group)
            opt = torch.optim.Adam([param], lr=config.learning_rate(group, p))
            for _ in range(n):
                opt.zero_grad(set_to_none=True)
                D = model()
                loss, parts, _ = loss_fn(D)
                loss.backward()
                opt.step()
                if group == "xy":
                    _clamp_positions(model, xy0, config.max_xy_step)
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise FloatingPointError(f"the loss became {value} in pass {p}, group {group}")
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
                    densified = True
    finally:
        bar.close()
    return hist


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
