"""Helpers of the end-to-end benchmarks: run the command line as a user would, and score."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

# ../shared beside the checkout, or wherever DIFFDEPTH_SHARED points
SHARED = Path(os.environ.get("DIFFDEPTH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SCORER = SHARED / "tools" / "score_disparity.py"


def run_cli(args: list[str], log: Path | None = None) -> dict:
    """Run ``diffdepth ARGS`` in a child process; its wall time and CPU time (user + system,
    every thread) in s. Peak memory is in the run's own ``config.json``
    (timings.peak_rss_mib)."""
    cmd = [sys.executable, "-m", "diffdepth.cli", *args]
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    out = open(log, "w") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if log:
            out.close()
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text()[-2000:] if log else ""
        raise RuntimeError(f"diffdepth {' '.join(args)} exited with {code}\n{tail}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2)}


def score(est: Path, gt: Path, *extra: str, holes: bool = False) -> dict:
    """Metrics of ``est`` from the shared reference scorer.

    diffdepth's maps are finite, and on finite maps the reference scorer and diffdepth's own
    (`diffdepth score`, metrics.json) agree. They differ on non-finite pixels (the reference
    counts them with the largest finite error of the map, diffdepth with a fixed 100 px):
    a map with one is refused here instead of scored by a rule it could fool, unless ``holes``:
    a baseline that leaves pixels without an estimate (raw SGBM), scored by the reference rule
    and reported as such."""
    res = subprocess.run(
        [sys.executable, str(SCORER), str(est), str(gt), "--json", *extra],
        capture_output=True,
        text=True,
        check=True,
    )
    metrics = json.loads(res.stdout)
    if metrics.get("nonfinite_estimates") and not holes:
        raise RuntimeError(
            f"{est}: {metrics['nonfinite_estimates']} non-finite pixels; the reference scorer's "
            "rule for them differs from diffdepth's (see diffdepth.metrics.disparity)"
        )
    return metrics


#: the shared scorer's figures every light-field table reports, and their column heads
KEYS = ["mse_x100", "badpix_0.07", "badpix_0.03", "badpix_0.01", "q25_x100"]
METRIC_HEAD = "| MSE x100 | BadPix 0.07 | BadPix 0.03 | BadPix 0.01 | Q25 x100 "


def metric_cells(r: dict) -> str:
    """The table cells of KEYS for one row (leading '| ', no trailing bar)."""
    return (
        f"| {r['mse_x100']:.3f} | {r['badpix_0.07']:.2f} | {r['badpix_0.03']:.2f} "
        f"| {r['badpix_0.01']:.2f} | {r['q25_x100']:.3f} "
    )
