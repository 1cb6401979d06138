"""The preset benchmark's machinery on tiny scenes: every preset's row has its times, the
light field its accuracy from the shared scorer, the multi-view image its metrics, and the
timed multi-view runs read the sparse model back instead of triangulating it."""

from dataclasses import replace

import pytest

from diffdepth.synth.multiview import make_multiview

_runs = pytest.importorskip("benchmarks._runs", reason="run from the repository root")
bench = pytest.importorskip("benchmarks.bench_presets", reason="run from the repository root")


def test_light_field_rows(write_tiny_hci, tmp_path):
    if not _runs.SCORER.exists():
        pytest.skip(f"reference scorer {_runs.SCORER} is absent (../shared is not beside this)")
    folder, _ = write_tiny_hci(tmp_path / "lf")
    res = bench.bench_scene("light_field", folder, ["fast", "default"], 1, tmp_path / "work")
    for name in ("fast", "default"):
        row = res[name]
        assert row["wall_s"] > 0 and row["cpu_s"] > 0 and 0 < row["pipeline_s"] <= row["wall_s"]
        assert 0 <= row["accuracy"]["badpix_0.07"] <= 100
    assert res["default"]["goal_s"] == bench.GOALS["light_field"] and "goal_s" not in res["fast"]


def test_multi_view_runs_reuse_the_sparse_model(write_colmap_scene, tmp_path):
    pytest.importorskip("pycolmap")
    scene, _ = make_multiview(n_views=3, height=90, width=120, seed=1)
    bare = replace(scene, points3d=None, obs_ids=None, obs_xy=None, point_colors=None)
    folder = write_colmap_scene(tmp_path / "mv", bare)
    res = bench.bench_scene("multi_view", folder, ["fast"], 1, tmp_path / "work")
    assert "reprojection_error_lab" in res["fast"]["metrics"]
    work = tmp_path / "work"
    assert "triangulating" in (work / "multi_view-warmup.log").read_text()
    timed = (work / "multi_view-fast-0.log").read_text()
    assert "triangulating" not in timed and "sparse points from" in timed
