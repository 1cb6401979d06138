"""benchmarks/bench_iteration runs one timed iteration per distance on a small scene (its
timings are not asserted: it must build the run it claims to time)."""

import pytest

from diffdepth.synth import make_lightfield

bench = pytest.importorskip("benchmarks.bench_iteration", reason="run from the repository root")


@pytest.mark.parametrize("distance", ["rgb", "vgg_warp"])
def test_iteration_bench_runs_a_small_scene(distance):
    lf = make_lightfield(height=48, width=56, grid=(5, 5), supersample=1)
    out = bench.bench_iteration(distance, 1, lf)
    assert out["distance"] == distance and out["shape"] == [48, 56] and out["views"] == 8
    assert out["points"] > 0 and out["solver_forward_iterations"] > 0
    assert out["solver_adjoint_iterations"] > 0  # the backward pass ran through the solver
    parts = ("splat_s", "solve_s", "loss_s", "backward_s", "step_s")
    assert out["total_s"] >= max(out[p] for p in parts) > 0
