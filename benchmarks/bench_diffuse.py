"""Benchmark of diffdepth.diffuse on a hard, realistic system, against the scipy spsolve floor.

The system: random Voronoi cells with random depths (a piecewise-constant scene); data (lam about
1) only on pixels next to a cell boundary, S = the cell's depth plus noise there; smoothness theta
cut across the boundaries (1e-4..1e-3 on boundary pixels, about 1 elsewhere). Cell interiors have
no data at all, so each cell is filled only from its rim through near-cut edges: the coefficients
jump by four orders of magnitude and most rows have lam = 0.

Measured (warm-up, then ``repeats`` rounds of the four variants interleaved, median): forward
solve, and forward + one backward with
a random upstream gradient, at 512x512 and 1024x1024, cold and warm-started (the forward x0 and
the adjoint start come from a solve of a problem whose lam and theta differ by 1 %), with
iteration counts; and ``scipy.sparse.linalg.spsolve`` on the same 512x512 system, timed between
the rounds of the 512x512 case.

    python -m benchmarks.bench_diffuse [--repeats 5] [--out FILE.json] [--allow-dirty]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import scipy
import scipy.sparse.linalg as spla
import torch
from scipy.spatial import cKDTree

from diffdepth.diffuse import DiffusionSolver, assemble_scipy


def hard_problem(H: int, W: int, cells: int | None = None, seed: int = 0):
    """(S, lam, theta) float64 ``[H, W]`` numpy arrays of the piecewise-constant cut system."""
    rng = np.random.default_rng(seed)
    cells = cells if cells is not None else max(4, (H * W) // 4000)
    sites = rng.uniform([0, 0], [H, W], size=(cells, 2))
    yy, xx = np.mgrid[0:H, 0:W]
    _, label = cKDTree(sites).query(np.stack([yy.ravel(), xx.ravel()], 1))
    label = label.reshape(H, W)
    edge = np.zeros((H, W), dtype=bool)
    dx = label[:, 1:] != label[:, :-1]
    dy = label[1:, :] != label[:-1, :]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    depth = rng.uniform(0.0, 4.0, size=cells)
    S = depth[label] + 0.01 * rng.standard_normal((H, W))
    lam = np.where(edge, rng.uniform(0.5, 1.5, (H, W)), 0.0)
    theta = np.where(edge, 10.0 ** rng.uniform(-4, -3, (H, W)), rng.uniform(0.5, 2.0, (H, W)))
    return S, lam, theta


def _case(H: int, W: int, repeats: int, tol: float, between=None) -> dict:
    """Timings of the four variants at H x W; ``between(round)`` runs after every round (the
    512x512 case times spsolve there, so that it meets the same spells of a busy machine)."""
    S, lam, theta = (torch.from_numpy(a) for a in hard_problem(H, W))
    rng = np.random.default_rng(1)
    g = torch.from_numpy(rng.standard_normal((H, W)))
    # a neighbouring problem: lam and theta 1 % off, solved forward and backward
    lam_n = lam * 1.01
    theta_n = theta * 0.99
    prev = DiffusionSolver(tol=tol)
    Sg = S.clone().requires_grad_(True)
    prev(Sg, lam_n, theta_n).backward(g)
    D_prev, a_prev = prev.last_solution, prev.last_adjoint

    S_leaf = S.clone().requires_grad_(True)

    def run(warm: bool, backward: bool):
        solver = DiffusionSolver(tol=tol)
        if warm:
            solver.last_solution, solver.last_adjoint = D_prev, a_prev
        S_leaf.grad = None
        D = solver(S_leaf if backward else S, lam, theta)
        if backward:
            D.backward(g)
        return solver.last_info

    # the four variants run interleaved, one of each per round, so that a slow spell of a
    # shared machine falls on all of them alike; medians over the rounds
    variants = [(w, b) for w in (False, True) for b in (False, True)]
    times: dict[tuple[bool, bool], list[float]] = {v: [] for v in variants}
    infos = {}
    for v in variants:  # warm-up
        infos[v] = run(*v)
    for i in range(repeats):
        for v in variants:
            t0 = time.perf_counter()
            infos[v] = run(*v)
            times[v].append(time.perf_counter() - t0)
        if between is not None:
            between(i)
    out = {}
    for (warm, backward), ts in times.items():
        info = infos[(warm, backward)]
        key = ("warm" if warm else "cold") + ("_fwd_adj" if backward else "_fwd")
        out[key] = {
            "seconds": statistics.median(ts),
            "forward_iterations": info.forward_iterations,
            "forward_residual": info.forward_residual,
            "adjoint_iterations": info.adjoint_iterations,
            "adjoint_residual": info.adjoint_residual,
        }
    out["levels"] = info.levels
    out["backend"] = info.backend
    return out


def bench_diffuse(repeats: int = 5, tol: float = 1e-6, spsolve_repeats: int = 2) -> dict:
    """Timings (seconds, medians) and iteration counts; see the module docstring."""
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "torch_threads": torch.get_num_threads(),
        },
        "tol": tol,
        "repeats": repeats,
    }
    S, lam, theta = hard_problem(512, 512)
    A = assemble_scipy(lam, theta).tocsc()
    b = (lam * S).ravel()
    times = []
    every = max(1, repeats // max(1, spsolve_repeats))
    solution = {}

    def spsolve_round(i: int) -> None:
        if i % every == 0 and len(times) < spsolve_repeats:
            t0 = time.perf_counter()
            solution["x"] = spla.spsolve(A, b)
            times.append(time.perf_counter() - t0)

    result["diffuse_512"] = _case(512, 512, repeats, tol, between=spsolve_round)
    result["diffuse_1024"] = _case(1024, 1024, repeats, tol)
    x = solution["x"]
    D = DiffusionSolver(tol=tol)(*(torch.from_numpy(a) for a in (S, lam, theta))).numpy()
    result["spsolve_512"] = {
        "seconds": statistics.median(times),
        "max_abs_diff_to_diffuse": float(np.abs(x.reshape(S.shape) - D).max()),
    }
    d512 = result["diffuse_512"]
    result["speedup_512"] = {
        "cold_fwd_adj_vs_spsolve": result["spsolve_512"]["seconds"]
        / d512["cold_fwd_adj"]["seconds"],
        "warm_vs_cold_fwd_adj": d512["cold_fwd_adj"]["seconds"] / d512["warm_fwd_adj"]["seconds"],
    }
    return result


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._machine import add_provenance_flag, provenance

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=None, help="also write the JSON here")
    add_provenance_flag(parser)
    args = parser.parse_args()
    record = provenance(args.allow_dirty)
    res = bench_diffuse(args.repeats)
    res["machine"].update(record)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
