"""PFM reading and writing (HCI convention: Pf, little-endian scale -1, rows bottom-to-top)."""

import numpy as np
import pytest

from diffdepth.io.errors import InputError
from diffdepth.io.pfm import read_pfm, write_pfm


def test_round_trip_non_square(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.normal(size=(5, 7)).astype(np.float32)
    arr[2, 3] = np.nan
    arr[0, 0] = np.inf
    path = tmp_path / "d.pfm"
    write_pfm(path, arr)
    back = read_pfm(path)
    assert back.dtype == np.float32 and back.shape == (5, 7)
    np.testing.assert_array_equal(back, arr)


def test_round_trip_colour(tmp_path):
    arr = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    write_pfm(tmp_path / "c.pfm", arr)
    np.testing.assert_array_equal(read_pfm(tmp_path / "c.pfm"), arr)
    assert (tmp_path / "c.pfm").read_bytes().startswith(b"PF\n6 4\n-1\n")


def test_written_bytes_follow_hci_convention(tmp_path):
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)  # top row 0 1 2, bottom row 3 4 5
    path = tmp_path / "d.pfm"
    write_pfm(path, arr)
    raw = path.read_bytes()
    header = b"Pf\n3 2\n-1\n"
    assert raw.startswith(header)
    data = np.frombuffer(raw[len(header) :], dtype="<f4")
    np.testing.assert_array_equal(data, [3, 4, 5, 0, 1, 2])  # bottom row first


def test_reads_big_endian_and_bottom_to_top(tmp_path):
    rows_bottom_first = np.array([[3, 4, 5], [0, 1, 2]], dtype=">f4")
    path = tmp_path / "be.pfm"
    path.write_bytes(b"Pf\n3 2\n1.0\n" + rows_bottom_first.tobytes())
    np.testing.assert_array_equal(read_pfm(path), [[0, 1, 2], [3, 4, 5]])


def test_reads_hci_ground_truth(antinous):
    gt = read_pfm(antinous / "gt_disp_lowres.pfm")
    assert gt.shape == (512, 512) and gt.dtype == np.float32
    assert np.isfinite(gt).all()
    assert -3.2 < gt.min() < -3.0 and 2.6 < gt.max() < 2.75


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"P6\n3 2\n255\n" + bytes(18), "header 'Pf' or 'PF'"),
        (b"Pf\n3 x\n-1\n" + bytes(24), "integer width and height"),
        (b"Pf\n3 2\nabc\n" + bytes(24), "scale"),
        (b"Pf\n3 2\n0\n" + bytes(24), "non-zero"),
        (b"Pf\n3 2\n-1\n" + bytes(23), "truncated PFM: expected 24 bytes"),
        (b"Pf\n3", "header"),
        (b"", "header"),
    ],
)
def test_corrupt_pfm_names_the_file(tmp_path, content, expected):
    path = tmp_path / "broken.pfm"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected) as info:
        read_pfm(path)
    assert str(path) in str(info.value)


def test_missing_pfm(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        read_pfm(tmp_path / "nope.pfm")
    assert "nope.pfm" in str(info.value)


def test_write_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="H, W"):
        write_pfm(tmp_path / "x.pfm", np.zeros((2, 3, 2)))
    assert not (tmp_path / "x.pfm").exists()
