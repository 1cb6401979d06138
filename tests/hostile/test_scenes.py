"""Hostile light-field folders, views and ground truth: every bad one a clear line and exit 2
before any computation, the odd-but-valid ones working."""

import shutil

import numpy as np
import pytest
from PIL import Image

from diffdepth.io import write_pfm

H, W = 40, 56


def _views(folder, names, size=(W, H), seed=0, mode="RGB"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        arr = (rng.uniform(0, 255, (size[1], size[0], 3))).astype(np.uint8)
        img = Image.fromarray(arr)
        if mode != "RGB":
            img = img.convert(mode)
        img.save(folder / name)
    return folder


def _break(kind):
    """A function (scene folder) -> None that damages a copy of the HCI scene."""

    def missing_view(s):
        (s / "input_Cam004.png").unlink()

    def missing_view_with_cfg(s):
        (s / "parameters.cfg").write_text("[extrinsics]\nnum_cams_x = 3\nnum_cams_y = 3\n")
        (s / "input_Cam004.png").unlink()

    def folder_as_view(s):
        (s / "input_Cam004.png").unlink()
        (s / "input_Cam004.png").mkdir()

    def wrong_size(s):
        Image.new("RGB", (10, 10)).save(s / "input_Cam004.png")

    def corrupt(s):
        (s / "input_Cam004.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")

    def truncated(s):
        data = (s / "input_Cam004.png").read_bytes()
        (s / "input_Cam004.png").write_bytes(data[: len(data) // 2])

    def empty_file(s):
        (s / "input_Cam004.png").write_bytes(b"")

    def text_as_png(s):
        (s / "input_Cam004.png").write_text("not an image at all\n")

    def huge_index(s):
        shutil.copy(s / "input_Cam000.png", s / "input_Cam999999.png")

    def huge_index_with_cfg(s):
        (s / "parameters.cfg").write_text("[extrinsics]\nnum_cams_x = 3\nnum_cams_y = 3\n")
        shutil.copy(s / "input_Cam000.png", s / "input_Cam999999.png")

    def duplicate_index(s):
        shutil.copy(s / "input_Cam000.png", s / "input_Cam0000.png")

    def cfg_garbage(s):
        (s / "parameters.cfg").write_bytes(b"\xff\xfe\x00garbage[[[")

    def cfg_no_keys(s):
        (s / "parameters.cfg").write_text("[extrinsics]\nbaseline_mm = 1\n")

    def cfg_zero(s):
        (s / "parameters.cfg").write_text("[extrinsics]\nnum_cams_x = 0\nnum_cams_y = 3\n")

    def cfg_huge(s):
        (s / "parameters.cfg").write_text(
            "[extrinsics]\nnum_cams_x = 99999999999\nnum_cams_y = 3\n"
        )

    def cfg_nan_range(s):
        (s / "parameters.cfg").write_text(
            "[extrinsics]\nnum_cams_x = 3\nnum_cams_y = 3\n[meta]\ndisp_min = nan\ndisp_max = 1\n"
        )

    def cfg_inf_range(s):
        (s / "parameters.cfg").write_text(
            "[extrinsics]\nnum_cams_x = 3\nnum_cams_y = 3\n"
            "[meta]\ndisp_min = -inf\ndisp_max = inf\n"
        )

    def cfg_grid_mismatch(s):
        (s / "parameters.cfg").write_text("[extrinsics]\nnum_cams_x = 4\nnum_cams_y = 4\n")

    def cfg_interpolation(s):
        (s / "parameters.cfg").write_text("[extrinsics]\nnum_cams_x = %(x\nnum_cams_y = 3\n")

    def nan_view(s):
        (s / "input_Cam004.png").unlink()
        arr = np.full((H, W), np.nan, np.float32)
        Image.fromarray(arr, mode="F").save(s / "input_Cam004.tif")

    return locals()[kind]


SCENE_BREAKS = [
    ("missing_view", ("input_Cam004", "missing")),
    ("folder_as_view", ("input_Cam004", "missing")),
    ("missing_view_with_cfg", ("input_Cam004", "missing")),
    ("wrong_size", ("input_Cam004", "10 x 10")),
    ("corrupt", ("input_Cam004",)),
    ("truncated", ("input_Cam004",)),
    ("empty_file", ("input_Cam004",)),
    ("text_as_png", ("input_Cam004",)),
    ("huge_index", ("999999", "--grid")),
    ("huge_index_with_cfg", ("999999", "outside")),
    ("duplicate_index", ("twice",)),
    ("cfg_garbage", ("parameters.cfg",)),
    ("cfg_no_keys", ("parameters.cfg", "num_cams_x")),
    ("cfg_zero", ("parameters.cfg",)),
    ("cfg_huge", ("parameters.cfg",)),
    ("cfg_nan_range", ("parameters.cfg", "finite")),
    ("cfg_inf_range", ("parameters.cfg", "finite")),
    ("cfg_grid_mismatch", ("parameters.cfg", "input_Cam009")),
    ("cfg_interpolation", ("parameters.cfg",)),
    ("nan_view", ("input_Cam004", "finite")),
]


@pytest.mark.parametrize("kind,says", SCENE_BREAKS, ids=[k for k, _ in SCENE_BREAKS])
def test_damaged_hci_scene(corpus, hostile, capsys, kind, says):
    scene = corpus.hci()
    _break(kind)(scene)
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out, points=corpus.points())
    hostile.check(hostile.Case(argv, out, says=says), corpus.root, capsys)


def test_damaged_scene_keeps_an_earlier_result(corpus, hostile, capsys):
    scene = corpus.hci()
    _break("corrupt")(scene)
    out = corpus.old_result()
    argv = hostile.run_args(scene, out, points=corpus.points())
    hostile.check(hostile.Case(argv, out, says=("input_Cam004",), state="old"), corpus.root, capsys)


def _folder_case(kind, root):
    """(scene path, extra flags, words) of a folder that is not a light field."""
    if kind == "missing":
        return root / "nothing-here", [], ("not found",)
    if kind == "a_file":
        (root / "file.png").write_bytes(b"x")
        return root / "file.png", [], ("found a file",)
    if kind == "empty":
        (root / "empty").mkdir()
        return root / "empty", [], ("no images",)
    if kind == "notes_only":
        (root / "notes").mkdir()
        (root / "notes" / "readme.txt").write_text("hello")
        return root / "notes", [], ("no images",)
    if kind == "plain_no_grid":
        _views(root / "plain", [f"shot{i}.png" for i in range(6)])
        return root / "plain", [], ("--grid",)
    if kind == "plain_wrong_grid":
        _views(root / "plain", [f"shot{i}.png" for i in range(6)])
        return root / "plain", ["--grid", "2x2"], ("2 x 2", "needs 4")
    if kind == "single_view_epi":
        _views(root / "one", ["only.png"])
        return root / "one", ["--grid", "1x1"], ("single view", "--points")
    if kind == "tiny_views":
        _views(root / "tiny", [f"v{i}.png" for i in range(4)], size=(4, 4))
        return root / "tiny", ["--grid", "2x2"], ("too small",)
    if kind == "mixed_sizes":
        _views(root / "mix", ["a1.png", "a2.png"])
        _views(root / "mix", ["a3.png"], size=(30, 20))
        return root / "mix", ["--grid", "1x3"], ("a3.png",)
    if kind == "several_prefixes":
        _views(root / "lf", [f"a_{r}_{c}.png" for r in (1, 2) for c in (1, 2)])
        _views(root / "lf", [f"b_{r}_{c}.png" for r in (1, 2) for c in (1, 2)])
        return root / "lf", [], ("several",)
    if kind == "symlink_loop":
        (root / "loop").symlink_to(root / "loop")
        return root / "loop", [], ("loop",)
    raise AssertionError(kind)


FOLDERS = [
    "missing",
    "a_file",
    "empty",
    "notes_only",
    "plain_no_grid",
    "plain_wrong_grid",
    "single_view_epi",
    "tiny_views",
    "mixed_sizes",
    "several_prefixes",
    "symlink_loop",
]


@pytest.mark.parametrize("kind", FOLDERS)
def test_not_a_light_field(tmp_path, hostile, capsys, kind):
    scene, extra, says = _folder_case(kind, tmp_path)
    out = tmp_path / "out"
    argv = ["run", str(scene), "--out", str(out), *extra]
    hostile.check(hostile.Case(argv, out, says=says), tmp_path, capsys)


def test_single_view_with_points(corpus, hostile, capsys):
    """One view: the points' plain diffusion works; optimising needs a second view."""
    folder = corpus.root / "one"
    folder.mkdir()
    shutil.copy(corpus.base / "hci" / "input_Cam004.png", folder / "centre.png")
    out = corpus.root / "out"
    pts = corpus.points()
    argv = hostile.run_args(folder, out, "--grid", "1x1", points=pts)
    hostile.check(
        hostile.Case(argv, out, says=("single view", "--no-optimize")), corpus.root, capsys
    )
    argv = hostile.run_args(folder, out, "--grid", "1x1", "--no-optimize", points=pts)
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)


def test_middlebury_row_with_its_ground_truth_beside_the_views(tmp_path, hostile, capsys):
    """Tsukuba's layout: scene1.row3.col1..5.ppm with truedisp.row3.col3.pgm (and notes) in
    the folder: --grid 1x5 takes the five views and says what it left out."""
    folder = _views(tmp_path / "tsukuba", [f"scene1.row3.col{k}.ppm" for k in range(1, 6)])
    gt = (np.random.default_rng(1).uniform(1, 200, (H, W))).astype(np.uint8)
    Image.fromarray(gt).save(folder / "truedisp.row3.col3.pgm")
    (folder / "README.txt").write_text("notes")
    Image.new("L", (W, H)).save(folder / "mask.png")
    pts = tmp_path / "p.csv"
    pts.write_text("x,y,disparity\n10,10,1\n30,20,2\n40,30,1.5\n")
    out = tmp_path / "out"
    argv = ["run", str(folder), "--grid", "1x5", "--out", str(out), "--points", str(pts)]
    argv += ["--no-optimize"]
    said, _ = hostile.check(hostile.Case(argv, out, code=0, state="whole"), tmp_path, capsys)
    assert "left out 2 image(s)" in said
    assert "truedisp.row3.col3.pgm" in said and "mask.png" in said and "--gt FILE" in said
    import json

    grid = json.loads((out / "config.json").read_text())["grid"]
    assert grid == [1, 5]
    # with the ground truth named, it is read as such (and not mentioned as left out)
    out2 = tmp_path / "out2"
    argv = ["run", str(folder), "--grid", "1x5", "--out", str(out2), "--points", str(pts)]
    argv += ["--no-optimize", "--gt", "truedisp.row3.col3.pgm", "--gt-scale", "0.0625", "-q"]
    hostile.check(hostile.Case(argv, out2, code=0, state="whole"), tmp_path, capsys)
    assert "mse_x100" in json.loads((out2 / "metrics.json").read_text())


def test_grid_named_views_beside_other_grid_named_images(tmp_path, hostile, capsys):
    """<prefix>_RR_CC views with a depth map named like them: the whole grid wins."""
    folder = _views(
        tmp_path / "lytro", [f"2067_{r:02d}_{c:02d}.png" for r in (1, 2) for c in (1, 2, 3)]
    )
    _views(folder, ["depth_01_01.png"])
    pts = tmp_path / "p.csv"
    pts.write_text("x,y,disparity\n10,10,1\n30,20,2\n")
    out = tmp_path / "out"
    argv = ["run", str(folder), "--out", str(out), "--points", str(pts), "--no-optimize", "-q"]
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), tmp_path, capsys)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "CMYK"])
def test_odd_but_valid_view_formats(tmp_path, hostile, capsys, mode):
    names = [
        f"v_{r}_{c}.png" if mode != "CMYK" else f"v_{r}_{c}.jpg" for r in (1, 2) for c in (1, 2)
    ]
    folder = tmp_path / "views"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for name in names:
        if mode == "I;16":
            img = Image.fromarray(rng.integers(0, 65535, (H, W)).astype(np.uint16))
        else:
            img = Image.fromarray(rng.integers(0, 255, (H, W, 3)).astype(np.uint8)).convert(mode)
        img.save(folder / name)
    pts = tmp_path / "p.csv"
    pts.write_text("x,y,disparity\n10,10,0.5\n30,20,0.2\n")
    out = tmp_path / "out"
    argv = ["run", str(folder), "--out", str(out), "--points", str(pts), "--no-optimize", "-q"]
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), tmp_path, capsys)


def test_unicode_and_spaces_in_names(tmp_path, hostile, capsys):
    folder = _views(tmp_path / "scène à voir", [f"vue {i} ü.png" for i in range(4)])
    pts = tmp_path / "pöints.csv"
    pts.write_text("x,y,disparity\n10,10,0.5\n30,20,0.2\n")
    out = tmp_path / "résultat 1"
    argv = ["run", str(folder), "--grid", "2x2", "--out", str(out), "--points", str(pts)]
    argv += ["--no-optimize", "-q"]
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), tmp_path, capsys)


# ---- ground truth ---------------------------------------------------------------------------


def _gt_case(kind, root):
    """(--gt file, extra flags, words)."""
    if kind == "missing":
        return root / "none.pfm", [], ("not found",)
    if kind == "wrong_shape":
        write_pfm(root / "gt.pfm", np.zeros((10, 12), np.float32))
        return root / "gt.pfm", [], ("12 x 10",)
    if kind == "all_nan":
        write_pfm(root / "gt.pfm", np.full((H, W), np.nan, np.float32))
        return root / "gt.pfm", [], ("gt.pfm", "valid")
    if kind == "valid_only_in_border":
        gt = np.full((H, W), np.nan, np.float32)
        gt[:5] = 1.0
        write_pfm(root / "gt.pfm", gt)
        return root / "gt.pfm", [], ("border",)
    if kind == "all_zero_pgm":
        Image.fromarray(np.zeros((H, W), np.uint8)).save(root / "gt.pgm")
        return root / "gt.pgm", [], ("gt.pgm", "zero")
    if kind == "rgb_png":
        Image.new("RGB", (W, H)).save(root / "gt.png")
        return root / "gt.png", [], ("single-channel",)
    if kind == "corrupt_pfm":
        (root / "gt.pfm").write_bytes(b"Pf\n56 40\n-1\n" + b"\0" * 17)
        return root / "gt.pfm", [], ("truncated",)
    if kind == "object_npy":
        np.save(root / "gt.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return root / "gt.npy", [], ("gt.npy",)
    if kind == "huge_npy_header":
        header = {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)}
        with open(root / "gt.npy", "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\0" * 64)
        return root / "gt.npy", [], ("truncated",)
    if kind == "a_folder":
        (root / "gt.pfm").mkdir()
        return root / "gt.pfm", [], ("folder",)
    if kind == "supervised_without_gt":
        return None, ["--supervised"], ("--supervised", "ground truth")
    raise AssertionError(kind)


GTS = [
    "missing",
    "wrong_shape",
    "all_nan",
    "valid_only_in_border",
    "all_zero_pgm",
    "rgb_png",
    "corrupt_pfm",
    "object_npy",
    "huge_npy_header",
    "a_folder",
    "supervised_without_gt",
]


@pytest.mark.parametrize("kind", GTS)
def test_bad_ground_truth_fails_before_the_computation(corpus, hostile, capsys, kind):
    """A schedule of a million Adam steps: were the check after the computation, the case
    would not end; it ends at once with the message."""
    scene = corpus.hci()
    (scene / "gt_disp_lowres.pfm").unlink()
    gt, extra, says = _gt_case(kind, corpus.root)
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out, "--passes", "1000", "--iters", "1000", *extra)
    argv += ["--points", str(corpus.points())] + (["--gt", str(gt)] if gt else [])
    hostile.check(hostile.Case(argv, out, says=says), corpus.root, capsys)
