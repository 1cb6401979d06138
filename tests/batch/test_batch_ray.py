"""`diffdepth batch --workers 2` on a local Ray: a broken scene and a killed batch.

Three scenes: a (tiny), b (a broken view), c (larger, so that it is still running when a is
done). The batch is killed (SIGKILL) as soon as a's result is whole; the rerun skips a, reports
b again and finishes c.
"""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from diffdepth.batch import threads_per_worker
from diffdepth.io.manifest import verify_manifest

pytest.importorskip("ray", reason="Ray (the [batch] extra) is not installed")

FLAGS = ["--passes", "1", "--iters", "2"]


def _start(root, out):
    """The batch in a process group of its own (Ray's processes join it)."""
    cmd = [sys.executable, "-m", "diffdepth.cli", "batch", str(root), "--out", str(out)]
    return subprocess.Popen(
        [*cmd, "--workers", "2", *FLAGS],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _end_group(proc):
    """Stop what the batch started (Ray's processes share its process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _whole(out, name):
    return (out / name).is_dir() and verify_manifest(out / name) == []


def test_ray_batch_survives_a_broken_scene_and_a_kill(tmp_path, write_tiny_hci, break_scene):
    root = tmp_path / "scenes"
    write_tiny_hci(root / "a", seed=0)
    break_scene(write_tiny_hci(root / "b", seed=1)[0])
    write_tiny_hci(root / "c", height=160, width=224, grid=(7, 7), seed=2)
    out = tmp_path / "out"

    proc = _start(root, out)
    try:
        deadline = time.monotonic() + 600
        while not (out / "a" / "manifest.json").exists():
            if proc.poll() is not None:
                pytest.fail(f"the batch ended before a was done:\n{proc.stdout.read()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("a was not done within 10 minutes")
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)  # the batch process itself, mid-way
        proc.wait()
    finally:
        _end_group(proc)
    assert _whole(out, "a")
    assert not (out / "c").exists(), "c finished before the kill: the test did not interrupt it"
    stamp = (out / "a" / "manifest.json").stat().st_mtime_ns

    rerun = _start(root, out)
    try:
        log, _ = rerun.communicate(timeout=600)
    finally:
        _end_group(rerun)
    assert rerun.returncode == 1, log[-3000:]  # b failed, the others are whole
    assert "3 task(s): 1 already done, 2 to run" in log
    assert "3 task(s): 1 done, 1 skipped, 1 failed" in log
    assert _whole(out, "a") and _whole(out, "c") and not (out / "b").exists()
    assert (out / "a" / "manifest.json").stat().st_mtime_ns == stamp  # skipped, not redone
    assert list((out / ".batch" / "staging").iterdir()) == []
    with open(out / "summary.csv", newline="") as f:
        rows = {r["task"]: r for r in csv.DictReader(f)}
    assert {n: r["status"] for n, r in rows.items()} == {
        "a": "skipped",
        "b": "failed",
        "c": "done",
    }
    assert "input_Cam004.png" in rows["b"]["error"]
    assert rows["c"]["threads"] == str(threads_per_worker(2))  # workers x threads <= cores
    assert (out / "index.html").is_file()
