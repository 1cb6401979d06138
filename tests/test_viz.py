"""Map pictures: the map's pixels unchanged beside a colour bar, symmetric error scales."""

import matplotlib
import numpy as np
import pytest
from PIL import Image

from diffdepth import viz


def _read(path):
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_map_png_keeps_the_pixels_and_adds_a_bar(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.uniform(-1, 2, (300, 200))
    arr[5, 7] = np.nan
    viz.save_map_png(tmp_path / "m.png", arr, -1.0, 2.0, label="disparity (px)")
    png = _read(tmp_path / "m.png")
    assert png.shape[0] == 300 and png.shape[1] > 200 + 60
    np.testing.assert_array_equal(png[:, :200], viz.colorize(arr, -1.0, 2.0))
    assert (png[5, 7] == 0).all()  # no value: black
    # the bar holds both ends of the colour map, low at the bottom, high at the top
    cmap = matplotlib.colormaps["viridis"]
    lo, hi = (np.round(np.array(cmap(t)[:3]) * 255) for t in (0.0, 1.0))
    bar = png[:, 200:].reshape(-1, 3).astype(int)
    assert np.abs(bar - lo).sum(1).min() <= 6 and np.abs(bar - hi).sum(1).min() <= 6
    col = png[:, 200:].astype(int)
    rows_hi = np.nonzero((np.abs(col - hi).sum(2) <= 6).any(1))[0]
    rows_lo = np.nonzero((np.abs(col - lo).sum(2) <= 6).any(1))[0]
    assert rows_hi.mean() < rows_lo.mean()


def test_small_maps_are_enlarged_by_a_whole_factor(tmp_path):
    arr = np.arange(40 * 56, dtype=float).reshape(40, 56)
    viz.save_map_png(tmp_path / "m.png", arr)
    png = _read(tmp_path / "m.png")
    k = -(-viz.MIN_MAP_HEIGHT // 40)
    assert png.shape[0] == 40 * k
    rgb = viz.colorize(arr, *viz.map_range(arr))
    np.testing.assert_array_equal(png[:, : 56 * k], rgb.repeat(k, 0).repeat(k, 1))


def test_signed_error_is_symmetric_and_diverging(tmp_path):
    gt = np.zeros((250, 250))
    est = gt.copy()
    est[:, :100] = 0.05  # estimate above the truth
    est[:, 150:] = -0.05
    viz.save_signed_error_png(tmp_path / "e.png", est, gt, limit=0.1)
    png = _read(tmp_path / "e.png").astype(int)
    above, zero, below = png[10, 50], png[10, 125], png[10, 200]
    assert above[0] > above[2] + 40 and below[2] > below[0] + 40  # red above, blue below
    assert zero.min() > 230  # white at zero error
    # symmetric: +e and -e lie equally far from the middle of the map
    mid = np.array(matplotlib.colormaps[viz.ERROR_CMAP](0.5)[:3]) * 255
    assert abs(np.abs(above - mid).sum() - np.abs(below - mid).sum()) < 40


def test_error_limit_and_ranges():
    assert viz.nice_ceil(0.07) == pytest.approx(0.1)
    assert viz.nice_ceil(0.12) == pytest.approx(0.2)
    assert viz.nice_ceil(2.1) == pytest.approx(2.5)
    assert viz.nice_ceil(30) == pytest.approx(50)
    err = np.concatenate([np.full(99, 0.01), [5.0]])
    assert viz.error_limit(err, -err) == pytest.approx(0.01)
    lo, hi = viz.map_range(np.array([0.0, 1.0]), None, np.array([np.nan, 3.0]))
    assert lo == pytest.approx(0.02) and hi == pytest.approx(2.96)
    assert viz.map_range(np.full(3, np.nan)) == (0.0, 1.0)


def test_badpix_png_shows_bad_pixels_in_red_with_a_legend(tmp_path):
    bad = np.zeros((240, 100), bool)
    bad[:, :10] = True
    image = np.full((240, 100, 3), 0.5, np.float32)
    viz.save_badpix_png(tmp_path / "b.png", bad, image, 0.07, 10.0)
    png = _read(tmp_path / "b.png").astype(int)
    assert (png[:, :10] == [255, 26, 26]).all() and (np.abs(png[:, 10:100] - 76.5) <= 1).all()
    assert png.shape[1] > 160  # the legend
