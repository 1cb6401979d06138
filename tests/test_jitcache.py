"""numba's kernel cache goes where the user can write, or nowhere, and never stops a run; the
first compile in a process says so."""

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import diffdepth
from diffdepth import jitcache

SRC = Path(diffdepth.__file__).resolve().parent


def _no(*_):
    return False


def test_the_chain_takes_the_first_writable_place(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(jitcache, "_temp_folder", lambda: tmp_path / "tmp")
    assert jitcache.choose_cache(SRC)[0] == "package"  # this checkout is writable
    monkeypatch.setattr(jitcache, "_package_writable", _no)
    assert jitcache.choose_cache(SRC) == ("user", tmp_path / "xdg" / "diffdepth" / "numba")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert jitcache.choose_cache(SRC) == ("temp", tmp_path / "tmp")
    monkeypatch.setattr(jitcache, "_temp_folder", lambda: None)
    assert jitcache.choose_cache(SRC) == ("none", None)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert jitcache.choose_cache(SRC) == ("NUMBA_CACHE_DIR", tmp_path / "mine")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "x"))  # not writable: ignored
    assert jitcache.choose_cache(SRC) == ("none", None)


def test_a_temp_cache_folder_others_may_write_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    uid = os.getuid()
    folder = tmp_path / f"diffdepth-numba-{uid}"
    assert jitcache._temp_folder() == folder
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    folder.chmod(0o777)  # planted by someone else, or opened up: its code would be run
    assert jitcache._temp_folder() is None


# ---- a read-only installation and HOME, as a user without write access ---------------------

_SCRIPT = """
import sys
sys.argv[0] = "diffdepth"
import diffdepth
assert diffdepth.__file__.startswith({pkg!r}), diffdepth.__file__
from diffdepth.cli import main
sys.exit(main(sys.argv[1:]))
"""


_CAPS = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER


def _drop_root_override():
    """In the child, before exec: root without these capabilities obeys permission bits."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _CAPS:
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _read_only(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)


@pytest.fixture(scope="module")
def readonly_user():
    """run(args, **env) runs the command line from a read-only copy of the package with a
    read-only HOME, as a user who cannot write there (root gives up the capabilities that let
    it ignore permission bits); also the folders: base (readable), writable and its tmp."""
    if os.name != "posix" or not sys.platform.startswith("linux"):
        pytest.skip("Linux permissions")
    base = Path(tempfile.mkdtemp(prefix="diffdepth-ro-"))
    try:
        shutil.copytree(
            SRC, base / "pkg" / "diffdepth", ignore=shutil.ignore_patterns("__pycache__")
        )
        (base / "home").mkdir()
        writable = base / "writable"
        tmp = writable / "tmp"
        tmp.mkdir(parents=True)
        _read_only(base / "pkg")
        _read_only(base / "home")
        preexec = _drop_root_override if os.getuid() == 0 else None
        probe = subprocess.run(
            ["sh", "-c", f"touch '{base / 'home' / 'x'}'"],
            preexec_fn=preexec,
            capture_output=True,
        )
        if probe.returncode == 0:
            pytest.skip("this user can write into read-only folders here")
        script = _SCRIPT.format(pkg=str(base / "pkg"))

        def run(args, cwd=None, **extra):
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("NUMBA_", "XDG_", "DIFFDEPTH_"))
            }
            env.update(HOME=str(base / "home"), PYTHONPATH=str(base / "pkg"), TMPDIR=str(tmp))
            env.update(extra)
            return subprocess.run(
                [sys.executable, "-c", script, *map(str, args)],
                env=env,
                cwd=str(cwd or writable),
                capture_output=True,
                text=True,
                preexec_fn=preexec,
                timeout=600,
            )

        yield run, base, writable, tmp
    finally:
        for p in [base, *base.rglob("*")]:
            if not p.is_symlink():
                p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o700)
        shutil.rmtree(base, ignore_errors=True)


def test_read_only_package_and_home_fall_back_to_the_temp_folder(
    readonly_user, write_tiny_hci, points_csv
):
    run, base, writable, tmp = readonly_user
    res = run(["--help"])
    assert res.returncode == 0 and "batch" in res.stdout, res.stderr[-3000:]
    assert "cannot cache" not in res.stderr

    scene, lf = write_tiny_hci(base / "scene1")
    pts = points_csv(base / "points1.csv", lf)
    args = ["run", scene, "--points", pts, "--no-optimize"]
    first = run([*args, "--out", writable / "o1"])
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stderr.count("compiling kernels, once") == 1
    cache = tmp / f"diffdepth-numba-{os.getuid()}"
    assert list(cache.rglob("*.nbi")), "no kernel was cached in the temp folder"
    assert not list((base / "pkg").rglob("*.nbi")) and not list((base / "home").rglob("*"))
    second = run([*args, "--out", writable / "o2"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert "compiling kernels" not in second.stderr  # loaded from the cache
    assert (writable / "o2" / "disparity.pfm").is_file()


def test_nowhere_to_cache_compiles_every_run_and_says_so(readonly_user, write_tiny_hci, points_csv):
    run, base, writable, _ = readonly_user
    # numba may use only the package's own folders, which are read-only: no cache at all
    env = {"NUMBA_CACHE_LOCATOR_CLASSES": "InTreeCacheLocator"}
    res = run(["--help"], **env)
    assert res.returncode == 0 and "cannot cache" not in res.stderr, res.stderr[-3000:]
    scene, lf = write_tiny_hci(base / "scene2")
    pts = points_csv(base / "points2.csv", lf)
    out = writable / "o3"
    res = run(["run", scene, "--points", pts, "--no-optimize", "--out", out], **env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "every run compiles them" in res.stderr
    assert (out / "disparity.pfm").is_file()


def test_a_run_writes_nothing_outside_its_output_and_the_temp_folder(
    readonly_user, write_tiny_hci, points_csv
):
    """Package, HOME and the working folder read-only: every command works, matplotlib says
    nothing about its config folder, and the only things written are the results under --out
    and diffdepth's own private folders in the temp folder (no stray temporary folders)."""
    run, base, writable, tmp = readonly_user
    cwd = base / "cwd"
    cwd.mkdir()
    _read_only(cwd)
    scene, lf = write_tiny_hci(base / "scene3")
    pts = points_csv(base / "points3.csv", lf)
    before = sorted(p.name for p in writable.iterdir())
    commands = [
        ["run", scene, "--points", pts, "--no-optimize", "--out", writable / "r"],
        ["points", scene, "--out", writable / "p"],
        ["score", writable / "r" / "disparity.pfm", scene / "gt_disp_lowres.pfm"],
        ["run", scene, "--points", pts, "--passes", "1", "--iters", "1", "--out", writable / "r"],
    ]
    for args in commands:
        res = run(args, cwd=cwd)
        assert res.returncode == 0, res.stderr[-3000:]
        assert "matplotlib" not in res.stderr.lower(), res.stderr[-3000:]
    added = sorted(set(p.name for p in writable.iterdir()) - set(before))
    assert added == ["p", "r"]
    uid = os.getuid()
    # torch keeps a folder of its own there (torchinductor_<user>): the temp folder is allowed
    ours = sorted(p.name for p in tmp.iterdir() if not p.name.startswith("torchinductor_"))
    assert ours == [f"diffdepth-mpl-{uid}", f"diffdepth-numba-{uid}"]
    assert not [p for p in cwd.rglob("*")]
