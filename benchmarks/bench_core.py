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

from benchmarks._machine import machine_info
from benchmarks.bench_diffuse import bench_diffuse
from benchmarks.bench_splat import bench_splat


def to_markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Core benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} "
        f"threads), Python {m['python']}; load average at start {m['load_average_1min']:.2f}.",
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
    a = p.parse_args()
    res = {
        "machine": machine_info(),
        "splat": bench_splat(a.repeats),
        "diffuse": bench_diffuse(max(3, a.repeats // 2 + 1)),
    }
    print(json.dumps(res, indent=2))
    if a.markdown:
        a.markdown.parent.mkdir(parents=True, exist_ok=True)
        a.markdown.write_text(to_markdown(res))


if __name__ == "__main__":
    main()
