"""Depth maps and clouds in other tools' formats: COLMAP .bin, 16-bit PNG, PLY."""

import numpy as np
import pytest
from PIL import Image

from diffdepth.io.depth_formats import (
    png16_scale,
    write_colmap_depth,
    write_depth_png16,
    write_ply,
)


def read_colmap_array(path):
    """COLMAP's read_array: 'width&height&channels&' then float32, x fastest, then y, then
    channel (as colmap/scripts/python/read_write_dense.py reads it)."""
    raw = path.read_bytes()
    fields, pos = [], 0
    for _ in range(3):
        end = raw.index(b"&", pos)
        fields.append(int(raw[pos:end]))
        pos = end + 1
    w, h, c = fields
    data = np.frombuffer(raw[pos:], dtype="<f4")
    assert data.size == w * h * c
    return data.reshape((w, h, c), order="F").transpose(1, 0, 2).squeeze()


def test_colmap_depth_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 3.0, size=(7, 11)).astype(np.float32)  # not square: order matters
    valid = rng.random((7, 11)) > 0.2
    depth[0, 0] = np.nan
    write_colmap_depth(tmp_path / "d.bin", depth, valid)
    assert (tmp_path / "d.bin").read_bytes().startswith(b"11&7&1&")
    back = read_colmap_array(tmp_path / "d.bin")
    expect = np.where(valid & np.isfinite(depth), depth, 0.0)
    np.testing.assert_array_equal(back, expect)


def test_png16_depth_open3d_convention(tmp_path):
    depth = np.array([[0.61, 0.7234], [np.nan, 0.655]], np.float32)
    valid = np.array([[True, True], [True, False]])
    scale = write_depth_png16(tmp_path / "d.png", depth, valid)
    assert scale == png16_scale(depth, valid & np.isfinite(depth)) == 10000.0
    u16 = np.asarray(Image.open(tmp_path / "d.png"))
    assert u16.dtype == np.uint16
    np.testing.assert_array_equal(u16, [[6100, 7234], [0, 0]])  # unknown -> 0
    # a larger scene: the scale drops so that the deepest pixel still fits
    assert png16_scale(np.array([120.0]), np.array([True])) == 100.0
    assert 120.0 * png16_scale(np.array([120.0]), np.array([True])) <= 65535


def test_ply_loads_in_plyfile(tmp_path):
    plyfile = pytest.importorskip("plyfile")
    xyz = np.array([[0, 0, 1], [1, 2, 3]], np.float32)
    rgb = np.array([[255, 0, 0], [0, 10, 20]], np.uint8)
    n = np.array([[0, 0, -1], [0, 1, 0]], np.float32)
    q = np.array([0.25, 1.0], np.float32)
    write_ply(tmp_path / "p.ply", xyz, rgb, n, q)
    v = plyfile.PlyData.read(str(tmp_path / "p.ply"))["vertex"]
    np.testing.assert_array_equal(np.stack([v["x"], v["y"], v["z"]], 1), xyz)
    np.testing.assert_array_equal(np.stack([v["nx"], v["ny"], v["nz"]], 1), n)
    np.testing.assert_array_equal(np.stack([v["red"], v["green"], v["blue"]], 1), rgb)
    np.testing.assert_array_equal(v["confidence"], q)
