"""Time and accuracy of each ``--preset`` as a user runs it: a light field (HCI antinous) and
one image of a multi-view scene (templeSparseRing's reference image, the one that sees the
most sparse points).

Each run is ``diffdepth run SCENE --preset NAME`` in a fresh process. A warm-up run of each
scene comes first (it fills the kernel cache, and for the multi-view scene it triangulates the
sparse model once, which the timed runs then read back from their output folder: the time of
one image, as ``run --all`` spends it per image). Then ``--repeats`` runs per preset; the
medians of the wall time and of the CPU time (user + system, all threads) are reported beside
the goals of the "default" preset (a light field within 150 s, a multi-view image within 60 s
on a 2-core machine). The accuracy of the light-field maps comes from the shared scorer
(it does not depend on the machine's load).

    python -m benchmarks.bench_presets [--presets fast,default,paper] [--repeats 3]
        [--results benchmarks/results/presets.json]

Timings mean something only on a quiet machine (the load average is recorded). On a busy one
the CPU time bounds what a quiet run of the same work would take on the wall (the parts that
run on one thread take their CPU time, the parts on two threads less).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

from benchmarks._machine import add_provenance_flag, emit_json, machine_info, provenance
from benchmarks._runs import SHARED, run_cli, score

ANTINOUS = SHARED / "data" / "hci" / "antinous"
TEMPLE = SHARED / "data" / "mvs" / "templeSparseRing"
#: seconds the "default" preset may take per scene kind on a 2-core machine
GOALS = {"light_field": 150.0, "multi_view": 60.0}


def bench_scene(kind: str, scene: Path, presets: list[str], repeats: int, work: Path) -> dict:
    out = work / kind
    warm = run_cli(
        ["run", str(scene), "--out", str(out), "--preset", "fast"],
        log=work / f"{kind}-warmup.log",
    )
    rows = {"warmup": warm}
    for name in presets:
        runs = []
        for k in range(repeats):
            run = run_cli(
                ["run", str(scene), "--out", str(out), "--preset", name],
                log=work / f"{kind}-{name}-{k}.log",
            )
            record = json.loads((out / "config.json").read_text())
            run["pipeline_s"] = round(record["timings"]["total_s"], 2)
            runs.append(run)
        row = {key: statistics.median(r[key] for r in runs) for key in ("wall_s", "cpu_s")}
        row["pipeline_s"] = statistics.median(r["pipeline_s"] for r in runs)
        row["runs"] = runs
        if name == "default":
            row["goal_s"] = GOALS[kind]
        if kind == "light_field":
            row["accuracy"] = score(out / "disparity.pfm", scene / "gt_disp_lowres.pfm")
        else:
            row["metrics"] = json.loads((out / "metrics.json").read_text())
        rows[name] = row
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="fast,default,paper")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--kinds", default="light_field,multi_view")
    p.add_argument("--results", type=Path, default=None, help="write the JSON here too")
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    presets = [s for s in a.presets.split(",") if s]
    scenes = {"light_field": ANTINOUS, "multi_view": TEMPLE}
    res = {"machine": machine_info(record), "repeats": a.repeats}
    with tempfile.TemporaryDirectory(prefix="bench-presets-") as tmp:
        for kind in a.kinds.split(","):
            if not scenes[kind].exists():
                res[kind] = {"skipped": f"{scenes[kind]} is absent"}
                continue
            res[kind] = bench_scene(kind, scenes[kind], presets, a.repeats, Path(tmp))
    res["load_average_end"] = os.getloadavg()[0]
    emit_json(res, a.results)


if __name__ == "__main__":
    main()
