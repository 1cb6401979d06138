"""Light-field folders: the three layouts on real scenes, and every malformed input."""

import functools

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from diffdepth.io.errors import InputError
from diffdepth.io.images import read_image
from diffdepth.io.lightfield import LightField, read_lightfield
from diffdepth.io.pfm import write_pfm


@functools.lru_cache(maxsize=1)
def cached_lightfield(path, **kwargs):
    return read_lightfield(path, **kwargs)


def warp_error(view, ref, disparity, u, v, border=15):
    """Mean |I_k(x - d u, y - d v) - I_ref(x, y)| over pixels that stay inside view k."""
    h, w = disparity.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = xx - disparity * u, yy - disparity * v
    warped = np.stack(
        [ndimage.map_coordinates(view[..., k], [y, x], order=1, mode="nearest") for k in range(3)],
        axis=-1,
    )
    mask = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1) & np.isfinite(disparity)
    mask[:border] = mask[-border:] = False
    mask[:, :border] = mask[:, -border:] = False
    return np.abs(warped - ref)[mask].mean()


# --------------------------------------------------------------------------- real scenes


def test_hci_antinous(antinous):
    lf = cached_lightfield(str(antinous))
    assert lf.views.shape == (9, 9, 512, 512, 3) and lf.views.dtype == np.float32
    assert lf.ref == (4, 4)
    assert lf.disp_range == (-3.3, 2.8)
    assert lf.gt.shape == (512, 512)
    assert -3.2 < lf.gt.min() < -3.0 and 2.6 < lf.gt.max() < 2.75
    assert lf.name == "antinous"
    assert lf.paths[0][1].endswith("input_Cam001.png")
    assert lf.paths[1][0].endswith("input_Cam009.png")
    assert lf.paths[4][4].endswith("input_Cam040.png")
    np.testing.assert_array_equal(lf.views[2, 7], read_image(antinous / "input_Cam025.png"))


def test_hci_warping_convention(antinous):
    # I_k(x - d (c - c0), y - d (r - r0)) ~= I_ref(x, y) with the ground truth d.
    lf = cached_lightfield(str(antinous))
    gt = lf.gt.astype(np.float64)
    for r, c in [(0, 0), (8, 8), (0, 8), (4, 0)]:
        u, v = c - 4, r - 4
        err = warp_error(lf.views[r, c], lf.ref_view, gt, u, v)
        err_still = warp_error(lf.views[r, c], lf.ref_view, 0 * gt, u, v)
        err_flipped = warp_error(lf.views[r, c], lf.ref_view, -gt, u, v)
        assert err < 0.015
        assert err < 0.5 * err_still
        assert err < 0.4 * err_flipped


def test_view_selections(antinous):
    lf = cached_lightfield(str(antinous))
    off = lf.offsets()
    assert off.shape == (9, 9, 2)
    assert tuple(off[0, 8]) == (-4, 4) and tuple(off[4, 4]) == (0, 0)
    views, uv = lf.crosshair()
    assert views.shape == (16, 512, 512, 3) and uv.shape == (16, 2)
    assert (0, 0) not in {tuple(o) for o in uv}
    assert np.all((uv[:, 0] == 0) | (uv[:, 1] == 0))
    k = next(i for i, o in enumerate(uv) if tuple(o) == (3, 0))  # u = c - c0 = 3, v = 0
    np.testing.assert_array_equal(views[k], lf.views[4, 7])
    views, uv = lf.all_views()
    assert views.shape[0] == 80
    k = next(i for i, o in enumerate(uv) if tuple(o) == (-4, 2))  # c = 0, r = 6
    np.testing.assert_array_equal(views[k], lf.views[6, 0])


def test_lytro_grid_names(lytro_2067):
    lf = cached_lightfield(str(lytro_2067))
    assert lf.views.shape == (9, 9, 383, 552, 3)
    assert lf.ref == (4, 4) and lf.gt is None and lf.disp_range is None
    assert lf.paths[2][5].endswith("2067_03_06.png")
    np.testing.assert_array_equal(lf.views[2, 5], read_image(lytro_2067 / "2067_03_06.png"))


def test_tsukuba_row_with_gt(tsukuba):
    lf = read_lightfield(tsukuba, grid=(1, 5), gt="truedisp.row3.col3.pgm", gt_scale=0.0625)
    assert lf.views.shape == (1, 5, 288, 384, 3)
    assert lf.ref == (0, 2)
    assert [p.rsplit("/", 1)[-1] for p in lf.paths[0]] == [
        f"scene1.row3.col{k}.ppm" for k in range(1, 6)
    ]
    raw = np.asarray(Image.open(tsukuba / "truedisp.row3.col3.pgm"))
    np.testing.assert_array_equal(np.isnan(lf.gt), raw == 0)
    np.testing.assert_allclose(lf.gt[raw > 0], raw[raw > 0] / 16.0)
    # I_colk(x - d (k - 3), y) ~= I_col3(x, y)
    gt = lf.gt.astype(np.float64)
    for c in (0, 4):
        u = c - 2
        err = warp_error(lf.views[0, c], lf.ref_view, gt, u, 0)
        assert err < 0.5 * warp_error(lf.views[0, c], lf.ref_view, 0 * gt, u, 0)


def test_tsukuba_needs_a_grid(tsukuba):
    with pytest.raises(InputError, match="grid=") as info:
        read_lightfield(tsukuba)
    assert str(tsukuba) in str(info.value)


# --------------------------------------------------------------------------- small folders


def save_view(path, value, size=(6, 8)):
    h, w = size
    Image.fromarray(np.full((h, w, 3), value, dtype=np.uint8)).save(path)


def make_hci(folder, rows=2, cols=3, cfg=True):
    """HCI layout with num_cams_x = cols, num_cams_y = rows; view k has grey level 10 k."""
    folder.mkdir(exist_ok=True)
    for k in range(rows * cols):
        save_view(folder / f"input_Cam{k:03d}.png", 10 * k)
    if cfg:
        (folder / "parameters.cfg").write_text(
            "[extrinsics]\n"
            f"num_cams_x = {cols}\nnum_cams_y = {rows}\n"
            "[meta]\ndisp_min = -1.5\ndisp_max = 2.0\n"
        )
    return folder


def test_hci_layout_small(tmp_path):
    folder = make_hci(tmp_path / "scene")
    gt = np.linspace(-1, 1, 48, dtype=np.float32).reshape(6, 8)
    write_pfm(folder / "gt_disp_lowres.pfm", gt)
    lf = read_lightfield(folder)
    assert isinstance(lf, LightField)
    assert lf.views.shape == (2, 3, 6, 8, 3)
    assert lf.ref == (1, 1) and lf.disp_range == (-1.5, 2.0) and lf.name == "scene"
    for k in range(6):
        r, c = divmod(k, 3)
        np.testing.assert_allclose(lf.views[r, c], 10 * k / 255.0, atol=1e-7)
    np.testing.assert_array_equal(lf.gt, gt)
    assert read_lightfield(folder, ref=(0, 2)).ref == (0, 2)


def test_hci_without_cfg_square_count(tmp_path):
    folder = make_hci(tmp_path / "s", rows=2, cols=2, cfg=False)
    assert read_lightfield(folder).views.shape[:2] == (2, 2)
    assert read_lightfield(folder, grid=(1, 4)).views.shape[:2] == (1, 4)


def test_missing_view_names_it(tmp_path):
    folder = make_hci(tmp_path / "s")
    (folder / "input_Cam004.png").unlink()
    with pytest.raises(InputError, match="missing") as info:
        read_lightfield(folder)
    assert str(folder / "input_Cam004.png") in str(info.value)


def test_extra_view_names_it(tmp_path):
    folder = make_hci(tmp_path / "s")
    save_view(folder / "input_Cam006.png", 0)
    with pytest.raises(InputError, match="outside the 2 x 3 grid") as info:
        read_lightfield(folder)
    assert "input_Cam006.png" in str(info.value)


def test_mixed_sizes_name_the_odd_file(tmp_path):
    folder = make_hci(tmp_path / "s")
    save_view(folder / "input_Cam002.png", 0, size=(6, 9))
    with pytest.raises(InputError) as info:
        read_lightfield(folder)
    msg = str(info.value)
    assert str(folder / "input_Cam002.png") in msg
    assert "9 x 6" in msg and "8 x 6" in msg


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_png_names_it(tmp_path, damage):
    folder = make_hci(tmp_path / "s")
    bad = folder / "input_Cam003.png"
    if damage == "garbage":
        bad.write_bytes(b"\x89PNG\r\n\x1a\n but nothing after")
    else:
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).save(bad)
        bad.write_bytes(bad.read_bytes()[:60])
    with pytest.raises(InputError) as info:
        read_lightfield(folder)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("this is not an ini file\n", "unreadable"),
        ("[extrinsics]\nnum_cams_x = 3\n", "num_cams_y"),
        ("[extrinsics]\nnum_cams_x = three\nnum_cams_y = 2\n", "integers"),
        ("[extrinsics]\nnum_cams_x = 3\nnum_cams_y = 2\n[meta]\ndisp_min = low\n", "disp_min"),
    ],
)
def test_bad_config_names_it(tmp_path, text, expected):
    folder = make_hci(tmp_path / "s")
    (folder / "parameters.cfg").write_text(text)
    with pytest.raises(InputError, match=expected) as info:
        read_lightfield(folder)
    assert str(folder / "parameters.cfg") in str(info.value)


def test_binary_config_names_it(tmp_path):
    folder = make_hci(tmp_path / "s")
    (folder / "parameters.cfg").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError) as info:
        read_lightfield(folder)
    assert str(folder / "parameters.cfg") in str(info.value)


def test_config_disagreeing_with_grid(tmp_path):
    folder = make_hci(tmp_path / "s")
    with pytest.raises(InputError, match="parameters.cfg"):
        read_lightfield(folder, grid=(3, 2))


def test_gt_of_other_size_names_it(tmp_path):
    folder = make_hci(tmp_path / "s")
    write_pfm(folder / "gt_disp_lowres.pfm", np.zeros((8, 6), np.float32))
    with pytest.raises(InputError, match="ground truth is 6 x 8") as info:
        read_lightfield(folder)
    assert "gt_disp_lowres.pfm" in str(info.value)


def test_grid_named_views(tmp_path):
    folder = tmp_path / "cap"
    folder.mkdir()
    for r in range(1, 3):
        for c in range(1, 4):
            save_view(folder / f"cap_{r:02d}_{c:02d}.png", 40 * r + c)
    lf = read_lightfield(folder)
    assert lf.views.shape == (2, 3, 6, 8, 3) and lf.ref == (1, 1)
    np.testing.assert_allclose(lf.views[1, 2], (40 * 2 + 3) / 255.0, atol=1e-7)
    (folder / "cap_02_02.png").unlink()
    with pytest.raises(InputError, match="missing") as info:
        read_lightfield(folder)
    assert str(folder / "cap_02_02.png") in str(info.value)


def test_generic_folder_natural_order(tmp_path):
    folder = tmp_path / "row"
    folder.mkdir()
    for k in range(1, 11):
        save_view(folder / f"img{k}.ppm", k)
    lf = read_lightfield(folder, grid=(2, 5))
    values = np.round(lf.views[..., 0, 0, 0] * 255).astype(int)
    np.testing.assert_array_equal(values, [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    with pytest.raises(InputError, match="found 10 images") as info:
        read_lightfield(folder, grid=(3, 3))
    assert str(folder) in str(info.value)


def test_not_a_folder_or_empty(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_lightfield(tmp_path / "nothing")
    file = tmp_path / "f.png"
    save_view(file, 0)
    with pytest.raises(InputError, match="found a file"):
        read_lightfield(file)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(InputError, match="no images found") as info:
        read_lightfield(empty)
    assert str(empty) in str(info.value)


def test_bad_reference(tmp_path):
    folder = make_hci(tmp_path / "s")
    with pytest.raises(InputError, match="outside"):
        read_lightfield(folder, ref=(2, 0))


def test_missing_gt_names_it(tmp_path):
    folder = make_hci(tmp_path / "s")
    with pytest.raises(InputError, match="not found") as info:
        read_lightfield(folder, gt="nope.pgm")
    assert "nope.pgm" in str(info.value)


def test_gt_given_by_absolute_path_is_not_a_view(tmp_path):
    folder = tmp_path / "row"
    folder.mkdir()
    for k in range(1, 4):
        save_view(folder / f"v{k}.png", k)
    raw = np.zeros((6, 8), np.uint8)
    raw[2:, 3:] = 32
    Image.fromarray(raw, mode="L").save(folder / "truth.png")
    lf = read_lightfield(folder, grid=(1, 3), gt=folder / "truth.png", gt_scale=1 / 16)
    assert lf.views.shape[:2] == (1, 3)
    np.testing.assert_array_equal(np.isnan(lf.gt), raw == 0)
    assert np.all(lf.gt[raw > 0] == 2.0)
