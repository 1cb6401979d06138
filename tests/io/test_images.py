"""Images and disparity maps from files."""

import numpy as np
import pytest
from PIL import Image

from diffdepth.io.errors import InputError
from diffdepth.io.images import read_disparity_map, read_image
from diffdepth.io.pfm import write_pfm


def rgb_pattern(h=5, w=7):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 30, y * 40, (x + y) * 10], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("ext", ["png", "ppm", "bmp", "tif"])
def test_lossless_rgb(tmp_path, ext):
    data = rgb_pattern()
    path = tmp_path / f"a.{ext}"
    Image.fromarray(data).save(path)
    img = read_image(path)
    assert img.dtype == np.float32 and img.shape == (5, 7, 3)
    np.testing.assert_allclose(img, data / 255.0, atol=1e-7)


def test_jpeg_is_close(tmp_path):
    data = np.full((16, 24, 3), 128, dtype=np.uint8)
    Image.fromarray(data).save(tmp_path / "a.jpg", quality=95)
    img = read_image(tmp_path / "a.jpg")
    assert img.shape == (16, 24, 3)
    assert np.abs(img - 128 / 255).max() < 0.02


def test_grey_becomes_three_channels(tmp_path):
    grey = np.arange(35, dtype=np.uint8).reshape(5, 7) * 7
    Image.fromarray(grey, mode="L").save(tmp_path / "g.pgm")
    img = read_image(tmp_path / "g.pgm")
    assert img.shape == (5, 7, 3)
    for k in range(3):
        np.testing.assert_allclose(img[..., k], grey / 255.0, atol=1e-7)


def test_rgba_drops_alpha(tmp_path):
    data = np.concatenate([rgb_pattern(), np.full((5, 7, 1), 10, np.uint8)], axis=-1)
    Image.fromarray(data, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_allclose(read_image(tmp_path / "a.png"), rgb_pattern() / 255.0, atol=1e-7)


def test_palette_image(tmp_path):
    Image.fromarray(rgb_pattern()).convert("P").save(tmp_path / "p.png")
    img = read_image(tmp_path / "p.png")
    assert img.shape == (5, 7, 3) and 0 <= img.min() and img.max() <= 1


def test_sixteen_bit_grey(tmp_path):
    data = np.array([[0, 1000, 65535], [30000, 2, 40000]], dtype=np.uint16)
    Image.fromarray(data).save(tmp_path / "d16.png")
    img = read_image(tmp_path / "d16.png")
    np.testing.assert_allclose(img[..., 0], data / 65535.0, atol=1e-6)
    assert img.max() <= 1.0


def test_missing_corrupt_and_folder(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        read_image(tmp_path / "missing.png")
    assert "missing.png" in str(info.value)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is no image")
    with pytest.raises(InputError, match="not a readable image") as info:
        read_image(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(InputError, match="folder"):
        read_image(tmp_path)


def test_truncated_png(tmp_path):
    good = tmp_path / "good.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    raw = good.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="corrupt or truncated") as info:
        read_image(cut)
    assert str(cut) in str(info.value)


def test_disparity_from_pfm_npy_png(tmp_path):
    arr = np.array([[0.5, -1.0, 0.0], [2.0, 3.5, 1.0]], dtype=np.float32)
    write_pfm(tmp_path / "d.pfm", arr)
    np.save(tmp_path / "d.npy", arr)
    np.testing.assert_array_equal(read_disparity_map(tmp_path / "d.pfm"), arr)
    np.testing.assert_array_equal(read_disparity_map(tmp_path / "d.npy", scale=2.0), arr * 2)
    raw = np.array([[0, 16, 32], [48, 0, 224]], dtype=np.uint8)
    Image.fromarray(raw, mode="L").save(tmp_path / "d.pgm")
    d = read_disparity_map(tmp_path / "d.pgm", scale=1 / 16, invalid_zero=True)
    assert d.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(d), raw == 0)
    np.testing.assert_allclose(d[raw > 0], raw[raw > 0] / 16)
    kept = read_disparity_map(tmp_path / "d.pgm", scale=1 / 16)
    assert np.isfinite(kept).all() and kept[0, 0] == 0


def test_disparity_errors(tmp_path):
    Image.fromarray(rgb_pattern()).save(tmp_path / "colour.png")
    with pytest.raises(InputError, match="single-channel"):
        read_disparity_map(tmp_path / "colour.png")
    np.save(tmp_path / "cube.npy", np.zeros((2, 3, 4)))
    with pytest.raises(InputError, match="single-channel"):
        read_disparity_map(tmp_path / "cube.npy")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="bad.npy"):
        read_disparity_map(tmp_path / "bad.npy")
    with pytest.raises(InputError, match="not found"):
        read_disparity_map(tmp_path / "none.npy")


def test_tsukuba_truth(tsukuba):
    d = read_disparity_map(tsukuba / "truedisp.row3.col3.pgm", scale=1 / 16, invalid_zero=True)
    assert d.shape == (288, 384)
    assert np.isnan(d).any()
    assert np.nanmin(d) >= 1 and np.nanmax(d) <= 16
