"""How a light-field run shares a busy machine: a fixed run alone, beside busy processes, and
beside a second copy of itself.

The fixed run is ``diffdepth run`` (EPI points, the default optimisation and post-processing)
on the built-in synthetic light field (default 9x9 views of 256x256, written to ``--work``
once), each time in a fresh process, so that its thread pools start as a user's would. After a
warm-up run (which also fills the kernel cache), for each waiting policy:

- quiet:  ``--repeats`` runs, one after the other;
- busy:   the same beside ``--busy`` spinning processes (pure-Python loops, or single-threaded
          numpy matrix products with ``--spinner numpy``), started before and stopped after;
- pair:   ``--repeats`` times two copies started together; each copy's time is kept.

Ratios are medians over the repeats divided by the quiet median of the same policy: the goal is
busy <= 3x (with 2 busy processes on a 2-core machine, fair sharing gives the run a third of
the cores: about 3x) and each copy of a pair <= 2.5x (fair: 2x). ``--wait passive`` is what
diffdepth sets by default (OMP_WAIT_POLICY=PASSIVE, KMP_BLOCKTIME=0); ``--wait active`` sets
OMP_WAIT_POLICY=ACTIVE (threads spin while they wait) to show what passive waiting buys;
``--wait both`` runs both, interleaved policy by policy within each repeat.

    python -m benchmarks.bench_threads [--repeats 3] [--busy 2] [--wait both]
        [--results benchmarks/results/threads.json]

Timings mean something only on an otherwise quiet machine: the load average at the start and
end is recorded with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._machine import add_provenance_flag, emit_json, machine_info, provenance

SPINNERS = {
    "python": "while True:\n    pass\n",
    "numpy": "import numpy as np\na = np.random.rand(256, 256)\nwhile True:\n    a @ a\n",
}
WAIT_ENV = {
    "passive": {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"},
    "active": {"OMP_WAIT_POLICY": "ACTIVE", "KMP_BLOCKTIME": "200"},
}
TARGET_BUSY, TARGET_PAIR = 3.0, 2.5


def make_scene(work: Path, height: int, width: int, grid: tuple[int, int]) -> Path:
    """The synthetic light field as an HCI-style folder (written once)."""
    import numpy as np
    from PIL import Image

    from diffdepth.io import write_pfm
    from diffdepth.synth import make_lightfield

    folder = work / f"scene_{grid[0]}x{grid[1]}_{height}x{width}"
    if (folder / "done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    lf = make_lightfield(height=height, width=width, grid=grid)
    for r in range(grid[0]):
        for c in range(grid[1]):
            img = (lf.views[r, c] * 255).round().astype(np.uint8)
            Image.fromarray(img).save(folder / f"input_Cam{r * grid[1] + c:03d}.png")
    write_pfm(folder / "gt_disp_lowres.pfm", lf.gt)
    (folder / "done").write_text("")
    return folder


def _child_env(wait: str) -> dict:
    """This environment without the thread settings importing diffdepth put in it (the run
    chooses its own, as a user's would), with the waiting policy ``wait``."""
    from diffdepth.threads import thread_env

    managed = set(thread_env(1)) | {"NUMBA_THREADING_LAYER"}
    env = {k: v for k, v in os.environ.items() if k not in managed}
    env.update(WAIT_ENV[wait])
    return env


def start_run(
    scene: Path, out: Path, wait: str, extra: list[str]
) -> tuple[subprocess.Popen, float]:
    cmd = [sys.executable, "-m", "diffdepth.cli", "run", str(scene), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(
        cmd + extra, env=_child_env(wait), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return proc, time.perf_counter()


def finish(proc: subprocess.Popen, t0: float) -> float:
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"diffdepth run exited with {proc.returncode}: {err.decode()[-2000:]}")
    return wall


def timed_runs(scene: Path, work: Path, wait: str, copies: int, extra: list[str]) -> list[float]:
    """Start ``copies`` runs together; the wall time of each."""
    started = [start_run(scene, work / f"out_{wait}_{i}", wait, extra) for i in range(copies)]
    return [finish(p, t0) for p, t0 in started]


class Spinners:
    """``n`` busy processes (started here, stopped by their pids)."""

    def __init__(self, n: int, kind: str):
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.procs = [
            subprocess.Popen([sys.executable, "-c", SPINNERS[kind]], env=env) for _ in range(n)
        ]
        time.sleep(1.0)  # let them reach their loops

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--busy", type=int, default=2, help="busy processes beside the run")
    p.add_argument("--spinner", choices=sorted(SPINNERS), default="python")
    p.add_argument("--wait", choices=["passive", "active", "both"], default="passive")
    p.add_argument("--size", default="256x256", help="HxW of the synthetic views")
    p.add_argument("--grid", default="9x9", help="ROWSxCOLS of views")
    p.add_argument("--threads", type=int, help="pass --threads N to each run (default: none)")
    p.add_argument("--work", type=Path, default=Path("runs/bench_threads"))
    p.add_argument("--results", type=Path, help="also write the JSON here")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    height, width = (int(v) for v in a.size.lower().split("x"))
    grid = tuple(int(v) for v in a.grid.lower().split("x"))
    waits = ["passive", "active"] if a.wait == "both" else [a.wait]
    extra = ["--threads", str(a.threads)] if a.threads else []
    load_start = os.getloadavg()[0]
    scene = make_scene(a.work, height, width, grid)
    warm = timed_runs(scene, a.work, waits[0], 1, extra)[0]  # also compiles and caches kernels
    print(f"warm-up {warm:.1f} s", flush=True)

    times = {w: {"quiet": [], "busy": [], "pair": []} for w in waits}
    for rep in range(a.repeats):
        for w in waits:
            times[w]["quiet"] += timed_runs(scene, a.work, w, 1, extra)
        spin = Spinners(a.busy, a.spinner)
        try:
            for w in waits:
                times[w]["busy"] += timed_runs(scene, a.work, w, 1, extra)
        finally:
            spin.stop()
        for w in waits:
            times[w]["pair"].append(timed_runs(scene, a.work, w, 2, extra))
        print(f"repeat {rep + 1}: {json.dumps(times)}", flush=True)

    summary = {}
    for w in waits:
        t = times[w]
        quiet = statistics.median(t["quiet"])
        busy = statistics.median(t["busy"])
        copies = [statistics.median(pair[i] for pair in t["pair"]) for i in range(2)]
        summary[w] = {
            "quiet_s": round(quiet, 2),
            "busy_s": round(busy, 2),
            "pair_s": [round(c, 2) for c in copies],
            "busy_ratio": round(busy / quiet, 2),
            "pair_ratios": [round(c / quiet, 2) for c in copies],
            "meets_busy_target": busy / quiet <= TARGET_BUSY,
            "meets_pair_target": max(copies) / quiet <= TARGET_PAIR,
            "all_s": t,
        }
    res = {
        "machine": machine_info(record),
        "run": {
            "scene": f"synthetic {grid[0]}x{grid[1]} views of {height}x{width}",
            "command": "diffdepth run SCENE --out OUT --quiet " + " ".join(extra),
        },
        "busy": {"processes": a.busy, "spinner": a.spinner},
        "repeats": a.repeats,
        "targets": {"busy_ratio": TARGET_BUSY, "pair_ratio": TARGET_PAIR},
        "load_average_start_end": [load_start, os.getloadavg()[0]],
        "results": summary,
    }
    emit_json(res, a.results)


if __name__ == "__main__":
    main()
