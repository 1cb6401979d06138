"""Sparse points as CSV files."""

import numpy as np
import pytest

from diffdepth.io.errors import InputError
from diffdepth.io.points_csv import read_points_csv, write_points_csv
from diffdepth.types import PointSet


def test_round_trip_with_confidence(tmp_path):
    rng = np.random.default_rng(0)
    pts = PointSet(rng.uniform(0, 500, (50, 2)), rng.normal(0, 1.5, 50), rng.uniform(0, 1, 50))
    write_points_csv(tmp_path / "p.csv", pts)
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "x,y,disparity,confidence"
    back = read_points_csv(tmp_path / "p.csv")
    np.testing.assert_array_equal(back.xy, pts.xy)
    np.testing.assert_array_equal(back.value, pts.value)
    np.testing.assert_array_equal(back.confidence, pts.confidence)


def test_round_trip_without_confidence_other_name(tmp_path):
    pts = PointSet([[1.5, 2.25], [3.0, 4.0]], [0.1, 0.2])
    write_points_csv(tmp_path / "p.csv", pts, value_name="inverse_depth")
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "x,y,inverse_depth"
    back = read_points_csv(tmp_path / "p.csv")
    assert back.confidence is None
    np.testing.assert_array_equal(back.value, pts.value)
    with pytest.raises(ValueError, match="value_name"):
        write_points_csv(tmp_path / "q.csv", pts, value_name="depth")


def test_free_column_order_spaces_comments(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "# exported points\n"
        "confidence, Value ,y,x,extra\n"
        "0.5, 1.25, 10, 20, a\n"
        "\n"
        "0.9, -2, 11, 21, b\n"
    )
    pts = read_points_csv(path)
    np.testing.assert_array_equal(pts.xy, [[20, 10], [21, 11]])
    np.testing.assert_array_equal(pts.value, [1.25, -2])
    np.testing.assert_allclose(pts.confidence, [0.5, 0.9])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x,y\n1,2\n", "missing column"),
        ("x,disparity\n1,2\n", "missing column"),
        ("x,y,disparity\n1,2,3\n4,abc,5\n", "line 3: column y: expected a number, found 'abc'"),
        ("x,y,disparity\n1,2,nan\n", "line 2: column disparity: expected a finite number"),
        ("x,y,disparity\n1,2,3\n1,2,inf\n", "line 3"),
        ("x,y,disparity,confidence\n1,2,3,\n", "line 2: column confidence"),
        ("x,y,disparity\n1,2\n", "line 2: expected at least 3 fields"),
        ("x,y,disparity\n", "no points"),
        ("", "empty"),
    ],
)
def test_malformed_csv(tmp_path, text, expected):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=expected) as info:
        read_points_csv(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found") as info:
        read_points_csv(tmp_path / "none.csv")
    assert "none.csv" in str(info.value)


def test_write_is_atomic_on_bad_folder(tmp_path):
    pts = PointSet([[1, 2]], [3])
    with pytest.raises(InputError, match="does not exist"):
        write_points_csv(tmp_path / "missing" / "p.csv", pts)


def test_empty_point_set_writes_header_only(tmp_path):
    write_points_csv(tmp_path / "e.csv", PointSet(np.zeros((0, 2)), np.zeros(0)))
    assert (tmp_path / "e.csv").read_text() == "x,y,disparity\n"
    with pytest.raises(InputError, match="no points"):
        read_points_csv(tmp_path / "e.csv")
