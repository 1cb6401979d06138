"""Whole-or-absent result folders: the staging, the swap (atomic exchange, or two renames where
the system has none), the manifest, what may be replaced, leftovers of killed runs."""

import json

import pytest

from diffdepth.io import InputError
from diffdepth.io import results as R
from diffdepth.io.manifest import read_manifest, verify_manifest


def _write(out, files, **kw):
    with R.staged_result(out, **kw) as stage:
        for name, text in files.items():
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            (stage / name).write_text(text)
    return out


@pytest.mark.parametrize("atomic", [True, False])
def test_a_result_replaces_the_earlier_one_whole(tmp_path, monkeypatch, atomic):
    if not atomic:
        monkeypatch.setattr(R, "exchange", lambda a, b: False)
    elif R._EXCHANGE is None:
        pytest.skip("no renameat2 here")
    out = tmp_path / "out"
    _write(out, {"a.txt": "1", "old_only.txt": "x", "sub/b.txt": "2"}, extra={"k": 1})
    assert verify_manifest(out) == [] and read_manifest(out)["extra"] == {"k": 1}
    _write(out, {"a.txt": "new"})
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "manifest.json"]
    assert (out / "a.txt").read_text() == "new" and verify_manifest(out) == []
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging, no old folder left


def test_an_error_in_the_block_leaves_the_earlier_result(tmp_path):
    out = _write(tmp_path / "out", {"a.txt": "1"})
    with pytest.raises(ValueError):
        with R.staged_result(out) as stage:
            (stage / "a.txt").write_text("half")
            raise ValueError("boom")
    assert (out / "a.txt").read_text() == "1" and verify_manifest(out) == []
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_an_os_error_becomes_an_input_error_naming_out(tmp_path):
    out = _write(tmp_path / "out", {"a.txt": "1"})
    with pytest.raises(InputError, match="No space left.*left as it was"):
        with R.staged_result(out):
            raise OSError(28, "No space left on device", "x.png")
    assert verify_manifest(out) == []


def test_exchange_swaps_two_folders(tmp_path):
    if R._EXCHANGE is None:
        pytest.skip("no renameat2 here")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "y").write_text("b")
    assert R.exchange(a, b)
    assert (a / "y").exists() and (b / "x").exists()


def test_what_may_be_replaced(tmp_path):
    (tmp_path / "empty").mkdir()
    assert R.check_result_target(tmp_path / "empty") == tmp_path / "empty"
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "config.json").write_text(json.dumps({"versions": {"diffdepth": "0.1.0"}}))
    assert R.check_result_target(legacy) == legacy  # written before manifests: a result
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text(json.dumps({"my": "settings"}))
    with pytest.raises(InputError, match="not a diffdepth result"):
        R.check_result_target(mine)
    with pytest.raises(InputError, match="not a folder"):
        (tmp_path / "f").write_text("x")
        R.check_result_target(tmp_path / "f")
    with pytest.raises(InputError, match="empty"):
        R.check_result_target("")
    link = tmp_path / "link"
    link.symlink_to(legacy)
    assert R.check_result_target(link) == legacy.resolve()  # the folder it points to


def test_leftovers_of_dead_runs_go_and_live_ones_stay(tmp_path):
    import fcntl
    import os

    out = tmp_path / "out"
    dead = tmp_path / ".out.diffdepth-staging-aaaa"
    old = tmp_path / ".out.diffdepth-old-bbbb"
    live = tmp_path / ".out.diffdepth-staging-cccc"
    other = tmp_path / ".other.diffdepth-staging-dddd"
    for p in (dead, old, live, other):
        p.mkdir()
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert R.remove_leftovers(out) == 1  # one unfinished result (the old folder is no result)
    finally:
        os.close(fd)
    assert not dead.exists() and not old.exists() and live.exists() and other.exists()


def test_interrupt_note_says_what_happened(tmp_path):
    R.forget_events()
    assert R.interrupt_note() == "no result was written"
    _write(tmp_path / "a", {"x": "1"})
    assert R.interrupt_note() == "1 result(s) finished before it are whole"
    with pytest.raises(KeyError):
        with R.staged_result(tmp_path / "b"):
            raise KeyError
    note = R.interrupt_note()
    assert note.startswith(f"the result being written was dropped, {tmp_path / 'b'} is as it was")
    assert note.endswith("1 result(s) finished before it are whole")
    R.forget_events()


def test_unique_safe_names():
    names = R.UniqueNames()
    assert [names.take(n) for n in ["a", "A", "a", "..", "index.html", ""]] == [
        "a",
        "A-2",
        "a-3",
        "result",
        "index.html-2",
        "result-2",
    ]
