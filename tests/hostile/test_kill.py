"""A run killed at any moment, the swap included, never leaves a mixed folder: --out is absent,
or the whole earlier result, or the whole new one (its manifest verifies), and the next run
clears what the killed one left. An interrupt while the result is written says so truly."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from diffdepth.io.manifest import read_manifest, verify_manifest

# The child writes results into OUT in a loop, each round different in every file (the map
# shifted by the round's number), so that files of two rounds cannot pass for one result. At
# PAUSE (a point of the writer) it touches READY and sleeps until killed.
_CHILD = r"""
import os, shutil, sys, time
from pathlib import Path
import numpy as np
import diffdepth.io.results as R
from diffdepth.io import read_lightfield, read_points_csv
from diffdepth.pipeline import RunConfig, run_lightfield, write_lightfield_outputs

scene, points, out, ready, pause, start, rounds = sys.argv[1:8]
out, ready, start, rounds = Path(out), Path(ready), int(start), int(rounds)

def stop_here():
    ready.touch()
    while True:
        time.sleep(1)

real_exchange, real_manifest, real_replace = R.exchange, R.write_manifest, os.replace
real_rmtree = shutil.rmtree
state = {"round": 0}

def exchange(a, b):
    if pause == "before_exchange":
        stop_here()
    if pause.startswith("fallback"):
        return False
    done = real_exchange(a, b)
    if pause == "after_exchange":
        stop_here()
    return done

def write_manifest(folder, extra=None):
    if pause == "before_manifest":
        stop_here()
    return real_manifest(folder, extra=extra)

def replace(src, dst):
    real_replace(src, dst)
    if pause == "fallback_between_renames" and Path(dst).name.startswith("." + out.name):
        stop_here()

def rmtree(path, *a, **k):
    if pause == "removing_old" and "diffdepth-" in str(path):
        stop_here()
    return real_rmtree(path, *a, **k)

R.exchange, R.write_manifest = exchange, write_manifest
R.os.replace, R.shutil.rmtree = replace, rmtree
lf = read_lightfield(scene)
result = run_lightfield(lf, read_points_csv(points), RunConfig(optimize=False), progress=False)
base = result.disparity.copy()
for k in range(start, start + rounds):
    if pause == "random" and k == start + 1:
        ready.touch()
    result.disparity = base + np.float32(k * 1e-3)
    write_lightfield_outputs(result, lf, out, extra={"round": k})
"""


def _child(scene, points, out, ready, pause, start, rounds):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(scene), str(points), str(out), str(ready), pause]
        + [str(start), str(rounds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait(proc, ready, timeout=300):
    t0 = time.time()
    while not ready.exists():
        if proc.poll() is not None or time.time() - t0 > timeout:
            proc.kill()
            pytest.fail(f"the child ended first: {proc.communicate()[1][-3000:]}")
        time.sleep(0.02)


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def _round(out):
    import json

    return json.loads((out / "config.json").read_text())["round"]


def _assert_whole_or_absent(out, allowed_rounds):
    if not out.exists():
        assert None in allowed_rounds, "the result vanished"
        return None
    problems = verify_manifest(out)
    assert problems == [], f"mixed or half-written folder: {problems}"
    k = _round(out)
    assert k in allowed_rounds
    return k


def _rerun_clears(corpus, out):
    """A normal run afterwards removes what the killed one left and writes a whole result."""
    from diffdepth.cli import main

    argv = ["run", str(corpus.base / "hci"), "--points", str(corpus.base / "points.csv")]
    assert main([*argv, "--no-optimize", "--out", str(out), "-q"]) == 0
    assert verify_manifest(out) == []
    left = [p.name for p in out.parent.iterdir() if "diffdepth-" in p.name]
    assert not left, left


def _write_round(scene, points, out, k):
    from diffdepth.io import read_lightfield, read_points_csv
    from diffdepth.pipeline import RunConfig, run_lightfield, write_lightfield_outputs

    lf = read_lightfield(scene)
    result = run_lightfield(lf, read_points_csv(points), RunConfig(optimize=False), progress=False)
    write_lightfield_outputs(result, lf, out, extra={"round": k})


# (pause point, rounds the folder may show after the kill; None = absent)
POINTS = [
    ("before_manifest", {0}),  # round 1 staged, not yet described: the old round stays
    ("before_exchange", {0}),
    ("after_exchange", {1}),  # the new result is in place, the old one not yet removed
    ("removing_old", {1}),
    ("fallback_between_renames", {None}),  # without an atomic exchange: absent, never mixed
]


@pytest.mark.parametrize("pause,allowed", POINTS, ids=[p for p, _ in POINTS])
def test_killed_at_each_point_of_the_swap(corpus, pause, allowed):
    out, ready = corpus.root / "out", corpus.root / "ready"
    scene, points = corpus.base / "hci", corpus.base / "points.csv"
    # round 0 whole (written here), then round 1 killed at the pause
    _write_round(scene, points, out, 0)
    assert _round(out) == 0 and verify_manifest(out) == []
    proc = _child(scene, points, out, ready, pause, 1, 1)
    _wait(proc, ready)
    _kill(proc)
    _assert_whole_or_absent(out, allowed)
    _rerun_clears(corpus, out)


def test_killed_at_random_moments(corpus):
    """SIGKILL at random moments of a loop of writes (staging, manifest, swap, removal): after
    each, the folder is the whole result of one round, never a mix of two."""
    out, scene, points = corpus.root / "out", corpus.base / "hci", corpus.base / "points.csv"
    rng = random.Random(11)
    for trial in range(5):
        ready = corpus.root / f"ready{trial}"
        start = 1000 * trial
        proc = _child(scene, points, out, ready, "random", start, 1000)
        _wait(proc, ready)  # round `start` is whole: the kill falls into a later one
        time.sleep(rng.uniform(0.0, 2.5))
        _kill(proc)
        k = _assert_whole_or_absent(out, set(range(start, start + 1000)))
        assert read_manifest(out)["diffdepth_version"]
        assert k >= start
    _rerun_clears(corpus, out)


# ---- an interrupt while the result is written ------------------------------------------------

_CLI_CHILD = r"""
import sys, time
from pathlib import Path
import diffdepth.io.results as R
ready, pause = Path(sys.argv[1]), sys.argv[2]
import diffdepth.cli as cli
real_manifest, real_log_metrics = R.write_manifest, cli._log_metrics

def write_manifest(folder, extra=None):
    if pause == "staging":
        ready.touch()
        time.sleep(600)
    return real_manifest(folder, extra=extra)

def log_metrics(*a, **k):  # the result is in place: the command is about to report it
    if pause == "swapped":
        ready.touch()
        time.sleep(600)
    return real_log_metrics(*a, **k)

R.write_manifest, cli._log_metrics = write_manifest, log_metrics
sys.exit(cli.main(sys.argv[3:]))
"""


@pytest.mark.parametrize(
    "pause,says",
    [
        ("staging", "the result being written was dropped"),
        ("swapped", "1 result(s) finished before it are whole"),
    ],
)
def test_interrupt_while_writing_says_what_is_there(corpus, pause, says):
    out = corpus.old_result()
    before = verify_manifest(out)
    ready = corpus.root / "ready"
    argv = ["run", str(corpus.base / "hci"), "--points", str(corpus.base / "points.csv")]
    argv += ["--no-optimize", "--out", str(out), "-q"]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI_CHILD, str(ready), pause, *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # a shell starts background jobs with SIGINT ignored, and children inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    _wait(proc, ready)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("diffdepth: interrupted; ") and says in lines[0], lines[0]
    assert before == [] and verify_manifest(out) == []
    if pause == "staging":
        assert f"{out} is as it was" in lines[0]
    assert not [p for p in corpus.root.iterdir() if "diffdepth-" in p.name]
