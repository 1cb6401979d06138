"""What each stage of a default light-field run buys, on HCI antinous, scored by the shared scorer.

For two point sets (the noisy-points protocol of `bench_lightfield` and the EPI detector's points)
the stages are added one at a time: the plain diffusion of the points (the paper's baseline),
the robust occlusion order, plane-sweep densification, occlusion cuts, the optimisation (five
passes with the light-field presets), the weighted-median post-filter, the edge refinement; and,
beside the full run, the refinement applied straight to the densified initial map, and
the same run with the paper's optimiser settings (occlusion order by label, learning rates
0.015/0.015/0.015/0.1, no anchors, no depth-edge mask; post-filter and refinement kept).
Every variant writes its ``disparity.pfm`` and is scored by ``score_disparity.py``.

    python -m benchmarks.bench_ablation [--points noisy,epi] [--out runs/bench_ablation]
        [--results benchmarks/results/ablation]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks._machine import add_provenance_flag, commit_line, machine_info, provenance
from benchmarks._runs import KEYS, METRIC_HEAD, SHARED, metric_cells, score
from diffdepth.config import LightFieldConfig, LossConfig, ModelConfig, OptimConfig
from diffdepth.io import read_lightfield, write_pfm
from diffdepth.pipeline import run_lightfield
from diffdepth.points.sampling import noisy_edge_points

SCENE = SHARED / "data" / "hci" / "antinous"


def variants() -> dict[str, LightFieldConfig]:
    """name -> LightFieldConfig; the stages are switched on one after another."""
    plain = LightFieldConfig.plain()
    robust = ModelConfig.light_field().replace(cut_radius=0.0)
    return {
        "plain (paper's baseline)": plain,
        "+ robust order": plain.replace(model=robust),
        "+ densify": plain.replace(model=robust, densify=True),
        "+ occlusion cuts": plain.replace(model=ModelConfig.light_field(), densify=True),
        "+ optimisation": LightFieldConfig(postfilter=False, edge_refine=False),
        "+ post-filter": LightFieldConfig(edge_refine=False),
        "+ edge refinement (default run)": LightFieldConfig(),
        "edge refinement without the optimisation": LightFieldConfig(optimize=False),
        "default run, paper's optimiser settings": LightFieldConfig(
            optim=OptimConfig(), loss=LossConfig()
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--points", default="noisy,epi")
    p.add_argument("--out", type=Path, default=Path("runs/bench_ablation"))
    p.add_argument("--results", type=Path, default=Path("benchmarks/results/ablation"))
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    if not SCENE.exists():
        raise SystemExit(f"{SCENE} is absent: this benchmark needs ../shared/data")
    lf = read_lightfield(SCENE)
    sets = {}
    for name in a.points.split(","):
        if name == "noisy":
            sets[name] = noisy_edge_points(lf.ref_view, lf.gt, seed=0)
        elif name == "epi":
            from diffdepth.points.epi import detect_epi_points

            sets[name] = detect_epi_points(lf.views, ref=lf.ref, disp_range=lf.disp_range)
        else:
            raise SystemExit(f"unknown point set {name!r} (noisy, epi)")
    rows: dict[str, dict] = {}
    for pname, pts in sets.items():
        for vname, config in variants().items():
            t0 = time.perf_counter()
            result = run_lightfield(lf, pts, config, progress=False)
            wall = time.perf_counter() - t0
            out = a.out / pname / vname.replace(" ", "_").replace("'", "").replace(",", "")
            out.mkdir(parents=True, exist_ok=True)
            write_pfm(out / "disparity.pfm", result.disparity)
            m = score(out / "disparity.pfm", SCENE / "gt_disp_lowres.pfm")
            row = {
                "points": len(pts),
                "points_added": result.points_added,
                "pixels_refined": result.pixels_refined,
                "seconds": round(wall, 1),
                **{k: m[k] for k in KEYS},
            }
            rows[f"{pname}: {vname}"] = row
            print(pname, vname, json.dumps(row), flush=True)
    res = {"machine": machine_info(record), "scene": "antinous", "rows": rows}
    a.results.parent.mkdir(parents=True, exist_ok=True)
    a.results.with_suffix(".json").write_text(json.dumps(res, indent=2))
    a.results.with_suffix(".md").write_text(to_markdown(res))


def to_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# What each stage of a light-field run buys (HCI antinous, 512x512, 9x9)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}; {commit_line(m)}. "
        "Shared scorer on each "
        "variant's `disparity.pfm`; 'seconds' is the in-process run (points given).",
        "",
        "| points: variant " + METRIC_HEAD + "| added points | refined pixels | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["rows"].items():
        lines.append(
            f"| {name} " + metric_cells(r) + f"| {r['points_added']} | {r['pixels_refined']} "
            f"| {r['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
