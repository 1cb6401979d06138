"""A hostile machine: too little memory, files that cannot be read or written, an unexpected
failure, an interrupt or a termination: one line each, the right exit status, and --out as it
was (or whole)."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

import diffdepth.io.memory
from diffdepth.cli import main
from diffdepth.io.manifest import verify_manifest

GIB = 1 << 30


def _tight(monkeypatch, nbytes):
    budget = (nbytes, "available memory")
    monkeypatch.setattr(diffdepth.io.memory, "available_memory", lambda: budget)


# ---- memory --------------------------------------------------------------------------------------


def test_large_views_are_refused_before_decoding_with_the_estimate(
    tmp_path, hostile, capsys, monkeypatch
):
    """3 x 3 views of 4000 x 4000 on a machine with 8 GiB free: refused from the headers, in
    a moment, saying how much is needed and how to need less."""
    _tight(monkeypatch, 8 * GIB)
    folder = tmp_path / "big"
    folder.mkdir()
    for k in range(9):
        Image.new("RGB", (4000, 4000), (10 * k, 0, 0)).save(folder / f"input_Cam{k:03d}.png")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    says = ("4000 x 4000", "needs about", "GiB", "8.0 GiB is free", "smaller images")
    hostile.check(
        hostile.Case(["run", str(folder), "--out", str(out)], out, says=says), tmp_path, capsys
    )
    assert time.perf_counter() - t0 < 30  # headers only (decoding would take minutes)


@pytest.fixture(scope="module")
def million_points(tmp_path_factory):
    """A points file of 1,000,000 points on the corpus's 56 x 40 views."""
    rng = np.random.default_rng(0)
    xy = rng.uniform([0, 0], [55, 39], (1_000_000, 2))
    pts = tmp_path_factory.mktemp("million") / "million.csv"
    with open(pts, "w") as f:
        f.write("x,y,disparity\n")
        np.savetxt(f, np.column_stack([xy, rng.uniform(-1, 1, len(xy))]), fmt="%.2f", delimiter=",")
    return pts


def test_many_points_under_a_memory_limit(corpus, hostile, capsys, monkeypatch):
    """200,000 points on 2,240 pixels with 1 GiB free: the occlusion cuts' pairs alone would
    not fit; refused before the computation, the earlier result kept."""
    _tight(monkeypatch, GIB)
    rng = np.random.default_rng(0)
    xy = rng.uniform([0, 0], [55, 39], (200_000, 2))
    pts = corpus.root / "many.csv"
    with open(pts, "w") as f:
        f.write("x,y,disparity\n")
        np.savetxt(f, np.column_stack([xy, rng.uniform(-1, 1, len(xy))]), fmt="%.2f", delimiter=",")
    out = corpus.old_result()
    argv = hostile.run_args(corpus.hci(), out, points=pts)
    says = ("about 200248 points", "needs about", "1.0 GiB is free", "fewer points")
    hostile.check(hostile.Case(argv, out, state="old", says=says), corpus.root, capsys)


def test_available_memory_honours_a_process_limit():
    """ulimit -v (RLIMIT_AS) in a child: the limit, less what the process uses, is reported."""
    code = (
        "import resource, diffdepth.io.memory as m\n"
        "used = m._proc_status('VmSize')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + (1 << 30), resource.RLIM_INFINITY))\n"
        "n, source = m.available_memory()\n"
        "print(n, source)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    if res.returncode != 0 and "resource" in res.stderr:
        pytest.skip("no RLIMIT_AS here")
    n, source = res.stdout.split(maxsplit=1)
    assert 0 < int(n) <= (1 << 30) and "ulimit -v" in source


def test_a_real_memory_limit_refuses_a_million_points(corpus, tmp_path, million_points):
    """A million points, with optimisation, under a real ulimit -v of 3 GiB more than the
    process holds: the estimate refuses them, nothing fails in the allocator."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux process limits")
    pts = million_points
    scene, out = corpus.hci(), tmp_path / "out"
    code = (
        "import resource, sys, diffdepth.io.memory as m\n"
        "used = m._proc_status('VmSize')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + (3 << 30), resource.RLIM_INFINITY))\n"
        "from diffdepth.cli import main\n"
        f"args = ['run', {str(scene)!r}, '--points', {str(pts)!r}, '--out', {str(out)!r}]\n"
        "sys.exit(main(args))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 2, res.stderr[-3000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "ulimit -v" in lines[0] and "needs about" in lines[0], lines
    assert not out.exists()


# ---- unexpected errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("error", [RuntimeError("kernel exploded\nsecond line"), MemoryError()])
def test_an_unexpected_error_is_one_line_and_a_log(corpus, capsys, monkeypatch, error):
    import diffdepth.pipeline

    logs = corpus.root / "tmp"
    logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(logs))

    def boom(*a, **k):
        raise error

    monkeypatch.setattr(diffdepth.pipeline, "run_lightfield", boom)
    out = corpus.old_result()
    before = (out / "manifest.json").read_bytes()
    argv = ["run", str(corpus.hci()), "--out", str(out), "--points", str(corpus.points()), "-q"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    if isinstance(error, MemoryError):
        assert "out of memory" in lines[0]
    else:
        assert "unexpected error: RuntimeError: kernel exploded" in lines[0]
    assert "no result was written" in lines[0]
    (log,) = logs.glob("diffdepth-error-*.log")
    assert str(log) in lines[0]
    text = log.read_text()
    assert "Traceback" in text and "boom" in text and "command: diffdepth run" in text
    assert (out / "manifest.json").read_bytes() == before and verify_manifest(out) == []


# ---- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signalled,code,word", [("int", 130, "interrupted"), ("term", 143, "terminated")]
)
def test_a_signal_inside_a_compiled_kernel_is_still_an_interrupt(
    corpus, capsys, monkeypatch, signalled, code, word
):
    """A signal that lands while a kernel's dispatcher is in C code surfaces as a SystemError
    whose cause is the interrupt: it is reported as the interrupt, not as a crash with a log."""
    import diffdepth.pipeline
    from diffdepth.cli import _Terminated

    logs = corpus.root / "tmp"
    logs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(logs))

    def kernel(*a, **k):
        try:
            raise KeyboardInterrupt if signalled == "int" else _Terminated()
        except BaseException as e:
            raise SystemError("CPUDispatcher(...) returned a result with an exception set") from e

    monkeypatch.setattr(diffdepth.pipeline, "run_lightfield", kernel)
    out = corpus.old_result()
    before = (out / "manifest.json").read_bytes()
    argv = ["run", str(corpus.hci()), "--out", str(out), "--points", str(corpus.points()), "-q"]
    assert main(argv) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"diffdepth: {word}; no result was written")
    assert not list(logs.glob("diffdepth-error-*.log"))
    assert (out / "manifest.json").read_bytes() == before


@pytest.mark.parametrize(
    "sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_interrupt_during_the_computation(corpus, sig, code, word):
    """The signal arrives while the optimisation runs: the earlier result stays, and the last
    line says so truly."""
    out = corpus.old_result()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    log = corpus.root / "stderr.txt"
    argv = ["run", corpus.hci(), "--points", corpus.points(), "--out", out, "--passes", "1000"]
    with open(log, "w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "diffdepth", *map(str, argv)],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            # a shell starts background jobs with SIGINT ignored, and children inherit that
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        t0 = time.time()
        while "pass 1/1000" not in log.read_text(errors="replace"):  # the progress bar
            if proc.poll() is not None or time.time() - t0 > 300:
                proc.kill()
                pytest.fail(f"the run ended or stalled: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        proc.send_signal(sig)
        proc.wait(timeout=120)
    err = log.read_text(errors="replace")
    assert proc.returncode == code, err[-3000:]
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert last.startswith(f"diffdepth: {word}; no result was written"), last
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(corpus.root.glob(".out*diffdepth-*"))


# ---- files that cannot be read or written (as a user without root's override) ------------------

_CHILD = """
import contextlib, io, json, sys
from diffdepth.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    results.append({"code": code, "err": err.getvalue()})
print(json.dumps(results))
"""


def _drop_root_override():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_files_without_permission(corpus, tmp_path):
    if os.name != "posix" or not sys.platform.startswith("linux"):
        pytest.skip("Linux permissions")
    preexec = _drop_root_override if os.getuid() == 0 else None
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o000)
    res = subprocess.run(["ls", str(probe)], preexec_fn=preexec, capture_output=True)
    probe.chmod(0o700)
    if res.returncode == 0:
        pytest.skip("this user reads folders without permission here")

    pts = corpus.points()
    locked_scene = corpus.hci("locked_scene")
    locked_scene.chmod(0o000)
    locked_view = corpus.hci("locked_view")
    (locked_view / "input_Cam004.png").chmod(0o000)
    locked_points = corpus.points(name="locked.csv")
    locked_points.chmod(0o000)
    ro_parent = tmp_path / "ro"
    ro_parent.mkdir()
    ro_parent.chmod(0o555)
    scene = corpus.hci()
    cases = [
        (
            ["run", str(locked_scene), "--out", str(tmp_path / "o1"), "--points", str(pts)],
            "locked_scene",
        ),
        (
            ["run", str(locked_view), "--out", str(tmp_path / "o2"), "--points", str(pts)],
            "input_Cam004",
        ),
        (
            ["run", str(scene), "--out", str(tmp_path / "o3"), "--points", str(locked_points)],
            "locked.csv",
        ),
        (["run", str(scene), "--out", str(ro_parent / "out"), "--points", str(pts)], "ro"),
        (["points", str(locked_scene), "--out", str(tmp_path / "o5")], "locked_scene"),
        (["score", str(locked_points), str(pts)], "locked.csv"),
    ]
    try:
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps([c for c, _ in cases])],
            capture_output=True,
            text=True,
            preexec_fn=preexec,
            timeout=600,
        )
    finally:
        for p in (locked_scene, locked_view / "input_Cam004.png", locked_points, ro_parent):
            p.chmod(0o755)
    assert res.returncode == 0, res.stderr[-3000:]
    for (argv, word), got in zip(cases, json.loads(res.stdout)):
        lines = [ln for ln in got["err"].splitlines() if ln.strip()]
        assert got["code"] == 2, (argv, got)
        assert len(lines) == 1 and word in lines[0] and "Traceback" not in got["err"], (argv, got)
    for k in (1, 2, 3, 5):
        assert not (tmp_path / f"o{k}").exists()
    assert not list(ro_parent.iterdir())
