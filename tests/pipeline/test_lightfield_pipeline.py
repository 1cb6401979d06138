"""The light-field pipeline end to end on the synthetic scene (known answers)."""

import dataclasses

import numpy as np
import pytest

from diffdepth import viz
from diffdepth.config import LightFieldConfig, OptimConfig
from diffdepth.io import read_pfm
from diffdepth.pipeline import run_lightfield, write_lightfield_outputs
from diffdepth.points.sampling import noisy_edge_points
from diffdepth.synth import make_lightfield

EXPECTED = {
    "disparity.pfm",
    "disparity.npy",
    "disparity.png",
    "points_initial.csv",
    "points_final.csv",
    "loss.csv",
    "loss.png",
    "config.json",
    "metrics.json",
    "error_signed.png",
    "badpix_0.07.png",
    "gt.png",
    "gt.pfm",
    "disparity_plain.pfm",
    "disparity_plain.png",
    "reference.png",
    "confidence.npy",
    "confidence.png",
    "report.html",
    "summary.png",
    "manifest.json",
}


@pytest.fixture(scope="module")
def scene():
    lf = make_lightfield(height=64, width=96)
    pts = noisy_edge_points(lf.ref_view, lf.gt, tile=8, per_tile=8, seed=1)
    return lf, pts


#: a short schedule; the stages around the optimisation off, so that it alone makes a difference
SHORT = LightFieldConfig(
    optim=OptimConfig.light_field().replace(passes=2, iters_per_phase=8),
    densify=False,
    postfilter=False,
    edge_refine=False,
)


@pytest.fixture(scope="module")
def short_run(scene):
    lf, pts = scene
    without = run_lightfield(lf, pts, SHORT.replace(optimize=False), progress=False)
    result = run_lightfield(lf, pts, SHORT, progress=False)
    return without, result


def test_the_optimisation_stage_reduces_the_error_of_noisy_points(short_run):
    # the same run with and without the optimisation stage (same points, model, no other stage)
    without, result = short_run
    assert without.config.replace(optimize=True) == result.config
    assert result.metrics["mse_x100"] < 0.9 * without.metrics["mse_x100"]
    assert result.metrics["badpix_0.07"] < 0.95 * without.metrics["badpix_0.07"]
    assert len(result.history.loss) == 2 * 4 * 8 and len(without.history.loss) == 0
    # the loss of the last pass is below the loss of the first iterations
    assert np.mean(result.history.loss[-8:]) < np.mean(result.history.loss[:8])


def test_the_result_keeps_the_plain_diffusion_and_scores_both(scene, short_run):
    lf, pts = scene
    _, result = short_run
    plain = run_lightfield(lf, pts, LightFieldConfig.plain(), progress=False)
    # the plain map kept by any other run is the plain run's (the SPEC's baseline), exactly
    np.testing.assert_array_equal(result.disparity_plain, plain.disparity)
    np.testing.assert_array_equal(plain.disparity_plain, plain.disparity)
    for key in ("mse_x100", "badpix_0.07", "reprojection_error_lab"):
        assert result.metrics[f"plain_{key}"] == pytest.approx(plain.metrics[key], rel=1e-12)
    assert "plain_mse_x100" not in plain.metrics  # nothing to compare in a plain run
    # the optimised map re-projects better into the corner views than the plain diffusion
    assert result.metrics["reprojection_error_lab"] < result.metrics["plain_reprojection_error_lab"]


def test_supervised_optimisation_reduces_error(scene):
    lf, pts = scene
    config = SHORT.replace(supervised=True, edge_refine=True)
    without = run_lightfield(lf, pts, config.replace(optimize=False), progress=False)
    result = run_lightfield(lf, pts, config, progress=False)
    assert result.metrics["mse_x100"] < 0.8 * without.metrics["mse_x100"]
    assert result.pixels_refined == 0  # the edge refinement is photometric: not after this


def test_outputs_are_complete(short_run, scene, tmp_path):
    lf, _ = scene
    _, result = short_run
    write_lightfield_outputs(result, lf, tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert names == EXPECTED
    d = read_pfm(tmp_path / "out" / "disparity.pfm")
    np.testing.assert_allclose(d, result.disparity, rtol=0, atol=0)
    assert np.load(tmp_path / "out" / "disparity.npy").shape == lf.gt.shape


def test_interrupted_write_leaves_nothing(short_run, scene, tmp_path, monkeypatch):
    lf, _ = scene
    _, result = short_run

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(viz, "save_loss_png", boom)
    with pytest.raises(KeyboardInterrupt):
        write_lightfield_outputs(result, lf, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []  # no result folder, no staging folder beside it


def test_points_far_outside_are_dropped_and_none_left_is_an_error(scene):
    from diffdepth.io.errors import InputError
    from diffdepth.types import PointSet

    lf, pts = scene
    far = PointSet(pts.xy + 1000.0, pts.value)
    with pytest.raises(InputError, match="outside"):
        run_lightfield(lf, far, LightFieldConfig.plain(), progress=False)
    with pytest.raises(InputError, match="no points"):
        empty = pts.subset(np.zeros(len(pts), bool))
        run_lightfield(lf, empty, LightFieldConfig(), progress=False)


def test_plain_run_is_the_spec_baseline(scene):
    import torch

    from diffdepth.diffuse import diffuse
    from diffdepth.optimize import initial_q
    from diffdepth.render import splat

    lf, pts = scene
    plain = run_lightfield(lf, pts, LightFieldConfig.plain(), progress=False)
    v = torch.from_numpy(pts.value)
    S, lam = splat(torch.from_numpy(pts.xy), v, torch.ones_like(v), -v, lf.gt.shape)
    D = diffuse(S, lam, torch.exp(-initial_q(lf.ref_view, 6.0)))
    np.testing.assert_allclose(plain.disparity, D.numpy(), atol=1e-5)
    assert plain.points_added == 0 and plain.timings["densify_s"] == 0.0
    assert plain.pixels_refined == 0 and len(plain.history.loss) == 0


def test_no_optimize_skips_the_optimisation_stage_alone(scene):
    lf, pts = scene
    result = run_lightfield(lf, pts, LightFieldConfig(optimize=False), progress=False)
    assert len(result.history.loss) == 0 and result.timings["optimize_s"] == 0.0
    assert result.points_added > 0 and result.pixels_refined > 0
    assert result.timings["postfilter_s"] > 0 and result.config.model.order == "robust"
    # the optimised labels are the initial ones
    assert np.array_equal(result.points_final.value[: len(pts)], pts.value)


def test_default_run_densifies_and_reports_it(scene, tmp_path):
    import json

    lf, pts = scene
    config = LightFieldConfig(optim=OptimConfig.light_field().replace(passes=1, iters_per_phase=2))
    result = run_lightfield(lf, pts, config, progress=False)
    assert result.points_added > 0
    assert len(result.points_final) == len(pts) + result.points_added
    assert len(result.points_initial) == len(pts)
    write_lightfield_outputs(result, lf, tmp_path / "out")
    info = json.loads((tmp_path / "out" / "config.json").read_text())
    assert info["points_added"] == result.points_added
    assert info["config"]["model"]["order"] == "robust"
    assert LightFieldConfig.from_dict(info["config"]) == result.config
    no_dense = run_lightfield(lf, pts, config.replace(densify=False), progress=False)
    assert no_dense.points_added == 0 and len(no_dense.points_final) == len(pts)


def test_edge_refinement_runs_after_optimising_and_helps_beside_edges(scene):
    from scipy import ndimage

    lf, pts = scene
    config = LightFieldConfig(optim=OptimConfig.light_field().replace(passes=1, iters_per_phase=4))
    refined = run_lightfield(lf, pts, config, progress=False)
    kept = run_lightfield(lf, pts, config.replace(edge_refine=False), progress=False)
    assert refined.pixels_refined > 0 and kept.pixels_refined == 0
    assert refined.timings["refine_s"] > 0 and kept.timings["refine_s"] == 0
    gy, gx = np.gradient(lf.gt)
    beside = ndimage.binary_dilation(np.hypot(gx, gy) > 0.1, iterations=5)
    bad = {
        n: (np.abs(r.disparity - lf.gt) > 0.07)[beside].mean()
        for n, r in (("refined", refined), ("kept", kept))
    }
    assert bad["refined"] < bad["kept"], bad


def test_the_orientation_pass_corrects_interpolation_between_points():
    """A textured slanted plane whose map is off by the steps of a coarse interpolation: the
    refinement's second pass takes the EPI orientation estimate where the views prefer it
    (most of the plane); without it (adopt_margin None) the map keeps its error."""
    from diffdepth.photo import LightFieldProblem
    from diffdepth.pipeline.lightfield import orientation_candidate, postprocess
    from diffdepth.synth import Surface

    lf = make_lightfield(64, 80, (9, 9), seed=2, surfaces=[Surface("plane", (0.4, 0.01, -0.006))])
    rough = (np.round(lf.gt * 5.0) / 5.0).astype(np.float32)  # 0.2 px steps: up to 0.1 off
    problem = LightFieldProblem.from_lightfield(lf)
    # the second pass alone: no edge pass (its steps would be discontinuities), no median
    config = LightFieldConfig(postfilter=False)
    config = config.replace(refine=config.refine.replace(rounds=0))
    inner = (slice(8, -8), slice(8, -8))

    def bad(d):
        return (np.abs(d - lf.gt)[inner] > 0.07).mean()

    fused, changed = postprocess(lf, problem, rough.copy(), config)
    kept, none = postprocess(
        lf, problem, rough.copy(), config.replace(refine=config.refine.replace(adopt_margin=None))
    )
    assert none == 0 and np.array_equal(kept, rough)
    assert changed > 0 and bad(rough) > 0.2 and bad(fused) < 0.25 * bad(rough), (
        bad(rough),
        bad(fused),
    )
    # without a known range, the candidate searches the map's own
    unknown = orientation_candidate(dataclasses.replace(lf, disp_range=None), rough, None)
    assert np.median(np.abs(unknown - lf.gt)[inner]) < 0.03


def test_the_orientation_pass_needs_a_grid_of_views(monkeypatch):
    """A single row of views (a stereo rig) gets the edge pass alone; a 3 x 3 grid the
    orientation pass as well."""
    import diffdepth.pipeline.lightfield as pipeline_lf
    from diffdepth.photo import LightFieldProblem

    asked = []
    real = pipeline_lf.orientation_candidate

    def spy(lf, disparity, points):
        asked.append(lf.grid)
        return real(lf, disparity, points)

    monkeypatch.setattr(pipeline_lf, "orientation_candidate", spy)
    config = LightFieldConfig(postfilter=False)
    for grid in ((1, 5), (3, 3)):
        lf = make_lightfield(32, 40, grid, seed=3)
        problem = LightFieldProblem.from_lightfield(lf)
        pipeline_lf.postprocess(lf, problem, lf.gt.astype(np.float32), config)
    assert asked == [(3, 3)]
    assert config.orientation_pass((9, 9)) and not config.orientation_pass((1, 9))
    assert not config.replace(refine=config.refine.replace(adopt_margin=None)).orientation_pass(
        (9, 9)
    )
    assert not config.replace(supervised=True).orientation_pass((9, 9))
