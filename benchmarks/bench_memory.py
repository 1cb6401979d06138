"""Peak memory of light-field and multi-view runs against the estimate that refuses runs too
large for the machine (`diffdepth.pipeline.checks`).

    python -m benchmarks.bench_memory --results benchmarks/results/memory.json

Each configuration runs in a fresh process: the kernels are compiled on a tiny scene first,
then the peak resident memory (VmHWM) of the run itself is taken over the resident memory
before it (the decoded views are counted on neither side). The estimate must not be lower than
what was measured (ratio >= 1), and should not be far above (a run refused that would fit).
One optimisation pass of 2 steps per phase: the peak of an iteration does not grow with their
number. Memory does not depend on the machine's load, so these figures hold on a busy machine.
"""

from __future__ import annotations

import json
import subprocess
import sys

# (kind, grid or image count, H, W, views, distance, points given (0: EPI / the scene's))
CONFIGS = [
    ("lightfield", (3, 3), 128, 128, "crosshair", "rgb", 0),
    ("lightfield", (3, 3), 256, 256, "crosshair", "rgb", 0),
    ("lightfield", (3, 3), 512, 512, "crosshair", "rgb", 0),
    ("lightfield", (9, 9), 128, 128, "crosshair", "rgb", 0),
    ("lightfield", (9, 9), 256, 256, "crosshair", "rgb", 0),
    ("lightfield", (9, 9), 256, 256, "all", "rgb", 0),
    ("lightfield", (5, 5), 256, 256, "crosshair", "vgg", 0),
    ("lightfield", (3, 3), 256, 256, "crosshair", "rgb", 20000),
    ("lightfield", (3, 3), 256, 256, "crosshair", "rgb", 200000),
    ("lightfield", (3, 3), 512, 512, "crosshair", "rgb", 300000),
    ("multiview", 5, 240, 320, "", "rgb", 0),
    ("multiview", 12, 240, 320, "", "rgb", 0),
    ("multiview", 5, 480, 640, "", "rgb", 0),
]

_CHILD = r"""
import json, sys
from dataclasses import replace
from pathlib import Path
import numpy as np

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

import diffdepth
from diffdepth.types import PointSet
kind, size, h, w, views, distance, n = json.loads(sys.argv[1])
if kind == "lightfield":
    from diffdepth.config import LightFieldConfig
    from diffdepth.pipeline import run_lightfield
    from diffdepth.pipeline.checks import lightfield_peak_bytes
    from diffdepth.synth import make_lightfield
    base = LightFieldConfig()
    cfg = replace(base, views=views, optim=replace(base.optim, passes=1, iters_per_phase=2),
                  loss=replace(base.loss, distance=distance))
    run_lightfield(make_lightfield(height=40, width=48, grid=(3, 3), supersample=1), None,
                   replace(cfg, loss=base.loss), progress=False)  # compile the kernels
    lf = make_lightfield(height=h, width=w, grid=tuple(size), supersample=1)
    points = None
    if n:
        rng = np.random.default_rng(0)
        xy = rng.uniform([0, 0], [w - 1, h - 1], (n, 2))
        d = lf.gt[np.round(xy[:, 1]).astype(int), np.round(xy[:, 0]).astype(int)]
        points = PointSet(xy, d)
    before = status("VmRSS")
    res = run_lightfield(lf, points, cfg, progress=False)
    estimate = lightfield_peak_bytes(lf.grid, lf.shape, n or None, cfg)
    count = len(res.points_initial) + res.points_added
else:
    from diffdepth.pipeline.checks import multiview_peak_bytes
    from diffdepth.pipeline.multiview import MultiViewConfig, run_multiview
    from diffdepth.synth import make_multiview
    base = MultiViewConfig()
    cfg = replace(base, optim=replace(base.optim, passes=1, iters_per_phase=2))
    run_multiview(make_multiview(n_views=3, height=30, width=40, n_points=100)[0], None, cfg,
                  progress=False)
    scene, _ = make_multiview(n_views=size, height=h, width=w, n_points=2000)
    before = status("VmRSS")
    res = run_multiview(scene, None, cfg, progress=False)
    shapes = [scene.shape(i) for i in range(len(scene))]
    estimate = multiview_peak_bytes(shapes, res.ref, len(res.points_initial), cfg)
    count = len(res.points_initial)
peak = status("VmHWM") - before
print(json.dumps({"peak_mib": peak / 2**20, "estimate_mib": estimate / 2**20,
                  "points": count}))
"""


def measure(config: tuple) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(res.stdout.strip().splitlines()[-1])
    kind, size, h, w, views, distance, n = config
    row = {
        "kind": kind,
        "grid_or_images": size,
        "image": [h, w],
        "views": views,
        "distance": distance,
        "points_given": n,
        "points": got["points"],
        "peak_mib": round(got["peak_mib"], 1),
        "estimate_mib": round(got["estimate_mib"], 1),
    }
    row["ratio"] = round(got["estimate_mib"] / max(got["peak_mib"], 1e-9), 2)
    return row


if __name__ == "__main__":
    import argparse
    from pathlib import Path

    from benchmarks._machine import add_provenance_flag, emit_json, machine_info, provenance

    p = argparse.ArgumentParser()
    p.add_argument("--results", type=Path, help="also write the JSON here")
    p.add_argument("--quick", action="store_true", help="the first four configurations only")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    rows = []
    for config in CONFIGS[:4] if a.quick else CONFIGS:
        rows.append(measure(config))
        print(json.dumps(rows[-1]), file=sys.stderr)
    emit_json({"machine": machine_info(record), "runs": rows}, a.results)
