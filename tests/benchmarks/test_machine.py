"""Benchmark results name the commit they measured and refuse uncommitted code unless told."""

import pytest

_machine = pytest.importorskip("benchmarks._machine", reason="run from the repository root")


def _fake_git(monkeypatch, commit, status):
    def git(*args):
        return {"rev-parse": commit, "status": status}[args[0]]

    monkeypatch.setattr(_machine, "_git", git)


def test_clean_tree_records_the_commit(monkeypatch):
    _fake_git(monkeypatch, "0123abcd\n", " M benchmarks/results/core.md\n")
    rec = _machine.provenance()
    assert rec["git_commit"] == "0123abcd" and rec["git_dirty"] is False
    assert _machine.commit_line(rec) == "commit 0123abcd"


def test_uncommitted_changes_are_refused_unless_allowed(monkeypatch):
    status = " M src/diffdepth/cli.py\n?? scratch.py\nR  a.py -> b.py\n"
    _fake_git(monkeypatch, "0123abcd\n", status)
    with pytest.raises(SystemExit, match="uncommitted changes.*--allow-dirty"):
        _machine.provenance()
    rec = _machine.provenance(allow_dirty=True)
    assert rec["dirty_files"] == ["src/diffdepth/cli.py", "scratch.py", "b.py"]
    assert rec["git_dirty"] and rec["allow_dirty"]
    assert "uncommitted" in _machine.commit_line(rec)


def test_no_git_checkout_is_refused_unless_allowed(monkeypatch):
    _fake_git(monkeypatch, None, None)
    with pytest.raises(SystemExit, match="not a git checkout"):
        _machine.provenance()
    assert _machine.provenance(allow_dirty=True)["git_commit"] is None


def test_machine_info_carries_the_record_and_the_thread_settings():
    info = _machine.machine_info({"git_commit": "x"})
    assert info["git_commit"] == "x"
    assert {"available_cores", "torch_threads", "numba_threads", "OMP_WAIT_POLICY"} <= set(
        info["threads"]
    )
