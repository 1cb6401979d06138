"""Time of one full optimisation iteration: splat + solve + loss + backward + Adam step.

50k points (the noisy-points protocol with 49 per 16x16 tile) on antinous 512x512 when
../shared/data is present (else the synthetic light field at 512x512), crosshair views, the
distances rgb, vgg_warp (the views' VGG features computed once and warped; the one-off cost is
``loss_setup_s``) and vgg (VGG on the warped views each iteration), with the light-field
model of a default run (`LightFieldConfig().model`: robust occlusion order, occlusion cuts,
adjoint tolerance) and its loss (depth-edge mask, anchors; a value phase). Warm-up (which
also warm-starts the solver), then the median of ``repeats`` iterations, with a breakdown
of the parts.

    python -m benchmarks.bench_iteration [repeats] [--vgg-repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks._machine import add_provenance_flag, emit_json, machine_info, provenance
from benchmarks._runs import SHARED
from diffdepth.config import LightFieldConfig
from diffdepth.io import read_lightfield
from diffdepth.losses import LightFieldLoss, LossConfig
from diffdepth.optimize import OptimConfig, anchor_penalty
from diffdepth.photo import LightFieldProblem
from diffdepth.pipeline.model import build_model
from diffdepth.points.sampling import noisy_edge_points

ANTINOUS = SHARED / "data" / "hci" / "antinous"


def load_scene():
    if ANTINOUS.exists():
        return read_lightfield(ANTINOUS)
    from diffdepth.synth import make_lightfield

    return make_lightfield(height=512, width=512)


def bench_iteration(distance: str, repeats: int, lf=None, device: str = "cpu") -> dict:
    lf = lf or load_scene()
    dev = torch.device(device)
    pts = noisy_edge_points(lf.ref_view, lf.gt, per_tile=49, seed=0)
    problem = LightFieldProblem.from_lightfield(lf)
    t_setup = time.perf_counter()
    loss_fn = LightFieldLoss.from_problem(problem, LossConfig.light_field(distance=distance), dev)
    loss_setup = time.perf_counter() - t_setup  # vgg: the reference's features; vgg_warp: all
    config = OptimConfig.light_field()
    model = build_model(lf.ref_view, pts, LightFieldConfig().model, dev)
    value0, xy0 = model.value.detach().clone(), model.xy.detach().clone()
    opt = torch.optim.Adam([model.value], lr=config.learning_rate("value", 0))
    parts = {"splat": [], "solve": [], "loss": [], "backward": [], "step": [], "total": []}
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def one(record: bool):
        t = [time.perf_counter()]
        opt.zero_grad(set_to_none=True)
        S, lam = model.splat()
        t.append(time.perf_counter())
        D = model.solver(S, lam, torch.exp(-model.Q))
        t.append(time.perf_counter())
        loss, _, _ = loss_fn(D)
        loss = loss + anchor_penalty(model, value0, xy0, config)
        t.append(time.perf_counter())
        loss.backward()
        sync()
        t.append(time.perf_counter())
        opt.step()
        sync()
        t.append(time.perf_counter())
        if record:
            for key, a, b in zip(["splat", "solve", "loss", "backward", "step"], t, t[1:]):
                parts[key].append(b - a)
            parts["total"].append(t[-1] - t[0])

    with model.optimising():  # the solver's tolerances inside the optimisation
        for _ in range(3):
            one(False)
        for _ in range(repeats):
            one(True)
    med = {f"{k}_s": statistics.median(v) for k, v in parts.items()}
    return {
        "distance": distance,
        "device": device,
        "points": len(pts),
        "shape": list(lf.gt.shape),
        "views": len(problem),
        "repeats": repeats,
        "loss_setup_s": loss_setup,
        **med,
        "solver_forward_iterations": model.solver.last_info.forward_iterations,
        "solver_adjoint_iterations": model.solver.last_info.adjoint_iterations,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("repeats", type=int, nargs="?", default=15)
    p.add_argument("--vgg-repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--results", type=Path, help="also write the JSON here")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    lf = load_scene()
    out = {
        "machine": machine_info(record),
        "scene": lf.name,
        "rgb": bench_iteration("rgb", a.repeats, lf, a.device),
        "vgg_warp": bench_iteration("vgg_warp", a.repeats, lf, a.device),
        "vgg": bench_iteration("vgg", a.vgg_repeats, lf, a.device) if a.vgg_repeats > 0 else None,
    }
    emit_json(out, a.results)


if __name__ == "__main__":
    main()
