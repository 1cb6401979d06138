"""The accuracy suite's machinery: the shared-run shortcut gives the pipeline's own maps, the
--set overrides reach the right fields, the variant table switches the stages it names, and
the failure diagnosis sorts bad pixels as stated."""

import numpy as np
import pytest

from benchmarks.bench_suite import (
    ABLATION,
    VARIANTS,
    DiffdepthRunner,
    apply_overrides,
    failure_kinds,
    parse_args,
)
from diffdepth.config import EPIConfig, LightFieldConfig
from diffdepth.pipeline import run_lightfield
from diffdepth.points.sampling import noisy_edge_points
from diffdepth.synth import make_lightfield


def test_shared_run_gives_the_pipelines_maps():
    lf = make_lightfield(40, 56, (3, 3), seed=1)
    points = noisy_edge_points(lf.ref_view, lf.gt, per_tile=12, seed=0)
    base = apply_overrides(
        LightFieldConfig(), EPIConfig(), ["optim.passes=1", "optim.iters_per_phase=2"]
    )
    runner = DiffdepthRunner(lf, points, points_s=0.0)
    optimised, _, _ = runner.run(VARIANTS["optimise"][1](base[0]))
    shared, _, info = runner.run(VARIANTS["default"][1](base[0]))
    assert len(runner.cache) == 1  # one optimisation for both
    assert info["pixels_refined"] > 0 and not np.array_equal(shared, optimised)
    alone = run_lightfield(lf, points, VARIANTS["default"][1](base[0]), progress=False)
    np.testing.assert_allclose(shared, alone.disparity, atol=1e-6)


def test_variant_table_switches_the_stages():
    base = LightFieldConfig()
    c = {name: VARIANTS[name][1](base) for name in ABLATION + ["no_optimise"]}
    assert c["default"] == base
    assert c["plain"] == LightFieldConfig.plain()
    assert not c["densify"].optimize and not c["densify"].postfilter
    assert not c["densify"].edge_refine and c["densify"].densify
    assert c["optimise"].optimize and not c["optimise"].postfilter
    assert c["postfilter"].postfilter and not c["postfilter"].edge_refine
    assert c["no_optimise"] == LightFieldConfig(optimize=False)


def test_overrides():
    run, epi = apply_overrides(
        LightFieldConfig(),
        EPIConfig(),
        ["optim.passes=2", "median.radius=0", "edge_refine=false", "loss.distance=vgg",
         "refine.distances=2,4", "epi.n_slopes=31", "optim.lr=0.1,0.2,0.3,0.4"],
    )  # fmt: skip
    assert run.optim.passes == 2 and run.median.radius == 0 and run.edge_refine is False
    assert run.loss.distance == "vgg" and run.refine.distances == (2, 4)
    assert run.optim.lr == (0.1, 0.2, 0.3, 0.4) and epi.n_slopes == 31
    assert run.optim.iters_per_phase == LightFieldConfig().optim.iters_per_phase  # the rest kept
    for bad, match in [
        ("optim.pases=2", "no field 'pases'"),
        ("optim=3", "a group of settings"),
        ("optim.passes=two", "expected a int"),
        ("edge_refine=maybe", "true or false"),
        ("passes", "KEY=VALUE"),
        ("views=sideways", "crosshair"),
    ]:
        with pytest.raises(ValueError, match=match):
            apply_overrides(LightFieldConfig(), EPIConfig(), [bad])


def test_quick_and_tag_and_bad_names(capsys):
    a = parse_args(["--quick", "--set", "optim.passes=2", "--scenes", "thin,dots"])
    assert a.tag == "quick" and a.run_config.optim.passes == 2  # --set wins over --quick
    assert a.scenes == ["thin", "dots"] and a.variants == list(VARIANTS)
    with pytest.raises(SystemExit) as e:
        parse_args(["--scenes", "thin,nope"])
    assert e.value.code == 2 and "unknown scene nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--set", "optim.nope=1"])


def test_failure_kinds_known_answer():
    h, w = 60, 60
    gt = np.zeros((h, w))
    gt[:, 30:32] = 1.0  # a strip 2 px wide
    gt[:, 45:] = 0.5  # a depth step at x = 45
    ref = np.zeros((h, w, 3))
    ref[:, :24] = np.random.default_rng(0).uniform(0, 1, (h, 24, 3))  # texture left only
    est = gt.copy()
    est[:, 30:32] = 0.0  # the strip is lost
    est[:, 43:45] = 0.5  # a 2 px halo before the step
    est[20:30, 36:40] += 0.2  # an error in untextured flat ground
    est[20:30, 16:20] += 0.2  # and one in texture
    fk = failure_kinds(est, gt, ref, 0.07, 0.25)
    n_bad = 30 * 2 + 30 * 2 + 10 * 4 + 10 * 4  # rows and columns 15..44 are scored
    assert fk["bad_pct"] == pytest.approx(100 * n_bad / (30 * 30), abs=0.01)
    assert fk["thin"]["share_of_bad_pct"] == pytest.approx(100 * 60 / n_bad, abs=0.1)
    assert fk["thin"]["bad_rate_pct"] == 100.0
    assert fk["edge"]["share_of_bad_pct"] == pytest.approx(100 * 60 / n_bad, abs=0.1)
    assert fk["lowtex"]["share_of_bad_pct"] == pytest.approx(100 * 40 / n_bad, abs=0.1)
    assert fk["other"]["share_of_bad_pct"] == pytest.approx(100 * 40 / n_bad, abs=0.1)
