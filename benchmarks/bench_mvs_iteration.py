"""Time of the multi-view loss and of one multi-view optimisation iteration, torch against the
compiled pinhole warp.

The synthetic multi-view scene (`diffdepth.synth.make_multiview`) at 640x480, the reference
image 0 and 4 source views (`select_views`), the default `MultiViewConfig` (loss preset
`LossConfig.multi_view()`: RGB error, SSIM, gradient reward, smoothness; z-buffer masks; the
light field's model with robust order and occlusion cuts, anchors, a value phase), 30k points
at the true inverse depth with 2 % noise. For each warping backend ("torch": the plain torch
definitions, `sample_bilinear` and a scatter z-buffer; "numba": the photo layer's compiled
kernels):

- ``warp_s``: the warping error and its gradient: the 4 views warped through a fixed map, their
  errors and z-buffer masks, forward and backward (fixed random cotangents);
- ``loss_s``: the whole multi-view loss (warp, masks, SSIM, gradient reward, smoothness),
  forward and backward, at a fixed map;
- ``iteration_s``: splat + solve + loss + backward + Adam step.

Warm-up (which also compiles the kernels and warm-starts the solver), then the median of
``repeats`` (wall time; ``*_cpu_s``: the process's CPU time, all threads). The gradients of the
two backends at the same map are compared as a check (relative L2 difference; float32).

    python -m benchmarks.bench_mvs_iteration [repeats] [--results PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks._machine import add_provenance_flag, emit_json, machine_info, provenance
from diffdepth.losses.multiview import MultiViewLoss
from diffdepth.optimize import anchor_penalty
from diffdepth.photo.pinhole import pinhole_visibility, pinhole_warp
from diffdepth.pipeline.model import build_model
from diffdepth.pipeline.multiview import MultiViewConfig
from diffdepth.points.pinhole import select_views
from diffdepth.synth import make_multiview
from diffdepth.types import PointSet

HEIGHT, WIDTH = 480, 640
N_POINTS = 30_000


def make_problem(seed: int = 0):
    """(scene, ref, views, points normalised by their median, scale)."""
    scene, depths = make_multiview(n_views=5, height=HEIGHT, width=WIDTH, seed=seed)
    ref = 0
    views = select_views(scene, ref, 4)
    rng = np.random.default_rng(seed)
    flat = rng.choice(HEIGHT * WIDTH, N_POINTS, replace=False)
    ys, xs = np.divmod(flat, WIDTH)
    rho = 1.0 / depths[ref][ys, xs] * (1.0 + 0.02 * rng.standard_normal(N_POINTS))
    scale = float(np.median(rho))
    xy = np.stack([xs, ys], 1).astype(np.float32)
    points = PointSet(xy, (rho / scale).astype(np.float32), None)
    return scene, ref, views, points, scale


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def _timed(fn, repeats: int, name: str) -> dict:
    """Median wall and CPU time of fn() after 3 warm-up calls."""
    wall, cpu = [], []
    for i in range(3 + repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        if i >= 3:
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {f"{name}_s": _median(wall), f"{name}_cpu_s": _median(cpu)}


def bench_warp(loss: MultiViewLoss, D: torch.Tensor, repeats: int) -> dict:
    """The warping error of every source view and its gradient w.r.t. the map."""
    backend = loss.backend
    rho = loss._inverse_depth(D.detach())
    geometry = (loss._sizes, loss._A, loss._b)
    gen = torch.Generator().manual_seed(0)
    K, H, W = len(loss.views), *rho.shape
    g_warped = torch.randn(K, 3, H, W, generator=gen)
    g_err = torch.randn(K, H, W, generator=gen)

    def one() -> None:
        r = rho.clone().requires_grad_()
        warped, err = pinhole_warp(r, loss._ref_hwc, loss._stack, *geometry, backend=backend)
        pinhole_visibility(r, *geometry, tol=loss.config.occlusion_tol, backend=backend)
        ((warped * g_warped).sum() + (err * g_err).sum()).backward()

    return _timed(one, repeats, "warp")


def bench_loss(loss: MultiViewLoss, D: torch.Tensor, repeats: int) -> dict:
    """The whole loss, forward and backward, at a fixed map."""

    def one() -> None:
        value, _, _ = loss(D.detach().clone().requires_grad_())
        value.backward()

    return _timed(one, repeats, "loss")


def bench_iteration(problem, backend: str, repeats: int) -> dict:
    scene, ref, views, points, scale = problem
    config = MultiViewConfig()
    model = build_model(scene.images[ref], points, config.model, torch.device("cpu"))
    value0, xy0 = model.value.detach().clone(), model.xy.detach().clone()
    opt = torch.optim.Adam([model.value], lr=config.optim.learning_rate("value", 0))
    gen = torch.Generator().manual_seed(0)
    loss_fn = MultiViewLoss(ref, scene, config.loss, config.n_views, gen, views, backend=backend)

    def one() -> None:  # splat + solve + loss + backward + Adam step
        opt.zero_grad(set_to_none=True)
        loss, _, _ = loss_fn(model() * scale)
        loss = loss + anchor_penalty(model, value0, xy0, config.optim)
        loss.backward()
        opt.step()

    iteration = _timed(one, repeats, "iteration")
    with torch.no_grad():
        D = model() * scale
    return {
        "backend": backend,
        **bench_warp(loss_fn, D, repeats),
        **bench_loss(loss_fn, D, repeats),
        **iteration,
        "map": D,
        "loss": loss_fn,
    }


def gradient_check(a: MultiViewLoss, b: MultiViewLoss, D: torch.Tensor) -> dict:
    """The two backends' loss and gradient at one map (same views)."""
    out = []
    for loss in (a, b):
        d = D.detach().clone().requires_grad_()
        value, _, _ = loss(d)
        (g,) = torch.autograd.grad(value, d)
        out.append((float(value), g))
    (va, ga), (vb, gb) = out
    return {
        "loss_abs_diff": abs(va - vb),
        "grad_relative_l2_diff": float((ga - gb).norm() / ga.norm()),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("repeats", type=int, nargs="?", default=15)
    p.add_argument("--results", type=Path, help="also write the JSON here")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    problem = make_problem()
    rows = [bench_iteration(problem, backend, a.repeats) for backend in ("torch", "numba")]
    check = gradient_check(rows[0].pop("loss"), rows[1].pop("loss"), rows[1]["map"])
    for r in rows:
        r.pop("map")
    emit_json(
        {
            "machine": machine_info(record),
            "scene": f"synthetic multi-view {WIDTH}x{HEIGHT}",
            "source_views": len(problem[2]),
            "points": N_POINTS,
            "repeats": a.repeats,
            "backends": rows,
            "speedup_warp": round(rows[0]["warp_s"] / rows[1]["warp_s"], 2),
            "speedup_loss": round(rows[0]["loss_s"] / rows[1]["loss_s"], 2),
            "speedup_iteration": round(rows[0]["iteration_s"] / rows[1]["iteration_s"], 2),
            "gradient_check": check,
        },
        a.results,
    )


if __name__ == "__main__":
    main()
