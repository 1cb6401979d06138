"""Benchmark of diffdepth.render.splat against a scatter floor.

At 512x512 with random positions, depths and values, times splat forward and forward+backward
(numba backend for N = 5k, 50k, 200k; torch backend for 50k) and the floor: one
``torch.index_add_`` of N*49 values into H*W pixels, forward+backward (values require grad; the
backward is a gather). Warm-up, then ``repeats`` rounds that run the floor and the splat cases in
turn (so they share the machine's load); medians over the rounds. The ratio is the median over
rounds of splat fwd+bwd / floor fwd+bwd of the same round.

    python -m benchmarks.bench_splat [repeats] [--allow-dirty]
"""

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numba
import numpy as np
import torch

from diffdepth.render import WINDOW_RADIUS, splat

HEIGHT, WIDTH = 512, 512
SIZES = (5_000, 50_000, 200_000)
TORCH_SIZES = (50_000,)


def _interleaved_ms(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict:
    """Median ms of each function, the functions run in turn within every repeat (so that they
    see the same machine load), and the per-repeat times."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(1e3 * (time.perf_counter() - t0))
    return times


def _points(n: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=gen) * torch.tensor([WIDTH - 1.0, HEIGHT - 1.0])
    value = torch.rand(n, generator=gen) * 4 - 2
    weight = torch.rand(n, generator=gen) * 0.9 + 0.1
    depth = torch.rand(n, generator=gen)
    return xy, value, weight, depth


def _splat_fns(n: int, backend: str) -> dict:
    xy, value, weight, depth = _points(n)
    g_s = torch.randn(HEIGHT, WIDTH)
    g_l = torch.randn(HEIGHT, WIDTH)
    leaves = [t.clone().requires_grad_() for t in (xy, value, weight)]

    def forward():
        with torch.no_grad():
            splat(xy, value, weight, depth, (HEIGHT, WIDTH), backend=backend)

    def forward_backward():
        S, lam = splat(*leaves, depth, (HEIGHT, WIDTH), backend=backend)
        torch.autograd.backward((S, lam), (g_s, g_l))

    return {"fwd": forward, "fwd_bwd": forward_backward}


def _floor_fn(n: int) -> Callable[[], None]:
    """index_add_ of the N*49 fragment values into H*W, forward+backward."""
    xy, *_ = _points(n)
    c = torch.floor(xy + 0.5).long()
    off = torch.arange(-WINDOW_RADIUS, WINDOW_RADIUS + 1)
    qx = (c[:, 0, None] + off).clamp(0, WIDTH - 1)
    qy = (c[:, 1, None] + off).clamp(0, HEIGHT - 1)
    index = (qy[:, :, None] * WIDTH + qx[:, None, :]).reshape(-1)  # [N*49]
    values = torch.rand(index.numel(), requires_grad=True)
    grad = torch.randn(HEIGHT * WIDTH)

    def run():
        out = torch.zeros(HEIGHT * WIDTH).index_add_(0, index, values)
        out.backward(grad)

    return run


def bench_splat(repeats: int = 7) -> dict:
    """Median timings (ms) of splat and of the scatter floor at 512x512; see the module doc."""
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "numba_threads": numba.get_num_threads(),
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numba": numba.__version__,
            "numpy": np.__version__,
        },
        "shape": [HEIGHT, WIDTH],
        "repeats": repeats,
        "cases": [],
    }
    for n in SIZES:
        backends = ["numba"] + (["torch"] if n in TORCH_SIZES else [])
        for backend in backends:
            fns = {"floor": _floor_fn(n), **_splat_fns(n, backend)}
            times = _interleaved_ms(fns, repeats)
            ratios = [a / b for a, b in zip(times["fwd_bwd"], times["floor"])]
            result["cases"].append(
                {
                    "n": n,
                    "backend": backend,
                    "fwd_ms": statistics.median(times["fwd"]),
                    "fwd_bwd_ms": statistics.median(times["fwd_bwd"]),
                    "floor_fwd_bwd_ms": statistics.median(times["floor"]),
                    "ratio_fwd_bwd_to_floor": statistics.median(ratios),
                }
            )
    return result


if __name__ == "__main__":
    import argparse
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._machine import add_provenance_flag, provenance

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repeats", type=int, nargs="?", default=7)
    add_provenance_flag(parser)
    args = parser.parse_args()
    record = provenance(args.allow_dirty)
    res = bench_splat(args.repeats)
    res["machine"].update(record)
    print(json.dumps(res, indent=2))
