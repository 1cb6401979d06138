"""Hostile inputs to ``diffdepth score``, and a score that cannot be fooled by an estimate that
is not a number."""

import json

import numpy as np
import pytest
from PIL import Image

from diffdepth.cli import main
from diffdepth.io import write_pfm


@pytest.fixture
def maps(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.uniform(-1, 1, (50, 60)).astype(np.float32)
    write_pfm(tmp_path / "gt.pfm", gt)
    write_pfm(tmp_path / "est.pfm", gt + 0.01)
    return tmp_path, gt


def _bad(kind, root, gt):
    """(est, gt, extra flags, words)."""
    est, g = root / "est.pfm", root / "gt.pfm"
    if kind == "est_missing":
        return root / "none.pfm", g, [], ("not found",)
    if kind == "shape_mismatch":
        write_pfm(root / "small.pfm", np.zeros((10, 10), np.float32))
        return root / "small.pfm", g, [], ("shape mismatch",)
    if kind == "border_too_large":
        return est, g, ["--border", "40"], ("no valid ground-truth pixels",)
    if kind == "gt_all_nan":
        write_pfm(root / "nan.pfm", np.full(gt.shape, np.nan, np.float32))
        return est, root / "nan.pfm", [], ("no valid",)
    if kind == "gt_all_zero_invalid":
        Image.fromarray(np.zeros(gt.shape, np.uint8)).save(root / "z.pgm")
        return est, root / "z.pgm", ["--invalid-zero"], ("no valid",)
    if kind == "huge_npy_header":
        header = {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)}
        with open(root / "big.npy", "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
        return root / "big.npy", g, [], ("truncated", "100000 x 100000")
    if kind == "npy_object":
        np.save(root / "obj.npy", np.array(["a", None], dtype=object), allow_pickle=True)
        return root / "obj.npy", g, [], ("obj.npy",)
    if kind == "npy_strings":
        np.save(root / "s.npy", np.array(["a", "b"]))
        return root / "s.npy", g, [], ("numeric",)
    if kind == "npy_complex":
        np.save(root / "c.npy", np.zeros(gt.shape, np.complex64))
        return root / "c.npy", g, [], ("real-valued",)
    if kind == "npy_3d":
        np.save(root / "d3.npy", np.zeros((2, 3, 4), np.float32))
        return root / "d3.npy", g, [], ("single-channel",)
    if kind == "npy_empty":
        np.save(root / "e.npy", np.zeros((0, 0), np.float32))
        return root / "e.npy", g, [], ("single-channel",)
    if kind == "npy_garbage":
        (root / "g.npy").write_bytes(b"\x93NUMPY\x01\x00garbage")
        return root / "g.npy", g, [], ("g.npy",)
    if kind == "rgb_png":
        Image.new("RGB", (60, 50)).save(root / "rgb.png")
        return root / "rgb.png", g, [], ("single-channel",)
    if kind == "pfm_zero_size":
        (root / "z.pfm").write_bytes(b"Pf\n0 0\n-1\n")
        return root / "z.pfm", g, [], ("positive width",)
    if kind == "pfm_huge_header":
        (root / "h.pfm").write_bytes(b"Pf\n100000 100000\n-1\n" + b"\0" * 64)
        return root / "h.pfm", g, [], ("truncated",)
    if kind == "pfm_nan_scale":
        (root / "n.pfm").write_bytes(b"Pf\n2 2\nnan\n" + b"\0" * 16)
        return root / "n.pfm", g, [], ("scale",)
    if kind == "a_folder":
        (root / "dir.pfm").mkdir()
        return root / "dir.pfm", g, [], ("folder",)
    if kind == "unknown_suffix":
        (root / "map.xyz").write_bytes(b"1 2 3")
        return root / "map.xyz", g, [], ("map.xyz",)
    if kind == "huge_png":
        Image.new("L", (20000, 10000)).save(root / "huge.png")
        return root / "huge.png", g, [], ("huge.png",)
    raise AssertionError(kind)


BAD = [
    "est_missing",
    "shape_mismatch",
    "border_too_large",
    "gt_all_nan",
    "gt_all_zero_invalid",
    "huge_npy_header",
    "npy_object",
    "npy_strings",
    "npy_complex",
    "npy_3d",
    "npy_empty",
    "npy_garbage",
    "rgb_png",
    "pfm_zero_size",
    "pfm_huge_header",
    "pfm_nan_scale",
    "a_folder",
    "unknown_suffix",
    "huge_png",
]


@pytest.mark.parametrize("kind", BAD)
def test_bad_score_input(maps, hostile, capsys, kind):
    root, gt = maps
    est, g, extra, says = _bad(kind, root, gt)
    argv = ["score", str(est), str(g), *extra]
    hostile.check(hostile.Case(argv, None, says=says), root, capsys)


@pytest.mark.parametrize("fill", [np.nan, np.inf, -np.inf])
def test_a_nonfinite_estimate_cannot_score_well(maps, capsys, fill):
    """An estimate that is NaN (or infinite) everywhere but one exact pixel: every scored
    pixel but that one is bad, and the output says how they were counted."""
    root, gt = maps
    est = np.full_like(gt, fill)
    est[25, 30] = gt[25, 30]
    write_pfm(root / "bad.pfm", est)
    assert main(["score", str(root / "bad.pfm"), str(root / "gt.pfm"), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    n = m["pixels"]
    for t in ("0.01", "0.03", "0.07"):
        assert m[f"badpix_{t}"] == pytest.approx(100.0 * (n - 1) / n)
    assert m["mse_x100"] > 1e5 and m["nonfinite_estimates"] == n - 1
    assert main(["score", str(root / "bad.pfm"), str(root / "gt.pfm")]) == 0
    text = capsys.readouterr().out
    assert f"{n - 1} non-finite estimate(s) counted as bad pixels with error 100" in text


def test_metrics_json_uses_the_same_rule(tmp_path):
    """metrics.json of a run and `diffdepth score` of its map agree: one scoring code."""
    from diffdepth.metrics import score_disparity
    from diffdepth.pipeline.lightfield import lightfield_metrics
    from diffdepth.synth import make_lightfield

    lf = make_lightfield(height=40, width=48, grid=(1, 3), supersample=1)
    est = lf.gt.copy()
    est[20:25, 20:25] = np.nan
    m = lightfield_metrics(lf, est, None)
    ref = score_disparity(est, lf.gt)
    for k in ("mse_x100", "badpix_0.07", "nonfinite_estimates", "nonfinite_error"):
        assert m[k] == ref[k]
    assert m["nonfinite_estimates"] == 25 and m["badpix_0.07"] > 0
