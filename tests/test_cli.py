"""The command line: bad input gives one clear line and exit status 2, never a traceback."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from diffdepth.cli import main
from diffdepth.io import write_pfm


def _run(capsys, *args):
    code = main([*map(str, args)])
    err = capsys.readouterr().err
    return code, err


def test_run_plain_and_no_optimize_write_outputs_and_their_config(
    tiny_hci, points_csv, tmp_path, capsys
):
    import json

    from diffdepth.config import LightFieldConfig

    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf)
    info = {}
    for name, flag in (("plain", "--plain"), ("no_opt", "--no-optimize")):
        out = tmp_path / name
        code, err = _run(capsys, "run", folder, "--out", out, "--points", pts, flag, "--quiet")
        assert code == 0, err
        assert (out / "disparity.pfm").exists() and (out / "metrics.json").exists()
        info[name] = json.loads((out / "config.json").read_text())
    assert LightFieldConfig.from_dict(info["plain"]["config"]) == LightFieldConfig.plain()
    no_opt = LightFieldConfig.default().replace(optimize=False)
    assert LightFieldConfig.from_dict(info["no_opt"]["config"]) == no_opt
    assert info["plain"]["points_added"] == 0 and info["no_opt"]["points_added"] > 0


def test_run_supervised_reads_the_ground_truth_of_the_folder(
    tiny_hci, points_csv, tmp_path, capsys
):
    import json

    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf)
    out = tmp_path / "sup"
    code, err = _run(
        capsys, "run", folder, "--out", out, "--points", pts, "--supervised",
        "--passes", "1", "--iters", "2", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    info = json.loads((out / "config.json").read_text())
    assert info["config"]["supervised"] is True
    assert (out / "metrics.json").exists()


def test_run_without_points_detects_them(write_tiny_hci, tmp_path, capsys):
    import json

    # 64x96: the scorer's 15 px border leaves too few pixels of the 40x56 scene to judge
    folder, lf = write_tiny_hci(tmp_path / "scene", height=64, width=96)
    out = tmp_path / "o"
    code, err = _run(
        capsys, "run", folder, "--out", out, "--passes", "1", "--iters", "2", "--quiet"
    )
    assert code == 0, err
    info = json.loads((out / "config.json").read_text())
    assert info["points_initial"] > 50 and info["config"]["epi"]["n_slopes"] == 60
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["badpix_0.07"] < 50  # the synthetic scene's disparity, not noise
    assert metrics["badpix_0.07"] < metrics["plain_badpix_0.07"]


def test_demo_runs_end_to_end(tmp_path, capsys):
    import json

    code = main(
        ["demo", "--out", str(tmp_path / "demo"), "--passes", "1", "--iters", "2", "--quiet"]
    )
    assert code == 0
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    # the full run beats the plain diffusion of the same noisy points
    assert metrics["mse_x100"] < metrics["plain_mse_x100"]
    assert (tmp_path / "demo" / "disparity_plain.pfm").exists()


def test_run_records_the_edge_refinement_and_no_refine_skips_it(
    tiny_hci, points_csv, tmp_path, capsys
):
    import json

    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf, n=200)
    info = {}
    for name, extra in (("on", []), ("off", ["--no-refine"])):
        args = ["run", folder, "--out", tmp_path / name, "--points", pts, "--quiet"]
        code, err = _run(capsys, *args, "--passes", "1", "--iters", "2", *extra)
        assert code == 0, err
        info[name] = json.loads((tmp_path / name / "config.json").read_text())
    assert info["on"]["config"]["edge_refine"] and info["on"]["pixels_refined"] > 0
    assert not info["off"]["config"]["edge_refine"] and info["off"]["pixels_refined"] == 0


@pytest.mark.parametrize("case", ["missing_view", "wrong_size", "corrupt_png"])
def test_bad_scene(tiny_hci, points_csv, tmp_path, capsys, case):
    from PIL import Image

    folder, lf = tiny_hci
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    victim = bad / "input_Cam004.png"
    if case == "missing_view":
        victim.unlink()
    elif case == "wrong_size":
        Image.new("RGB", (10, 10)).save(victim)
    else:
        victim.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    pts = points_csv(tmp_path / "p.csv", lf)
    code, err = _run(capsys, "run", bad, "--out", tmp_path / "o", "--points", pts, "--quiet")
    assert code == 2
    assert err.startswith("diffdepth: error:") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "o" / "disparity.pfm").exists()


def test_nan_points_and_empty_points(tiny_hci, tmp_path, capsys):
    folder, _ = tiny_hci
    nan = tmp_path / "nan.csv"
    nan.write_text("x,y,disparity\n1,2,0.5\n3,nan,0.1\n")
    code, err = _run(capsys, "run", folder, "--out", tmp_path / "o", "--points", nan)
    assert code == 2 and "nan.csv" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("x,y,disparity\n")
    code, err = _run(capsys, "run", folder, "--out", tmp_path / "o", "--points", empty)
    assert code == 2 and "empty.csv" in err


def test_unwritable_output_folder(tiny_hci, points_csv, tmp_path, capsys):
    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = _run(
        capsys, "run", folder, "--out", blocker / "out", "--points", pts, "--no-optimize"
    )
    assert code == 2 and str(blocker) in err


def test_score_corrupt_pfm(tmp_path, capsys):
    good = tmp_path / "gt.pfm"
    write_pfm(good, np.zeros((20, 30), np.float32))
    bad = tmp_path / "bad.pfm"
    bad.write_bytes(b"Pf\n30 20\n-1\n" + b"\0" * 17)
    code, err = _run(capsys, "score", bad, good)
    assert code == 2 and "bad.pfm" in err


def test_score_prints_metrics(tmp_path, capsys):
    gt = np.zeros((40, 40), np.float32)
    est = gt.copy()
    est[20, 20] = 1.0
    write_pfm(tmp_path / "gt.pfm", gt)
    write_pfm(tmp_path / "est.pfm", est)
    assert main(["score", str(tmp_path / "est.pfm"), str(tmp_path / "gt.pfm"), "--json"]) == 0
    assert '"badpix_0.07": 1.0' in capsys.readouterr().out


def test_console_script_help():
    exe = shutil.which("diffdepth", path=os.path.dirname(sys.executable))
    if exe is None:
        pytest.skip("the diffdepth console script is not installed in this environment")
    res = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "run" in res.stdout


def test_points_command_writes_csv_and_overlay(tiny_hci, tmp_path, capsys):
    from diffdepth.io import read_points_csv
    from diffdepth.io.manifest import verify_manifest

    folder, lf = tiny_hci
    out = tmp_path / "pts" / "points"
    code, err = _run(capsys, "points", folder, "--out", out)
    assert code == 0, err
    pts = read_points_csv(out / "points.csv")
    assert len(pts) > 20 and pts.confidence is not None
    assert (out / "points.png").exists() and verify_manifest(out) == []
    # the points carry the scene's disparity where they sit (3 views of 8-bit PNG, so coarse;
    # a wrong sign or scale would be off by about 1 px per view step)
    h, w = lf.gt.shape
    r = np.clip(np.round(pts.xy[:, 1]).astype(int), 0, h - 1)
    c = np.clip(np.round(pts.xy[:, 0]).astype(int), 0, w - 1)
    assert np.median(np.abs(pts.value - lf.gt[r, c])) < 0.3


def test_version(capsys):
    import diffdepth

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"diffdepth {diffdepth.__version__}"


def test_python_m_diffdepth_shows_help_with_defaults():
    res = subprocess.run(
        [sys.executable, "-m", "diffdepth", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    for command in ("run", "demo", "points", "score", "--version"):
        assert command in res.stdout
    res = subprocess.run(
        [sys.executable, "-m", "diffdepth", "run", "--help"], capture_output=True, text=True
    )
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    assert "(default: crosshair)" in text and "paper: light field 5x4x13 steps" in text


def test_no_arguments_prints_the_help_with_usage_status(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: diffdepth") and "score" in err and "demo" in err


def _option_actions(parser):
    """(command, action) of every option of every command."""
    import argparse

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.option_strings:
                yield name, p, action


def test_every_option_has_help_and_shows_its_default():
    import argparse

    from diffdepth.cli import build_parser

    for name, p, action in _option_actions(build_parser()):
        assert action.help, (name, action.option_strings)
        default = action.default
        if default not in (None, False, argparse.SUPPRESS):
            text = " ".join(p.format_help().split())
            assert f"(default: {default})" in text, (name, action.option_strings)


def test_errors_name_the_flag_from_the_command_line(tmp_path, capsys):
    from PIL import Image

    from diffdepth.io import InputError, read_lightfield

    folder = tmp_path / "views"
    folder.mkdir()
    for i in range(6):
        Image.new("RGB", (16, 12), (10 * i, 0, 0)).save(folder / f"shot{i}.png")
    code, err = _run(capsys, "run", folder, "--out", tmp_path / "o")
    assert code == 2 and "pass --grid ROWSxCOLS" in err and "grid=(" not in err
    with pytest.raises(InputError, match=r"pass grid=\(rows, cols\)"):
        read_lightfield(folder)  # the library names its keyword


def test_quiet_prints_nothing_on_success(tiny_hci, points_csv, tmp_path, capfd):
    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf)
    args = ["run", str(folder), "--points", str(pts), "--passes", "1", "--iters", "1"]
    assert main([*args, "--out", str(tmp_path / "q"), "--quiet"]) == 0
    assert capfd.readouterr() == ("", "")
    assert main([*args, "--out", str(tmp_path / "loud")]) == 0
    out = capfd.readouterr().out
    assert "disparity written to" in out and "report.html" in out


def test_multiview_quiet_silences_colmap_and_verbose_shows_it(write_colmap_scene, tmp_path, capfd):
    """A scene without sparse points: pycolmap matches and triangulates them, and its glog log
    appears only with --verbose."""
    pytest.importorskip("pycolmap")
    from dataclasses import replace

    from diffdepth.synth import make_multiview

    scene, _ = make_multiview(n_views=4, height=60, width=84, seed=0)
    bare = replace(scene, points3d=None, obs_ids=None, obs_xy=None, point_colors=None)
    folder = write_colmap_scene(tmp_path / "s", bare)
    args = ["run", str(folder), "--passes", "1", "--iters", "1", "--no-optimize"]
    assert main([*args, "--out", str(tmp_path / "q"), "--quiet"]) == 0
    assert capfd.readouterr() == ("", "")
    assert main([*args, "--out", str(tmp_path / "v"), "--verbose"]) == 0
    out, err = capfd.readouterr()
    assert "matching and triangulating" in out
    assert "feature_extraction" in err  # COLMAP's own log lines name its source files


def test_light_field_without_ground_truth_gets_a_photometric_figure(
    tiny_hci, points_csv, tmp_path, capsys
):
    import json

    folder, lf = tiny_hci
    (folder / "gt_disp_lowres.pfm").unlink()
    pts = points_csv(tmp_path / "p.csv", lf, n=200)
    out = tmp_path / "o"
    args = ["run", folder, "--out", out, "--points", pts, "--passes", "1", "--iters", "2"]
    code, err = _run(capsys, *args, "--quiet")
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert "mse_x100" not in metrics
    assert 0 < metrics["reprojection_error_lab"] < metrics["plain_reprojection_error_lab"]
    versions = json.loads((out / "config.json").read_text())["versions"]
    assert {"diffdepth", "python", "torch", "numpy"} <= set(versions)
    html = (out / "report.html").read_text()
    assert "re-projection error (Lab)" in html and "signed error" not in html
