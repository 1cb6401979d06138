"""Hostile multi-view scenes: Middlebury *_par.txt files and COLMAP models (text and binary)
with bad numbers, bad cameras, names that leave the image folder: every one a clear line and
exit 2 before any computation."""

import struct
import sys

import numpy as np
import pytest

VIEW = "view00.png"
PAR_LINE = 1  # the first camera line of mv_par.txt (after the count)


def _par(corpus, edit, name="mv"):
    """A copy of the par.txt scene with its text edited: edit(lines) -> lines."""
    scene = corpus.copy("mv", name)
    path = scene / "mv_par.txt"
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    return scene


def _field(lines, index, value, line=PAR_LINE):
    """Set field ``index`` (0 = the name, 1..9 = K, 10..18 = R, 19..21 = t) of a camera line."""
    tok = lines[line].split()
    tok[index] = value
    lines[line] = " ".join(tok)
    return lines


def _scale_r(lines):
    tok = lines[PAR_LINE].split()
    for k in range(10, 19):
        tok[k] = repr(2 * float(tok[k]))
    lines[PAR_LINE] = " ".join(tok)
    return lines


def _reflect(lines):
    tok = lines[PAR_LINE].split()
    for k in (10, 13, 16):  # the first column of R: det -> -det
        tok[k] = repr(-float(tok[k]))
    lines[PAR_LINE] = " ".join(tok)
    return lines


PAR = [
    ("count_superscript_two", lambda ls: ["\u00b2"] + ls[1:], ("number of images",)),
    ("count_arabic_digit", lambda ls: ["\u0663"] + ls[1:], ("number of images",)),
    ("count_mismatch", lambda ls: ["7"] + ls[1:], ("expected 7 camera lines",)),
    ("count_huge", lambda ls: ["9" * 5000] + ls[1:], ("camera lines",)),
    ("empty", lambda ls: [], ("number of images",)),
    ("no_cameras", lambda ls: ["0"], ("at least one camera",)),
    ("text_in_k", lambda ls: _field(ls, 1, "focal"), ("line 2", "numbers")),
    ("focal_zero", lambda ls: _field(ls, 1, "0"), ("view00.png", "positive focal")),
    ("focal_negative", lambda ls: _field(ls, 5, "-1525.9"), ("positive focal",)),
    ("nan_in_k", lambda ls: _field(ls, 3, "nan"), ("finite",)),
    ("inf_in_t", lambda ls: _field(ls, 20, "inf"), ("finite",)),
    ("k_last_row", lambda ls: _field(ls, 9, "2"), ("intrinsics",)),
    ("r_scaled", _scale_r, ("rotation",)),
    ("r_reflection", _reflect, ("reflection",)),
    ("r_nan", lambda ls: _field(ls, 12, "nan"), ("finite",)),
    ("short_line", lambda ls: [ls[0], " ".join(ls[1].split()[:10])] + ls[2:], ("21 numbers",)),
    ("name_climbs_out", lambda ls: _field(ls, 0, "../../etc/passwd"), ("outside the image",)),
    ("name_absolute", lambda ls: _field(ls, 0, "/etc/hostname"), ("outside the image",)),
    ("name_windows_drive", lambda ls: _field(ls, 0, "C:\\x.png"), ("outside the image",)),
    ("name_missing_image", lambda ls: _field(ls, 0, "nowhere.png"), ("nowhere.png",)),
]


@pytest.mark.parametrize("kind,edit,says", PAR, ids=[k for k, _, _ in PAR])
def test_bad_par_file(corpus, hostile, capsys, kind, edit, says):
    scene = _par(corpus, edit)
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out, points=corpus.copy("mv_points.csv"))
    hostile.check(hostile.Case(argv, out, says=says), corpus.root, capsys)


def test_par_file_outside_image_is_not_read_even_if_it_exists(corpus, hostile, capsys):
    """'../x.png' exists beside the scene folder: it is refused, not read."""
    scene = _par(corpus, lambda ls: _field(ls, 0, "../outside.png"))
    (corpus.root / "outside.png").write_bytes((scene / VIEW).read_bytes())
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out, points=corpus.copy("mv_points.csv"))
    hostile.check(hostile.Case(argv, out, says=("outside",)), corpus.root, capsys)


def test_two_par_files_and_single_image(corpus, hostile, capsys):
    scene = corpus.copy("mv")
    (scene / "other_par.txt").write_text((scene / "mv_par.txt").read_text())
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out, points=corpus.copy("mv_points.csv"))
    hostile.check(hostile.Case(argv, out, says=("2 *_par.txt",)), corpus.root, capsys)
    one = _par(corpus, lambda ls: ["1", ls[1]], "one")
    argv = hostile.run_args(one, out, points=corpus.root / "mv_points.csv")
    hostile.check(hostile.Case(argv, out, says=("two images",)), corpus.root, capsys)


def test_par_scene_runs_with_points(corpus, hostile, capsys):
    scene = corpus.copy("mv")
    ref = (corpus.base / "mv_ref.txt").read_text()
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out, "--no-optimize", "--ref", ref)
    argv += ["--points", str(corpus.copy("mv_points.csv"))]
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)


# ---- COLMAP text --------------------------------------------------------------------------------


def _colmap_txt(corpus, name, edit):
    scene = corpus.copy("colmap_txt")
    path = scene / "sparse" / name
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return scene


def _data(lines):
    """Indices of the lines that are not comments."""
    return [i for i, ln in enumerate(lines) if ln and not ln.startswith("#")]


def _edit_line(which, fn):
    def edit(lines):
        i = _data(lines)[which]
        lines[i] = fn(lines[i].split())
        return lines

    return edit


def _set(k, v):
    def fn(tok):
        tok[k] = v
        return " ".join(tok)

    return fn


COLMAP_TXT = [
    ("points3D.txt", _edit_line(0, _set(4, "300")), ("0 to 255",)),
    ("points3D.txt", _edit_line(0, _set(5, "-1")), ("0 to 255",)),
    ("points3D.txt", _edit_line(0, _set(1, "nan")), ("non-finite",)),
    ("points3D.txt", _edit_line(0, _set(0, "99999999999999999999999")), ("point ids",)),
    ("points3D.txt", _edit_line(0, lambda t: " ".join(t[:5])), ("POINT3D_ID",)),
    (
        "images.txt",
        _edit_line(0, _set(1, "0") + "")
        if False
        else _edit_line(0, lambda t: " ".join([t[0], "0", "0", "0", "0", *t[5:]])),
        ("unit quaternion",),
    ),
    ("images.txt", _edit_line(0, _set(1, "2")), ("unit quaternion",)),
    ("images.txt", _edit_line(0, _set(1, "nan")), ("quaternion",)),
    ("images.txt", _edit_line(0, _set(5, "inf")), ("finite",)),
    ("images.txt", _edit_line(0, _set(8, "77")), ("camera 77",)),
    ("images.txt", _edit_line(0, _set(9, "../../x.png")), ("outside the image",)),
    ("images.txt", _edit_line(0, _set(9, "/etc/hostname")), ("outside the image",)),
    ("images.txt", _edit_line(0, lambda t: " ".join(t[:6])), ("IMAGE_ID",)),
    ("images.txt", _edit_line(1, lambda t: " ".join(t + ["1.0"])), ("triples",)),
    ("images.txt", _edit_line(1, lambda t: " ".join(["nan"] * len(t))), ("finite",)),
    ("cameras.txt", _edit_line(0, _set(4, "0")), ("positive focal",)),
    ("cameras.txt", _edit_line(0, _set(4, "-3")), ("positive focal",)),
    ("cameras.txt", _edit_line(0, _set(5, "nan")), ("finite camera parameters",)),
    ("cameras.txt", _edit_line(0, _set(1, "FOV")), ("unsupported camera model",)),
    ("cameras.txt", _edit_line(0, _set(2, "0")), ("positive image size",)),
    ("cameras.txt", _edit_line(0, _set(2, "49")), ("expected 49x",)),
    ("cameras.txt", _edit_line(0, lambda t: " ".join(t[:5])), ("parameters",)),
    ("cameras.txt", lambda ls: [b"\xff".decode("latin-1")], ("CAMERA_ID",)),
]


@pytest.mark.parametrize(
    "name,edit,says",
    COLMAP_TXT,
    ids=[f"{n}-{i}-{s[0]}" for i, (n, _, s) in enumerate(COLMAP_TXT)],
)
def test_bad_colmap_text_model(corpus, hostile, capsys, name, edit, says):
    scene = _colmap_txt(corpus, name, edit)
    out = corpus.old_result()
    argv = hostile.run_args(scene, out, "--passes", "1000")
    hostile.check(hostile.Case(argv, out, says=says, state="old"), corpus.root, capsys)


def test_colmap_image_size_differs_from_its_camera(corpus, hostile, capsys):
    from PIL import Image

    scene = corpus.copy("colmap_txt")
    Image.new("RGB", (20, 10)).save(scene / "images" / VIEW)
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out)
    hostile.check(hostile.Case(argv, out, says=(VIEW, "20x10")), corpus.root, capsys)


# ---- COLMAP binary ------------------------------------------------------------------------------


def _colmap_bin(corpus, name, edit):
    scene = corpus.copy("colmap_bin")
    path = scene / "sparse" / name
    path.write_bytes(edit(path.read_bytes()))
    return scene


def _camera_field(fmt_offset, fmt, value):
    """Overwrite one field of the first camera record of cameras.bin."""

    def edit(data):
        data = bytearray(data)
        struct.pack_into("<" + fmt, data, 8 + fmt_offset, value)
        return bytes(data)

    return edit


COLMAP_BIN = [
    ("cameras.bin", lambda d: d[: len(d) // 2], ("truncated",)),
    ("cameras.bin", lambda d: d + b"\0" * 5, ("more bytes",)),
    ("cameras.bin", lambda d: b"", ("bytes",)),
    ("cameras.bin", _camera_field(4, "i", 99), ("model id 99",)),
    ("cameras.bin", _camera_field(4, "i", 5), ("unsupported camera model",)),
    ("cameras.bin", _camera_field(8, "Q", 2**63), ("positive image size",)),
    ("cameras.bin", _camera_field(24, "d", 0.0), ("positive focal",)),
    ("cameras.bin", _camera_field(24, "d", float("nan")), ("finite camera parameters",)),
    ("cameras.bin", lambda d: struct.pack("<Q", 2**62) + d[8:], ("truncated",)),
    ("images.bin", lambda d: bytes(len(d)), ("images.bin",)),
    ("images.bin", lambda d: d[:60], ("images.bin",)),
    ("images.bin", lambda d: d[:12] + struct.pack("<d", 7.0) + d[20:], ("unit quaternion",)),
    ("images.bin", lambda d: d.replace(b"view00.png\0", b"../v00.png\0"), ("outside",)),
    ("points3D.bin", lambda d: struct.pack("<Q", 10**12) + d[8:], ("points3D.bin",)),
    ("points3D.bin", lambda d: d[:8] + struct.pack("<Q", 2**64 - 1) + d[16:], ("point ids",)),
    ("points3D.bin", lambda d: d[:16] + struct.pack("<d", float("inf")) + d[24:], ("non-finite",)),
    ("points3D.bin", lambda d: bytes(range(256)) * 3, ("points3D.bin",)),
]


@pytest.mark.parametrize(
    "name,edit,says",
    COLMAP_BIN,
    ids=[f"{n}-{i}-{s[0]}" for i, (n, _, s) in enumerate(COLMAP_BIN)],
)
def test_bad_colmap_binary_model(corpus, hostile, capsys, name, edit, says):
    scene = _colmap_bin(corpus, name, edit)
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out, "--passes", "1000")
    hostile.check(hostile.Case(argv, out, says=says), corpus.root, capsys)


@pytest.mark.parametrize("kind", ["colmap_txt", "colmap_bin"])
def test_colmap_scenes_run(corpus, hostile, capsys, kind):
    scene, out = corpus.copy(kind), corpus.root / "out"
    argv = hostile.run_args(scene, out, "--no-optimize")
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)


# ---- other multi-view inputs ---------------------------------------------------------------------


def test_no_sparse_points_and_no_pycolmap(corpus, hostile, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pycolmap", None)
    scene, out = corpus.copy("mv"), corpus.root / "out"
    argv = hostile.run_args(scene, out)
    says = ("no sparse points", "pycolmap", "pip install")
    hostile.check(hostile.Case(argv, out, says=says), corpus.root, capsys)


MV_FLAGS = [
    (["--ref", "nope.png"], ("--ref nope.png",)),
    (["--all", "--points", "P"], ("--points", "--all")),
    (["--all", "--ref", "view00.png"], ("--ref", "--all")),
    (["--distance", "vgg"], ("light-field options",)),
    (["--supervised"], ("light-field options",)),
    (["--grid", "1x3"], ("--grid",)),
    (["--gt", "x.pfm"], ("--gt",)),
]


@pytest.mark.parametrize("extra,says", MV_FLAGS, ids=[" ".join(e) for e, _ in MV_FLAGS])
def test_light_field_options_on_a_multi_view_scene(corpus, hostile, capsys, extra, says):
    scene, out = corpus.copy("colmap_txt"), corpus.root / "out"
    pts = str(corpus.copy("mv_points.csv"))
    argv = hostile.run_args(scene, out, *[pts if e == "P" else e for e in extra])
    hostile.check(hostile.Case(argv, out, says=says), corpus.root, capsys)


def test_points_command_on_a_multi_view_scene(corpus, hostile, capsys):
    scene, out = corpus.copy("colmap_txt"), corpus.root / "out"
    argv = ["points", str(scene), "--out", str(out)]
    hostile.check(hostile.Case(argv, out, says=("multi-view scene",)), corpus.root, capsys)


def test_inverse_depth_points_behind_the_camera(corpus, hostile, capsys):
    scene, out = corpus.copy("mv"), corpus.root / "out"
    pts = corpus.points("x,y,inverse_depth\n10,10,0.5\n20,20,-0.5\n", "neg.csv")
    ref = (corpus.base / "mv_ref.txt").read_text()
    argv = hostile.run_args(scene, out, "--ref", ref, points=pts)
    hostile.check(hostile.Case(argv, out, says=("behind the camera",)), corpus.root, capsys)


def test_inverse_depths_of_no_single_scene(corpus, hostile, capsys):
    scene, out = corpus.copy("mv"), corpus.root / "out"
    pts = corpus.points("x,y,inverse_depth\n10,10,1e-8\n20,20,1\n30,20,1e8\n", "wide.csv")
    ref = (corpus.base / "mv_ref.txt").read_text()
    argv = hostile.run_args(scene, out, "--ref", ref, points=pts)
    hostile.check(hostile.Case(argv, out, says=("10^6",)), corpus.root, capsys)


def test_wild_distortion_is_refused_not_propagated(corpus, hostile, capsys):
    """An OPENCV camera with distortion 1e300: the undistorted image would be NaN."""
    scene = corpus.copy("colmap_txt")
    path = scene / "sparse" / "cameras.txt"
    lines = path.read_text().splitlines()
    for i in _data(lines):
        t = lines[i].split()
        lines[i] = " ".join([t[0], "OPENCV", *t[2:], "1e300", "1e300", "0", "0"])
    path.write_text("\n".join(lines) + "\n")
    out = corpus.root / "out"
    argv = hostile.run_args(scene, out)
    hostile.check(hostile.Case(argv, out, says=("finite",)), corpus.root, capsys)


def test_points_and_scene_arrays_stay_finite():
    """validate_cameras works on any MultiViewScene, whichever reader made it."""
    from diffdepth.io import InputError, validate_cameras
    from diffdepth.synth import make_multiview

    scene, _ = make_multiview(n_views=2, height=20, width=24, n_points=10)
    validate_cameras(scene)
    scene.K[1, 0, 0] = -5
    with pytest.raises(InputError, match="positive focal"):
        validate_cameras(scene)
    scene.K[1, 0, 0] = 30
    scene.points3d[3] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        validate_cameras(scene)
