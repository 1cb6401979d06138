"""Atomic writes: complete or absent, never half written."""

import os

import numpy as np
import pytest

from diffdepth.io.atomic import atomic_write, save_npy_atomic, save_text_atomic
from diffdepth.io.errors import InputError


def test_writes_binary_and_text(tmp_path):
    with atomic_write(tmp_path / "a.bin") as f:
        f.write(b"\x00\x01")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    save_text_atomic(tmp_path / "t.txt", "héllo\n")
    assert (tmp_path / "t.txt").read_text(encoding="utf-8") == "héllo\n"
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    save_npy_atomic(tmp_path / "a.npy", arr)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), arr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "a.npy", "t.txt"]


def test_result_has_ordinary_permissions(tmp_path):
    save_text_atomic(tmp_path / "p.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o666 & ~mask


def test_error_leaves_no_file_behind(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(tmp_path / "out.bin") as f:
            f.write(b"partial")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_error_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as f:
            f.write("new and incomplete")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_replaces_existing_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    save_text_atomic(target, "new")
    assert target.read_text() == "new"


def test_missing_folder_is_input_error(tmp_path):
    folder = tmp_path / "no" / "such"
    with pytest.raises(InputError, match="does not exist") as info:
        save_text_atomic(folder / "x.txt", "x")
    assert str(folder) in str(info.value)


def test_folder_that_is_a_file_is_input_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(InputError, match="not a folder") as info:
        save_npy_atomic(blocker / "x.npy", np.zeros(2))
    assert str(blocker) in str(info.value)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="permission bits do not stop root from writing",
)
def test_read_only_folder_is_input_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(InputError, match="not writable") as info:
            save_text_atomic(folder / "x.txt", "x")
        assert str(folder) in str(info.value)
    finally:
        folder.chmod(0o700)


def test_unwritable_folder_is_input_error(tmp_path):
    # A folder whose entries cannot be created even by root: /proc.
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc on this system")
    with pytest.raises(InputError, match="not writable") as info:
        save_text_atomic("/proc/self/diffdepth-out.txt", "x")
    assert "/proc/self" in str(info.value)


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        with atomic_write("x.txt", "a"):
            pass
