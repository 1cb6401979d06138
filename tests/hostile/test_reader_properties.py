"""Property tests of the readers: random bytes, and random mutations of valid files (bytes
flipped, inserted, deleted, duplicated, the file cut short, a number replaced by a hostile one,
a binary field overwritten), never raise anything but InputError.

Readers: PFM, points CSV, COLMAP text and binary models, Middlebury *_par.txt, HCI
parameters.cfg. A few hundred examples each (EXAMPLES; DIFFDEPTH_PROPERTY_EXAMPLES=N searches
longer); the examples are drawn afresh on every run and nothing is stored (no example database).
"""

import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from diffdepth.io import (
    InputError,
    read_middlebury_cameras,
    read_pfm,
    read_points_csv,
    scan_lightfield,
    write_pfm,
)
from diffdepth.io.colmap import read_colmap_model, write_colmap_model

# a warning would be a second line under the command line's one-line error
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

EXAMPLES = int(os.environ.get("DIFFDEPTH_PROPERTY_EXAMPLES", "300"))  # more: a longer search
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HOSTILE_TOKENS = [
    b"nan",
    b"-nan",
    b"inf",
    b"-inf",
    b"1e309",
    b"-1e309",
    b"0",
    b"-0",
    b"-1",
    b"1e-320",
    b"99999999999999999999999",
    b"9" * 5000,
    b"",
    b"\xc2\xb2",
    b"\xd9\xa3",
    b"0x10",
    b"1_0",
    b"\x00",
    b"\xff\xfe",
    b"..",
    b"../../x.png",
    b"/etc/hostname",
    b"  ",
    b"#",
    b"%(x)s",
    b"[meta]",
    b"PINHOLE",
    b"FOV",
    b"Pf",
    b"PF",
    b"1e30",
    b"300",
    b"2147483648",
]
BINARY_FIELDS = [
    ("<Q", 0),
    ("<Q", 1),
    ("<Q", 2**32),
    ("<Q", 2**63),
    ("<Q", 2**64 - 1),
    ("<I", 2**32 - 1),
    ("<i", -1),
    ("<i", 99),
    ("<d", float("nan")),
    ("<d", float("inf")),
    ("<d", -1.0),
    ("<d", 0.0),
    ("<d", 1e308),
    ("<B", 0),
]


@st.composite
def mutations(draw, original: bytes, binary: bool = False) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "dup", "token", "field"]))
        n = len(data)
        if op == "flip" and n:
            i = draw(st.integers(0, n - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            i = draw(st.integers(0, n))
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and n:
            i = draw(st.integers(0, n - 1))
            del data[i : i + draw(st.integers(1, 16))]
        elif op == "cut":
            del data[draw(st.integers(0, n)) :]
        elif op == "dup" and n:
            i = draw(st.integers(0, n - 1))
            j = draw(st.integers(i, min(n, i + 64)))
            data[j:j] = data[i:j]
        elif op == "token" and not binary:
            spans = [m.span() for m in re.finditer(rb"[^\s,]+", bytes(data))]
            if spans:
                a, b = draw(st.sampled_from(spans))
                data[a:b] = draw(st.sampled_from(HOSTILE_TOKENS))
        elif op == "field" and binary and n >= 8:
            fmt, value = draw(st.sampled_from(BINARY_FIELDS))
            i = draw(st.integers(0, n - struct.calcsize(fmt)))
            struct.pack_into(fmt, data, i, value)
    return bytes(data)


def _only_input_errors(read, path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        read(path)
    except InputError as e:
        assert "\n" not in str(e).strip(), str(e)


# ---- the valid originals ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    from diffdepth.synth import make_multiview

    root = tmp_path_factory.mktemp("originals")
    rng = np.random.default_rng(0)
    write_pfm(root / "map.pfm", rng.normal(size=(5, 7)).astype(np.float32))
    (root / "points.csv").write_text("x,y,disparity,confidence\n1.5,2,0.25,0.9\n3,4.25,-0.5,1\n")
    scene, _ = make_multiview(n_views=2, height=12, width=16, n_points=6, seed=2)
    images = root / "images"
    images.mkdir()
    for name, img in zip(scene.names, scene.images):
        Image.fromarray((img * 255).astype(np.uint8)).save(images / name)
    for kind, binary in (("bin", True), ("txt", False)):
        write_colmap_model(root / kind, scene, binary=binary)
    lines = [str(len(scene))]
    for name, K, R, t in zip(scene.names, scene.K, scene.R, scene.t):
        lines.append(" ".join([name, *(f"{v:.8g}" for v in (*K.ravel(), *R.ravel(), *t))]))
    (images / "s_par.txt").write_text("\n".join(lines) + "\n")
    hci = root / "hci"
    hci.mkdir()
    for k in range(4):
        Image.new("RGB", (8, 6), (40 * k, 0, 0)).save(hci / f"input_Cam{k:03d}.png")
    (hci / "parameters.cfg").write_text(
        "[intrinsics]\nfocal_length_mm = 100\n[extrinsics]\nnum_cams_x = 2\nnum_cams_y = 2\n"
        "baseline_mm = 90\n[meta]\ndisp_min = -1.5\ndisp_max = 1.5\n"
    )
    return root


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


def test_the_originals_read(originals):
    """The unmutated files are valid: every property below starts from a readable file."""
    read_pfm(originals / "map.pfm")
    assert len(read_points_csv(originals / "points.csv")) == 2
    for kind in ("bin", "txt"):
        assert len(read_colmap_model(originals / kind, originals / "images")) == 2
    assert len(read_middlebury_cameras(originals / "images" / "s_par.txt")) == 2
    assert scan_lightfield(originals / "hci").grid == (2, 2)


# ---- PFM ------------------------------------------------------------------------------------


@SETTINGS
@given(content=st.binary(max_size=300))
def test_pfm_random_bytes(work, content):
    _only_input_errors(read_pfm, work / "r.pfm", content)


@SETTINGS
@given(data=st.data())
def test_pfm_mutations(originals, work, data):
    original = (originals / "map.pfm").read_bytes()
    content = data.draw(mutations(original, binary=data.draw(st.booleans())))
    _only_input_errors(read_pfm, work / "m.pfm", content)


# ---- points CSV -----------------------------------------------------------------------------


@SETTINGS
@given(content=st.binary(max_size=300))
def test_csv_random_bytes(work, content):
    _only_input_errors(read_points_csv, work / "r.csv", content)


@SETTINGS
@given(data=st.data())
def test_csv_mutations(originals, work, data):
    content = data.draw(mutations((originals / "points.csv").read_bytes()))
    _only_input_errors(read_points_csv, work / "m.csv", content)


# ---- COLMAP models ----------------------------------------------------------------------------


def _colmap(work, originals, kind, name, content):
    folder = work / f"colmap_{kind}"
    if not folder.exists():
        folder.mkdir()
        for p in (originals / kind).iterdir():
            (folder / p.name).write_bytes(p.read_bytes())
    target = folder / name
    original = (originals / kind / name).read_bytes()
    try:
        _only_input_errors(
            lambda _: read_colmap_model(folder, originals / "images"), target, content
        )
    finally:
        target.write_bytes(original)


@pytest.mark.parametrize("name", ["cameras.bin", "images.bin", "points3D.bin"])
def test_colmap_binary_random_bytes(originals, work, name):
    @SETTINGS
    @given(content=st.binary(max_size=400))
    def prop(content):
        _colmap(work, originals, "bin", name, content)

    prop()


@pytest.mark.parametrize("name", ["cameras.bin", "images.bin", "points3D.bin"])
def test_colmap_binary_mutations(originals, work, name):
    original = (originals / "bin" / name).read_bytes()

    @SETTINGS
    @given(data=st.data())
    def prop(data):
        _colmap(work, originals, "bin", name, data.draw(mutations(original, binary=True)))

    prop()


@pytest.mark.parametrize("name", ["cameras.txt", "images.txt", "points3D.txt"])
def test_colmap_text_mutations(originals, work, name):
    original = (originals / "txt" / name).read_bytes()

    @SETTINGS
    @given(data=st.data())
    def prop(data):
        _colmap(work, originals, "txt", name, data.draw(mutations(original)))

    prop()


@pytest.mark.parametrize("name", ["cameras.txt", "images.txt", "points3D.txt"])
def test_colmap_text_random_bytes(originals, work, name):
    @SETTINGS
    @given(content=st.binary(max_size=400))
    def prop(content):
        _colmap(work, originals, "txt", name, content)

    prop()


# ---- Middlebury *_par.txt ---------------------------------------------------------------------


def _par(originals, work, content):
    # the images stay in the original folder: names are resolved against it
    _only_input_errors(
        lambda p: read_middlebury_cameras(p, originals / "images"), work / "x_par.txt", content
    )


@SETTINGS
@given(content=st.binary(max_size=400))
def test_par_random_bytes(originals, work, content):
    _par(originals, work, content)


@SETTINGS
@given(data=st.data())
def test_par_mutations(originals, work, data):
    _par(originals, work, data.draw(mutations((originals / "images" / "s_par.txt").read_bytes())))


# ---- HCI parameters.cfg -----------------------------------------------------------------------


def _cfg(originals, work, content):
    folder = work / "hci"
    if not folder.exists():
        folder.mkdir()
        for p in (originals / "hci").iterdir():
            (folder / p.name).write_bytes(p.read_bytes())
    _only_input_errors(lambda _: scan_lightfield(folder), folder / "parameters.cfg", content)


@SETTINGS
@given(content=st.binary(max_size=300))
def test_parameters_cfg_random_bytes(originals, work, content):
    _cfg(originals, work, content)


@SETTINGS
@given(data=st.data())
def test_parameters_cfg_mutations(originals, work, data):
    _cfg(originals, work, data.draw(mutations((originals / "hci" / "parameters.cfg").read_bytes())))
