"""Multi-view benchmark.

1. The synthetic scene (5 cameras, exact depth): sparse points triangulated by pycolmap with the
   poses fixed, then plain diffusion vs the optimised map: scale-fitted MSE and Q25 (500 random
   pixels, best of 10 fits), run time.
2. templeSparseRing (Middlebury, 16 views, no ground truth): sparse points by pycolmap, then for
   the reference image with the most points the re-projection error (Lab) of plain diffusion and
   of the optimised map, run time.

    python -m benchmarks.bench_mvs [--passes 5] [--iters 25] [--results benchmarks/results/mvs]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from benchmarks._machine import add_provenance_flag, machine_info, provenance
from benchmarks._runs import SHARED
from diffdepth.io import read_multiview
from diffdepth.optimize import OptimConfig
from diffdepth.pipeline.multiview import MultiViewConfig, run_multiview
from diffdepth.points.colmap import sparse_points
from diffdepth.synth import make_multiview

TEMPLE = SHARED / "data" / "mvs" / "templeSparseRing"


def _config(passes: int, iters: int, optimize: bool = True) -> MultiViewConfig:
    optim = replace(OptimConfig.multi_view(), passes=passes, iters_per_phase=iters)
    return MultiViewConfig(optimize=optimize, optim=optim)


def synthetic_case(passes: int, iters: int) -> dict:
    scene, depths = make_multiview(n_views=5, height=240, width=320, seed=0)
    t0 = time.perf_counter()
    scene = sparse_points(scene)
    t_sparse = time.perf_counter() - t0
    ref = scene.default_ref()
    t0 = time.perf_counter()
    res = run_multiview(scene, ref, _config(passes, iters), gt_depth=depths[ref], progress=False)
    t_opt = time.perf_counter() - t0
    m = res.metrics
    return {
        "views": len(scene),
        "size": list(depths[ref].shape),
        "reference": res.name,
        "sparse_points_total": int(len(scene.points3d)),
        "points_initial": m["points_initial"],
        "points_final": m["points_final"],
        "pycolmap_s": round(t_sparse, 1),
        "optimise_s": round(t_opt, 1),
        "plain": m["plain_scale_fitted"],
        "optimised": m["scale_fitted"],
        "mse_reduction_pct": round(
            100 * (1 - m["scale_fitted"]["mse"] / m["plain_scale_fitted"]["mse"]), 1
        ),
        "q25_reduction_pct": round(
            100 * (1 - m["scale_fitted"]["q25"] / m["plain_scale_fitted"]["q25"]), 1
        ),
        "reprojection_error_lab": {
            "plain": m["plain_reprojection_error_lab"],
            "optimised": m["reprojection_error_lab"],
        },
    }


def temple_case(passes: int, iters: int) -> dict | None:
    if not TEMPLE.exists():
        return None
    scene = read_multiview(TEMPLE)
    t0 = time.perf_counter()
    scene = sparse_points(scene)
    t_sparse = time.perf_counter() - t0
    ref = scene.default_ref()
    t0 = time.perf_counter()
    res = run_multiview(scene, ref, _config(passes, iters), progress=False)
    m = res.metrics
    return {
        "views": len(scene),
        "reference": res.name,
        "sparse_points_total": int(len(scene.points3d)),
        "points_initial": m["points_initial"],
        "points_final": m["points_final"],
        "pycolmap_s": round(t_sparse, 1),
        "optimise_s": round(time.perf_counter() - t0, 1),
        "reprojection_error_lab": {
            "plain": m["plain_reprojection_error_lab"],
            "optimised": m["reprojection_error_lab"],
        },
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--passes", type=int, default=5)
    p.add_argument("--iters", type=int, default=25)
    p.add_argument("--results", type=Path, default=Path("benchmarks/results/mvs"))
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    res = {
        "machine": machine_info(record),
        "schedule": {"passes": a.passes, "iters_per_phase": a.iters},
        "synthetic": synthetic_case(a.passes, a.iters),
        "temple": temple_case(a.passes, a.iters),
    }
    text = json.dumps(res, indent=2)
    print(text)
    a.results.parent.mkdir(parents=True, exist_ok=True)
    a.results.with_suffix(".json").write_text(text + "\n")


if __name__ == "__main__":
    main()
