"""The hostile-input corpus, built on the fly (small and fast), and the checks every case makes.

Each case runs the command line in this process and asserts three things: the exit status,
a message of one line without a traceback (for errors), and the state of ``--out`` afterwards
(absent, the earlier result unchanged, or a new result that verifies against its manifest),
with nothing written anywhere else and no staging folder left behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffdepth.cli import main
from diffdepth.io import write_pfm
from diffdepth.io.manifest import verify_manifest

H, W = 40, 56  # the corpus's light-field views (a 3 x 3 grid)


# ---- the state of a folder tree ---------------------------------------------------------------


def tree(folder: Path) -> dict[str, str]:
    """{relative path: SHA-256 (files) or 'dir'} of everything under folder."""
    out = {}
    if not _exists(folder):
        return out
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            out[(Path(root) / d).relative_to(folder).as_posix()] = "dir"
        for f in files:
            p = Path(root) / f
            rel = p.relative_to(folder).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system
        return False


def outside(snapshot: dict[str, str], out_rel: str) -> dict[str, str]:
    """The entries of a snapshot that are not --out or under it."""
    return {k: v for k, v in snapshot.items() if not (k == out_rel or k.startswith(out_rel + "/"))}


@dataclass
class Case:
    """One hostile input: argv, where --out is, and what must hold afterwards."""

    argv: list[str]
    out: Path | None = None
    code: int = 2
    says: tuple[str, ...] = ()  # substrings of the message (case-insensitive)
    state: str = "absent"  # 'absent' | 'old' | 'whole' | 'untouched' (a non-result kept) |
    # 'container' (a folder of results, --all)
    env: dict = field(default_factory=dict)


def check(case: Case, root: Path, capsys) -> tuple[str, str]:
    """Run a case in this process and assert everything; returns (stdout, stderr)."""
    before = tree(root)
    out_rel = case.out.relative_to(root).as_posix() if case.out else "\0"
    old = tree(case.out) if case.out is not None else {}
    code = main(case.argv)
    captured = capsys.readouterr()
    err = captured.err
    assert code == case.code, f"exit {code}, expected {case.code}: {err[-2000:]}"
    assert "Traceback" not in err and "Traceback" not in captured.out
    if case.code != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, f"expected one line, found {len(lines)}:\n{err}"
        assert lines[0].startswith("diffdepth: "), lines[0]
        for text in case.says:
            assert text.lower() in lines[0].lower(), f"{text!r} not in {lines[0]!r}"
    after = tree(root)
    assert outside(after, out_rel) == outside(before, out_rel), "wrote outside --out"
    if case.out is not None:
        state = case.state
        if state == "absent":
            assert not _exists(case.out), sorted(tree(case.out))
        elif state in ("old", "untouched"):
            assert tree(case.out) == old, "--out changed"
        elif state == "whole":
            assert verify_manifest(case.out) == []
        elif state == "container":
            assert case.out.is_dir() and not (case.out / "manifest.json").exists()
        leftovers = [p.name for p in case.out.parent.glob(f".{case.out.name[:80]}*diffdepth-*")]
        assert not leftovers, leftovers
    return captured.out, err


# ---- scenes --------------------------------------------------------------------------------------


def save_rgb(path: Path, arr: np.ndarray) -> None:
    Image.fromarray((np.clip(arr, 0, 1) * 255).round().astype(np.uint8)).save(path)


@pytest.fixture(scope="session")
def base(tmp_path_factory):
    """The read-only originals every case copies from: a 3 x 3 HCI light field with ground
    truth and points, a multi-view scene as a Middlebury *_par.txt and as COLMAP text and
    binary models (with sparse points), and a whole earlier light-field result."""
    from diffdepth.io.colmap import write_colmap_model
    from diffdepth.synth import make_lightfield, make_multiview

    root = tmp_path_factory.mktemp("corpus")
    lf = make_lightfield(height=H, width=W, grid=(3, 3), seed=0, supersample=1)
    hci = root / "hci"
    hci.mkdir()
    for r in range(3):
        for c in range(3):
            save_rgb(hci / f"input_Cam{r * 3 + c:03d}.png", lf.views[r, c])
    write_pfm(hci / "gt_disp_lowres.pfm", lf.gt)
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, W - 1, 80), rng.uniform(0, H - 1, 80)
    d = lf.gt[np.round(y).astype(int), np.round(x).astype(int)]
    lines = ["x,y,disparity"] + [f"{a:.3f},{b:.3f},{c:.4f}" for a, b, c in zip(x, y, d)]
    (root / "points.csv").write_text("\n".join(lines) + "\n")

    scene, _ = make_multiview(n_views=3, height=36, width=48, seed=1, n_points=200)
    mv = root / "mv"
    mv.mkdir()
    par = [str(len(scene))]
    for name, img, K, R, t in zip(scene.names, scene.images, scene.K, scene.R, scene.t):
        save_rgb(mv / name, img)
        par.append(" ".join([name, *(f"{v:.10g}" for v in (*K.ravel(), *R.ravel(), *t))]))
    (mv / "mv_par.txt").write_text("\n".join(par) + "\n")
    ref = scene.default_ref()
    from diffdepth.points.colmap import reference_points

    pts = reference_points(scene, ref)
    rows = ["x,y,inverse_depth"] + [
        f"{a:.4f},{b:.4f},{v:.6g}" for (a, b), v in zip(pts.xy, pts.value)
    ]
    (root / "mv_points.csv").write_text("\n".join(rows) + "\n")
    (root / "mv_ref.txt").write_text(scene.names[ref])
    for kind, binary in (("colmap_txt", False), ("colmap_bin", True)):
        folder = root / kind
        (folder / "images").mkdir(parents=True)
        for name, img in zip(scene.names, scene.images):
            save_rgb(folder / "images" / name, img)
        write_colmap_model(folder / "sparse", scene, binary=binary)

    result = root / "result"
    code = main(
        ["run", str(hci), "--points", str(root / "points.csv"), "--no-optimize"]
        + ["--out", str(result), "--quiet"]
    )
    assert code == 0 and verify_manifest(result) == []
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)  # a case that writes into the originals fails
    yield root
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | 0o200)


@dataclass
class Corpus:
    """Writable copies of the originals inside one test's folder."""

    root: Path
    base: Path

    def copy(self, name: str, as_name: str | None = None) -> Path:
        dst = self.root / (as_name or name)
        src = self.base / name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy(src, dst)
        for p in [dst, *dst.rglob("*")] if dst.is_dir() else [dst]:
            p.chmod(p.stat().st_mode | 0o200)
        return dst

    def hci(self, name: str = "scene") -> Path:
        return self.copy("hci", name)

    def points(self, text: str | bytes | None = None, name: str = "p.csv") -> Path:
        if text is None:
            return self.copy("points.csv", name)
        path = self.root / name
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
        return path

    def old_result(self, name: str = "out") -> Path:
        return self.copy("result", name)


@pytest.fixture
def corpus(base, tmp_path) -> Corpus:
    return Corpus(tmp_path, base)


def run_args(scene: Path, out: Path, *extra: str, points: Path | None = None) -> list[str]:
    args = ["run", str(scene), "--out", str(out), "--quiet"]
    if points is not None:
        args += ["--points", str(points)]
    return args + list(extra)


@pytest.fixture
def hostile():
    """The helpers of the cases: Case, check(case, root, capsys), run_args, tree."""
    from types import SimpleNamespace

    return SimpleNamespace(Case=Case, check=check, run_args=run_args, tree=tree)


# ---- COLMAP binary records (to damage one field at a time) --------------------------------------


def cameras_bin(records: list[tuple[int, int, int, int, list[float]]]) -> bytes:
    out = struct.pack("<Q", len(records))
    for cid, model, w, h, params in records:
        out += struct.pack("<IiQQ", cid, model, w, h) + np.asarray(params, "<f8").tobytes()
    return out
