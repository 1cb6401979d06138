"""The multi-view pipeline end to end on the synthetic scene (exact depth known)."""

import shutil
from dataclasses import replace

import numpy as np
import pytest

from diffdepth.cli import main
from diffdepth.io import read_multiview, read_pfm
from diffdepth.optimize import OptimConfig
from diffdepth.pipeline.multiview import MultiViewConfig, run_multiview
from diffdepth.synth import make_multiview


@pytest.fixture(scope="module")
def synthetic():
    return make_multiview(n_views=4, height=60, width=84, seed=0)


def test_optimisation_lowers_scale_fitted_error(synthetic):
    scene, depths = synthetic
    ref = scene.default_ref()
    optim = replace(OptimConfig.multi_view(), passes=2, iters_per_phase=8)
    config = MultiViewConfig(optim=optim, densify_points=800, n_views=3)
    result = run_multiview(scene, ref, config, gt_depth=depths[ref], progress=False)
    m = result.metrics
    assert m["scale_fitted"]["mse"] < 0.8 * m["plain_scale_fitted"]["mse"]
    assert m["reprojection_error_lab"] < m["plain_reprojection_error_lab"]
    assert m["points_final"] > m["points_initial"]  # densified after the first Q phase
    assert np.isfinite(result.depth).all() and (result.depth > 0).all()


def test_all_images_resumable_and_binary_equals_text(
    synthetic, write_colmap_scene, tmp_path, capsys
):
    scene, _ = synthetic
    for kind in ("bin", "txt"):
        write_colmap_scene(tmp_path / kind, scene, binary=kind == "bin")
    args = ["--passes", "1", "--iters", "2", "--quiet"]
    assert main(["run", str(tmp_path / "bin"), "--all", "--out", str(tmp_path / "o"), *args]) == 0
    names = [n.rsplit(".", 1)[0] for n in scene.names]
    for n in names:
        for f in ("depth.pfm", "depth.npy", "points.ply", "metrics.json", "loss.png"):
            assert (tmp_path / "o" / n / f).exists(), (n, f)
        ply = (tmp_path / "o" / n / "points.ply").read_bytes()
        assert ply.startswith(b"ply\nformat binary_little_endian 1.0\n")
    # interrupted run: one image's folder is missing; a restart redoes only that image
    stamp = {n: (tmp_path / "o" / n / "depth.pfm").stat().st_mtime_ns for n in names}
    shutil.rmtree(tmp_path / "o" / names[1])
    capsys.readouterr()
    loud = [a for a in args if a != "--quiet"]  # the skipped images are reported as information
    assert main(["run", str(tmp_path / "bin"), "--all", "--out", str(tmp_path / "o"), *loud]) == 0
    out = capsys.readouterr().out
    assert out.count("already done, skipped") == len(names) - 1
    for n in names:
        now = (tmp_path / "o" / n / "depth.pfm").stat().st_mtime_ns
        assert (now == stamp[n]) == (n != names[1])
    # the same scene as a text model gives the same depth
    ref = scene.names[scene.default_ref()]
    for kind in ("bin", "txt"):
        assert (
            main(
                [
                    "run",
                    str(tmp_path / kind),
                    "--ref",
                    ref,
                    "--out",
                    str(tmp_path / kind / "r"),
                    *args,
                ]
            )
            == 0
        )
    a = read_pfm(tmp_path / "bin" / "r" / "depth.pfm")
    b = read_pfm(tmp_path / "txt" / "r" / "depth.pfm")
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_model_errors(synthetic, write_colmap_scene, tmp_path, capsys):
    scene, _ = synthetic
    write_colmap_scene(tmp_path / "s", scene, binary=False)
    (tmp_path / "s" / "images" / scene.names[0]).unlink()
    assert main(["run", str(tmp_path / "s"), "--out", str(tmp_path / "o")]) == 2
    assert scene.names[0] in capsys.readouterr().err
    write_colmap_scene(tmp_path / "s2", scene, binary=False)
    assert (
        main(["run", str(tmp_path / "s2"), "--ref", "nope.png", "--out", str(tmp_path / "o")]) == 2
    )
    assert "nope.png" in capsys.readouterr().err


def test_reads_back_what_was_written(synthetic, write_colmap_scene, tmp_path):
    scene, _ = synthetic
    write_colmap_scene(tmp_path / "s", scene, binary=True)
    again = read_multiview(tmp_path / "s")
    assert again.names == scene.names
    np.testing.assert_allclose(again.K, scene.K, atol=1e-9)
