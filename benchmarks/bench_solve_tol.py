"""How accurately the solves inside the optimisation must converge: iterations, errors, time.

The optimisation of a default light-field run (50k noisy points on antinous 512x512 when
../shared/data is present, else the synthetic light field; crosshair views, RGB distance,
`LightFieldConfig().model`) is followed for ``steps`` Adam steps cycling through the groups Q,
value, R and xy, once per pair (forward tolerance, adjoint tolerance). At every step the map and
the gradients of all four groups are compared with those of cold solves to 1e-10 at the same
parameters (the map: its largest difference in px; the gradients: relative error in the
2-norm, per group; the worst over the steps), and the PCG iterations of both solves and the
step's time (splat, solve, loss, backward) are recorded.

    python -m benchmarks.bench_solve_tol [--pairs 1e-6:1e-6,1e-6:1e-3,1e-5:1e-3,...]
        [--steps 12] [--results benchmarks/results/solve_tol.json]

Iteration counts and errors do not depend on the machine's load; the times do.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from benchmarks._machine import add_provenance_flag, emit_json, machine_info, provenance
from benchmarks.bench_iteration import load_scene
from diffdepth.config import LightFieldConfig
from diffdepth.diffuse import DiffusionSolver
from diffdepth.losses import LightFieldLoss, LossConfig
from diffdepth.optimize import OptimConfig, anchor_penalty
from diffdepth.photo import LightFieldProblem
from diffdepth.pipeline.model import build_model
from diffdepth.points.sampling import noisy_edge_points

GROUPS = ("Q", "value", "R", "xy")
PAIRS = "1e-6:1e-6,1e-6:1e-4,1e-6:1e-3,1e-6:1e-2,1e-5:1e-3,1e-4:1e-3"


def follow(lf, pts, loss_fn, forward_tol: float, adjoint_tol: float, steps: int) -> dict:
    config = OptimConfig.light_field()
    model_config = LightFieldConfig().model.replace(
        optimise_tol=forward_tol, adjoint_tol=adjoint_tol
    )
    model = build_model(lf.ref_view, pts, model_config, torch.device("cpu"))
    value0, xy0 = model.value.detach().clone(), model.xy.detach().clone()
    exact = DiffusionSolver(tol=1e-10, maxiter=2000, warm_start=False)

    def run(solver) -> tuple[torch.Tensor, dict, float]:
        model.zero_grad(set_to_none=True)
        t = time.perf_counter()
        S, lam = model.splat()
        D = solver(S, lam, torch.exp(-model.Q))
        (loss_fn(D)[0] + anchor_penalty(model, value0, xy0, config)).backward()
        seconds = time.perf_counter() - t
        return D.detach(), {g: model.group(g).grad.detach().clone() for g in GROUPS}, seconds

    forward, adjoint, times, map_error = [], [], [], []
    errors = {g: [] for g in GROUPS}
    with model.optimising():
        for step in range(steps):
            group = GROUPS[(step // 3) % len(GROUPS)]
            D, grads, seconds = run(model.solver)
            forward.append(model.solver.last_info.forward_iterations)
            adjoint.append(model.solver.last_info.adjoint_iterations)
            times.append(seconds)
            D_exact, reference, _ = run(exact)
            map_error.append(float((D.double() - D_exact.double()).abs().max()))
            for g in GROUPS:
                a, b = grads[g].double(), reference[g].double()
                errors[g].append(float((a - b).norm() / b.norm().clamp_min(1e-30)))
            model.zero_grad(set_to_none=True)
            param = model.group(group)
            param.grad = grads[group]
            torch.optim.Adam([param], lr=config.learning_rate(group, 0)).step()
    return {
        "forward_tol": forward_tol,
        "adjoint_tol": adjoint_tol,
        "forward_iterations": forward,
        "adjoint_iterations": adjoint,
        "forward_iterations_median": statistics.median(forward[1:]),
        "adjoint_iterations_median": statistics.median(adjoint[1:]),
        "map_error_px_worst": max(map_error),
        "gradient_rel_error_worst": {g: max(v) for g, v in errors.items()},
        "gradient_rel_error_median": {g: statistics.median(v) for g, v in errors.items()},
        "step_s_median": statistics.median(times[1:]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", default=PAIRS, help="forward:adjoint tolerances, comma-separated")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--results", type=Path, help="also write the JSON here")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    lf = load_scene()
    pts = noisy_edge_points(lf.ref_view, lf.gt, per_tile=49, seed=0)
    problem = LightFieldProblem.from_lightfield(lf)
    loss_fn = LightFieldLoss.from_problem(problem, LossConfig.light_field(distance="rgb"), "cpu")
    rows = []
    for pair in a.pairs.split(","):
        fwd, adj = (float(t) for t in pair.split(":"))
        rows.append(follow(lf, pts, loss_fn, fwd, adj, a.steps))
    out = {
        "machine": machine_info(record),
        "scene": lf.name,
        "points": len(pts),
        "steps": a.steps,
        "note": "iterations and errors do not depend on load; step times do; the medians "
        "leave out the first (cold) step",
        "rows": rows,
    }
    emit_json(out, a.results)


if __name__ == "__main__":
    main()
