"""Hostile flags: every number out of range, non-finite or not a number, every usage error of
argparse itself: one line, exit status 2, nothing written."""

import pytest

# (command-line tail after the scene and --out, words the message must hold)
RUN_FLAGS = [
    (["--iters", "-1"], ("--iters", "from 0 to")),
    (["--iters", "1e3"], ("--iters",)),
    (["--iters", "99999999999999999999"], ("--iters",)),
    (["--passes", "-2"], ("--passes",)),
    (["--passes", "1.5"], ("--passes",)),
    (["--passes", ""], ("--passes",)),
    (["--seed", str(2**64)], ("--seed",)),
    (["--seed", "-1"], ("--seed",)),
    (["--seed", "x"], ("--seed",)),
    (["--gt-scale", "nan"], ("--gt-scale", "finite")),
    (["--gt-scale", "inf"], ("--gt-scale", "finite")),
    (["--gt-scale", "-inf"], ("--gt-scale",)),
    (["--gt-scale", "0"], ("--gt-scale", "non-zero")),
    (["--gt-scale", "1e999"], ("--gt-scale",)),
    (["--gt-scale", "one"], ("--gt-scale",)),
    (["--threads", "0"], ("--threads",)),
    (["--threads", "-3"], ("--threads",)),
    (["--threads", "100000"], ("--threads",)),
    (["--grid", "0x5"], ("--grid",)),
    (["--grid", "1x1x1"], ("--grid",)),
    (["--grid", "axb"], ("--grid",)),
    (["--grid", "5"], ("--grid",)),
    (["--grid", "1000x1000"], ("--grid",)),
    (["--grid", "-1x-5"], ("--grid",)),
    (["--views", "sideways"], ("--views", "invalid choice")),
    (["--distance", "l2"], ("--distance",)),
    (["--device", "tpu"], ("--device",)),
    (["--frobnicate"], ("unrecognized arguments",)),
    (["--quiet", "--verbose"], ("not allowed with",)),
    (["--iters"], ("expected one argument",)),
]


@pytest.mark.parametrize("tail,says", RUN_FLAGS, ids=[" ".join(t) for t, _ in RUN_FLAGS])
def test_run_flags(corpus, hostile, capsys, tail, says):
    scene, out = corpus.hci(), corpus.root / "out"
    argv = ["run", str(scene), "--out", str(out), *tail]
    hostile.check(hostile.Case(argv, out, says=("error",) + says), corpus.root, capsys)


OTHER = [
    (["demo", "--seed", "-1"], ("--seed",)),
    (["demo", "--passes", "-2"], ("--passes",)),
    (["demo", "--iters", "nan"], ("--iters",)),
    (["score", "a.pfm", "b.pfm", "--est-scale", "0"], ("--est-scale",)),
    (["score", "a.pfm", "b.pfm", "--est-scale", "nan"], ("--est-scale",)),
    (["score", "a.pfm", "b.pfm", "--gt-scale", "inf"], ("--gt-scale",)),
    (["score", "a.pfm", "b.pfm", "--border", "-1"], ("--border",)),
    (["score", "a.pfm", "b.pfm", "--border", "2.5"], ("--border",)),
    (["score", "a.pfm"], ("required", "gt")),
    (["batch", "x", "--out", "o", "--workers", "0"], ("--workers",)),
    (["batch", "x", "--out", "o", "--retries", "-1"], ("--retries",)),
    (["batch", "x", "--out", "o", "--retries", "1000"], ("--retries",)),
    (["points", "x", "--out", "o", "--grid", "0x0"], ("--grid",)),
    (["run", "x"], ("required", "--out")),
    (["run"], ("required",)),
    (["frobnicate"], ("invalid choice",)),
    (["--bogus"], ("unrecognized",)),
]


@pytest.mark.parametrize("argv,says", OTHER, ids=[" ".join(a) for a, _ in OTHER])
def test_other_commands_flags(tmp_path, hostile, capsys, monkeypatch, argv, says):
    monkeypatch.chdir(tmp_path)
    hostile.check(hostile.Case(argv, tmp_path / "o", says=says), tmp_path, capsys)


def test_no_command_prints_the_help_and_usage_status(tmp_path, capsys):
    from diffdepth.cli import main

    assert main([]) == 2
    assert capsys.readouterr().err.startswith("usage: diffdepth")


def test_help_and_version_still_work(capsys):
    from diffdepth.cli import main

    for argv in (["--help"], ["run", "--help"], ["--version"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    assert "Traceback" not in capsys.readouterr().err


def test_valid_edge_values_work(corpus, hostile, capsys):
    """The ends of every range are accepted (0 passes and iterations: the points diffused)."""
    scene, out = corpus.hci(), corpus.root / "out"
    extra = ["--passes", "0", "--iters", "0", "--seed", str(2**32 - 1), "--gt-scale", "-1"]
    argv = hostile.run_args(scene, out, *extra, points=corpus.points())
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)


def test_output_into_a_closed_pipe_is_quiet(tmp_path):
    """`diffdepth score EST GT | head -0`: the reader is gone before the metrics are printed;
    no traceback, no crash line."""
    import subprocess
    import sys

    import numpy as np

    from diffdepth.io import write_pfm

    write_pfm(tmp_path / "a.pfm", np.zeros((40, 40), np.float32))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "diffdepth",
            "score",
            str(tmp_path / "a.pfm"),
            str(tmp_path / "a.pfm"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader goes away before the metrics are written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "unexpected error" not in err, err
