"""Benchmark of the initial point sources on real scenes.

    python benchmarks/bench_points.py            # prints JSON

EPI detection on HCI antinous (9x9, 512x512, disp_range from parameters.cfg): point count,
accuracy against the ground truth at each point's nearest pixel, coverage of 32 x 32 tiles and
detection time (one warm-up run, then the median of several repeats).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def bench_epi_points(
    scene: Path | None = None, repeats: int = 3, record: dict | None = None
) -> dict:
    """EPI points on antinous: count, accuracy, tile coverage and time (median of repeats)."""
    from benchmarks._machine import machine_info
    from diffdepth.config import EPIConfig
    from diffdepth.io.lightfield import read_lightfield
    from diffdepth.points.epi import detect_epi_points

    scene = scene or SHARED_DATA / "hci" / "antinous"
    if not scene.exists():
        return {"skipped": f"{scene} is absent (../shared/data is not beside this checkout)"}
    lf = read_lightfield(scene)
    config = EPIConfig()
    detect_epi_points(lf.views, lf.ref, lf.disp_range, config)  # warm-up
    times, cpu_times = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        pts = detect_epi_points(lf.views, lf.ref, lf.disp_range, config)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)

    h, w = lf.gt.shape
    xi = np.clip(np.round(pts.xy[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.round(pts.xy[:, 1]).astype(int), 0, h - 1)
    err = np.abs(pts.value - lf.gt[yi, xi])
    tiles = np.zeros((h // 32 + 1, w // 32 + 1), bool)
    tiles[yi // 32, xi // 32] = True
    on_row = np.isclose(pts.xy[:, 1], np.round(pts.xy[:, 1]), atol=1e-4)
    return {
        "scene": scene.name,
        "grid": list(lf.views.shape[:2]),
        "image": [h, w],
        "disp_range": list(lf.disp_range) if lf.disp_range else None,
        "points": len(pts),
        "points_row_epi": int(on_row.sum()),
        "points_column_epi": int((~on_row).sum()),
        "median_abs_error": float(np.median(err)),
        "mean_abs_error": float(np.mean(err)),
        "within_0.03_pct": float(np.mean(err <= 0.03) * 100),
        "within_0.07_pct": float(np.mean(err <= 0.07) * 100),
        "gross_over_1px_pct": float(np.mean(err > 1.0) * 100),
        "tile32_coverage_pct": float(tiles[: h // 32, : w // 32].mean() * 100),
        "time_s_median": statistics.median(times),
        "time_s_all": times,
        "cpu_time_s_median": statistics.median(cpu_times),
        "config": config.to_dict(),
        "machine": machine_info(record),
    }


def bench_full_runs(out: Path) -> dict:
    """The default `diffdepth run` (EPI points, self-supervised optimisation, no ground truth
    used) on antinous beside its own --plain (the paper's baseline), scored by the shared scorer on
    disparity.pfm; and the Lytro capture and the Tsukuba row end to end."""
    from benchmarks._runs import SHARED, run_cli, score

    data = SHARED / "data"
    antinous = data / "hci" / "antinous"
    res = {}
    for name, extra in (("antinous_plain", ["--plain"]), ("antinous_default", [])):
        o = out / name
        run = run_cli(
            ["run", str(antinous), "--out", str(o), "--quiet", *extra], out / f"{name}.log"
        )
        res[name] = {
            **run,
            **_memory(o),
            **score(o / "disparity.pfm", antinous / "gt_disp_lowres.pfm"),
        }
    o = out / "lytro_2067"
    res["lytro_2067"] = run_cli(
        ["run", str(data / "lytro" / "2067"), "--out", str(o), "--quiet"], out / "lytro.log"
    )
    res["lytro_2067"].update(_memory(o))
    tsukuba = data / "middlebury" / "tsukuba"
    gt = tsukuba / "truedisp.row3.col3.pgm"
    for name, extra in (("tsukuba_plain", ["--plain"]), ("tsukuba", [])):
        o = out / name
        args = ["run", str(tsukuba), "--grid", "1x5", "--gt", str(gt), "--gt-scale", "0.0625"]
        run = run_cli([*args, "--out", str(o), "--quiet", *extra], out / f"{name}.log")
        metrics = score(
            o / "disparity.pfm",
            gt,
            "--gt-scale",
            "0.0625",
            "--invalid-zero",
            "--thresholds",
            "0.5",
            "1",
            "2",
        )
        res[name] = {**run, **_memory(o), **metrics}
    return res


def _memory(out: Path) -> dict:
    timings = json.loads((out / "config.json").read_text())["timings"]
    return {"peak_rss_mib": round(timings["peak_rss_mib"], 1)}


if __name__ == "__main__":
    import argparse

    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from benchmarks._machine import add_provenance_flag, emit_json, provenance

    p = argparse.ArgumentParser()
    p.add_argument("--full", action="store_true", help="also the end-to-end runs")
    p.add_argument("--out", type=Path, default=Path("runs/bench_points"))
    p.add_argument("--results", type=Path, help="also write the JSON here")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    res = {"epi_points": bench_epi_points(record=record)}
    if a.full:
        res["full_runs"] = bench_full_runs(a.out)
    emit_json(res, a.results)
