"""The noisy-points protocol on HCI antinous: plain diffusion vs optimisation.

Initial points: in every 16x16 tile the 20 pixels of largest grey Sobel magnitude (20,480 at
512x512), value = ground truth + N(0, 0.02), 5 % outliers +-U(0.2, 1.0), positions jittered by
+-0.5 px, seed 0; the same points for every variant. Each variant is one ``diffdepth run``
(a child process: wall time and peak memory are the whole command's), scored by the shared
reference scorer on its ``disparity.pfm``.

    python -m benchmarks.bench_lightfield [--variants plain,rgb,supervised,vgg] [--device cpu]
    (also rgb_all_views, rgb_1pass, vgg_1pass)
        [--out runs/bench_lightfield] [--results benchmarks/results/lightfield] [--merge]

``--merge`` keeps the rows of the existing results for the variants not run this time (VGG
takes about 15 minutes on a 2-core CPU; the cheap variants can be re-run alone).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks._machine import add_provenance_flag, commit_line, machine_info, provenance
from benchmarks._runs import KEYS, METRIC_HEAD, SHARED, metric_cells, run_cli, score
from diffdepth.io import read_lightfield, write_points_csv
from diffdepth.points.sampling import noisy_edge_points

SCENE = SHARED / "data" / "hci" / "antinous"
VARIANTS = {
    "plain": ["--plain"],  # the paper's baseline: plain diffusion of the points
    "rgb": [],
    "supervised": ["--supervised"],
    "vgg": ["--distance", "vgg"],
    "rgb_all_views": ["--views", "all"],
    # one pass of the four phases: VGG costs about 19 s per iteration on a 2-core CPU
    "rgb_1pass": ["--passes", "1"],
    "vgg_1pass": ["--distance", "vgg", "--passes", "1"],
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variants", default="plain,rgb,supervised")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=Path("runs/bench_lightfield"))
    p.add_argument("--results", type=Path, default=Path("benchmarks/results/lightfield"))
    p.add_argument("--merge", action="store_true", help="keep earlier rows of other variants")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    if not SCENE.exists():
        raise SystemExit(f"{SCENE} is absent: this benchmark needs ../shared/data")
    lf = read_lightfield(SCENE)
    pts = noisy_edge_points(lf.ref_view, lf.gt, seed=0)
    a.out.mkdir(parents=True, exist_ok=True)
    points_csv = a.out / "points_noisy.csv"
    write_points_csv(points_csv, pts)
    rows = {}
    for name in a.variants.split(","):
        out = a.out / name
        args = ["run", str(SCENE), "--out", str(out), "--points", str(points_csv), "--quiet"]
        args += VARIANTS[name] + ["--device", a.device]
        run = run_cli(args, log=a.out / f"{name}.log")
        metrics = score(out / "disparity.pfm", SCENE / "gt_disp_lowres.pfm")
        timings = json.loads((out / "config.json").read_text())["timings"]
        run["peak_rss_mib"] = round(timings["peak_rss_mib"], 1)
        run["optimise_s"] = round(timings["optimize_s"], 1)
        rows[name] = {**run, **{k: metrics[k] for k in KEYS}, "git_commit": record["git_commit"]}
        print(name, json.dumps(rows[name]), flush=True)
    old = a.results.with_suffix(".json")
    if a.merge and old.exists():
        earlier = json.loads(old.read_text())["variants"]
        merged = {**earlier, **rows}
        rows = {k: merged[k] for k in VARIANTS if k in merged}
    res = {"machine": machine_info(record), "device": a.device, "points": len(pts)}
    res["variants"] = rows
    if "plain" in rows:
        for name, row in rows.items():
            if name != "plain":
                for k in ("mse_x100", "badpix_0.07"):
                    row[f"{k}_reduction_vs_plain_pct"] = round(
                        100 * (1 - row[k] / rows["plain"][k]), 1
                    )
    a.results.parent.mkdir(parents=True, exist_ok=True)
    a.results.with_suffix(".json").write_text(json.dumps(res, indent=2))
    a.results.with_suffix(".md").write_text(to_markdown(res))
    print(json.dumps(res, indent=2))


def to_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Light field: noisy-points protocol on HCI antinous (512x512, 9x9)",
        "",
        f"{res['points']} points; device {res['device']}; machine: {m['cpu']}, {m['cores']} "
        f"cores, torch {m['torch']}" + (f", GPU {m['gpu']}" if "gpu" in m else "") + "; "
        f"{commit_line(m)} (rows kept by --merge name their own).",
        "Metrics from the shared scorer (`score_disparity.py`, 15 px border) on `disparity.pfm`.",
        "",
        "| variant " + METRIC_HEAD + "| wall s | peak MiB | commit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["variants"].items():
        lines.append(
            f"| {name} " + metric_cells(r) + f"| {r['wall_s']:.1f} | {r['peak_rss_mib']:.0f} "
            f"| {(r.get('git_commit') or '?')[:10]} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
