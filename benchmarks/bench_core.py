"""Benchmark of the differentiable core, with the floors it is judged against, in one run.

splat forward and forward+backward (N = 5k, 50k, 200k at 512x512) against one index_add_
scatter of N*49 values (forward+backward); diffuse forward and forward+adjoint at 512x512 and
1024x1024, cold and warm-started, against scipy's spsolve on the same 512x512 system. Prints
JSON; with --markdown FILE also writes a Markdown table.

    python -m benchmarks.bench_core [--repeats 7] [--markdown benchmarks/results/core.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks._machine import add_provenance_flag, commit_line, machine_info, provenance
from benchmarks.bench_diffuse import bench_diffuse
from benchmarks.bench_splat import bench_splat


def to_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Core benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} "
        f"threads), Python {m['python']}; load average at start {m['load_average_1min']:.2f}; "
        f"{commit_line(m)}.",
        "",
        "| splat (512x512) | fwd ms | fwd+bwd ms | index_add_ floor fwd+bwd ms | ratio |",
        "|---|---|---|---|---|",
    ]
    for c in res["splat"]["cases"]:
        lines.append(
            f"| {c['n']:,} points, {c['backend']} | {c['fwd_ms']:.1f} | {c['fwd_bwd_ms']:.1f} "
            f"| {c['floor_fwd_bwd_ms']:.1f} | {c['ratio_fwd_bwd_to_floor']:.1f}x |"
        )
    d = res["diffuse"]
    lines += [
        "",
        "| diffuse (tol 1e-6) | seconds | forward / adjoint iterations |",
        "|---|---|---|",
    ]
    for size in (512, 1024):
        case = d.get(f"diffuse_{size}", {})
        for key in ("cold_fwd", "cold_fwd_adj", "warm_fwd", "warm_fwd_adj"):
            if key in case:
                c = case[key]
                its = f"{c['forward_iterations']} / {c['adjoint_iterations'] or '-'}"
                lines.append(f"| {size}x{size} {key} | {c['seconds']:.3f} | {its} |")
    sp = d["spsolve_512"]["seconds"]
    lines += [
        f"| 512x512 scipy spsolve (forward only) | {sp:.3f} | direct |",
        "",
        f"Cold forward+adjoint vs spsolve: {d['speedup_512']['cold_fwd_adj_vs_spsolve']:.1f}x "
        f"faster; warm vs cold forward+adjoint: {d['speedup_512']['warm_vs_cold_fwd_adj']:.2f}x.",
        "",
        "Full results:",
        "",
        "```json",
        json.dumps({k: v for k, v in res.items() if k != "machine"}, indent=2),
        "```",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--markdown", type=Path)
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    res = {
        "machine": machine_info(record),
        "splat": bench_splat(a.repeats),
        "diffuse": bench_diffuse(max(3, a.repeats // 2 + 1), spsolve_repeats=3),
    }
    print(json.dumps(res, indent=2))
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text(to_markdown(res))


if __name__ == "__main__":
    main()
