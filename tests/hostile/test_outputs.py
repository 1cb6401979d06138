"""Result folders are whole or absent: reruns leave nothing stale, a --out that is not a result
is never touched, names made from image names never leave --out, a full disk or a killed run
leaves the earlier result as it was, and --all counts an image done only when it verifies."""

import errno
import fcntl
import json
import os
import shutil

import numpy as np
import pytest

from diffdepth.io.manifest import verify_manifest


def test_a_rerun_leaves_nothing_stale(corpus, hostile, capsys):
    """First with ground truth (gt.png, error maps, HCI metrics), then without: none of the
    ground-truth files or metrics survive beside the new map."""
    scene, out = corpus.hci(), corpus.root / "out"
    pts = corpus.points()
    hostile.check(
        hostile.Case(
            hostile.run_args(scene, out, "--no-optimize", points=pts), out, code=0, state="whole"
        ),
        corpus.root,
        capsys,
    )
    assert (out / "gt.png").exists() and "mse_x100" in json.loads(
        (out / "metrics.json").read_text()
    )
    (scene / "gt_disp_lowres.pfm").unlink()
    hostile.check(
        hostile.Case(
            hostile.run_args(scene, out, "--no-optimize", points=pts), out, code=0, state="whole"
        ),
        corpus.root,
        capsys,
    )
    names = {p.name for p in out.iterdir()}
    assert not names & {"gt.png", "gt.pfm", "error_signed.png", "badpix_0.07.png"}
    assert "mse_x100" not in json.loads((out / "metrics.json").read_text())


def test_a_result_with_strays_is_replaced_whole(corpus, hostile, capsys):
    """A folder named disparity.pfm (and any file) added to an earlier result go with it."""
    scene, out = corpus.hci(), corpus.old_result()
    (out / "disparity.pfm").unlink()
    (out / "disparity.pfm").mkdir()
    (out / "notes.txt").write_text("mine")
    argv = hostile.run_args(scene, out, "--no-optimize", points=corpus.points())
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)
    assert (out / "disparity.pfm").is_file() and not (out / "notes.txt").exists()


def _out_case(kind, root, scene):
    """(--out, expected state, words) of an --out that must be refused."""
    if kind == "a_file":
        (root / "out").write_text("my notes")
        return root / "out", "untouched", ("not a folder",)
    if kind == "inside_a_file":
        (root / "file").write_text("x")
        return root / "file" / "out", "absent", ("file",)
    if kind == "foreign_folder":
        (root / "out").mkdir()
        (root / "out" / "thesis.tex").write_text("years of work")
        return root / "out", "untouched", ("not a diffdepth result",)
    if kind == "folder_named_like_a_map":
        (root / "out" / "disparity.pfm").mkdir(parents=True)
        return root / "out", "untouched", ("not a diffdepth result",)
    if kind == "the_scene_itself":
        return scene, "untouched", ("not a diffdepth result",)
    if kind == "name_too_long":
        return root / ("x" * 300), "absent", ("too long",)
    if kind == "a_batch_folder":
        (root / "out" / ".batch").mkdir(parents=True)
        (root / "out" / "index.html").write_text("<html>")
        return root / "out", "untouched", ("not a diffdepth result",)
    raise AssertionError(kind)


OUTS = [
    "a_file",
    "inside_a_file",
    "foreign_folder",
    "folder_named_like_a_map",
    "the_scene_itself",
    "name_too_long",
    "a_batch_folder",
]


@pytest.mark.parametrize("kind", OUTS)
def test_refused_out(corpus, hostile, capsys, kind):
    scene = corpus.hci()
    out, state, says = _out_case(kind, corpus.root, scene)
    argv = hostile.run_args(scene, out, "--passes", "1000", points=corpus.points())
    hostile.check(hostile.Case(argv, out, state=state, says=says), corpus.root, capsys)


def test_empty_out_flag(corpus, hostile, capsys, monkeypatch):
    monkeypatch.chdir(corpus.root)
    scene = corpus.hci()
    argv = ["run", str(scene), "--out", "", "--points", str(corpus.points())]
    hostile.check(hostile.Case(argv, None, says=("--out",)), corpus.root, capsys)


def test_an_empty_existing_folder_is_taken(corpus, hostile, capsys):
    scene, out = corpus.hci(), corpus.root / "out"
    out.mkdir()
    argv = hostile.run_args(scene, out, "--no-optimize", points=corpus.points())
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)


def test_a_full_disk_keeps_the_earlier_result(corpus, hostile, capsys, monkeypatch):
    """Writing fails with ENOSPC half-way through the result: one line, the old result as it
    was, no staging folder left."""
    real = np.save

    def full(path, *a, **k):
        if str(path).endswith("disparity.npy"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(np, "save", full)
    scene, out = corpus.hci(), corpus.old_result()
    argv = hostile.run_args(scene, out, "--no-optimize", points=corpus.points())
    case = hostile.Case(argv, out, state="old", says=("no space left", "left as it was"))
    hostile.check(case, corpus.root, capsys)


def test_staging_folders_of_killed_runs_are_removed_and_live_ones_kept(corpus, hostile, capsys):
    scene, out = corpus.hci(), corpus.root / "out"
    dead = corpus.root / ".out.diffdepth-staging-dead1234"
    (dead / "sub").mkdir(parents=True)
    (dead / "disparity.pfm").write_bytes(b"half")
    live = corpus.root / ".out.diffdepth-staging-live5678"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a run still writing
    try:
        argv = hostile.run_args(scene, out, "--no-optimize", points=corpus.points())
        argv.remove("--quiet")
        before = hostile.tree(corpus.root)
        from diffdepth.cli import main

        assert main(argv) == 0
        said = capsys.readouterr().out
        assert "removed 1 unfinished result(s) left by an interrupted run" in said
        assert not dead.exists() and live.exists() and verify_manifest(out) == []
        after = hostile.tree(corpus.root)
        gone = {
            k for k in before if k not in after and not k.startswith(".out.diffdepth-staging-dead")
        }
        assert not gone
    finally:
        os.close(fd)


# ---- points and demo --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pts.png", "pts.csv", "pts.CSV"])
def test_points_out_names_a_folder_not_a_file(corpus, hostile, capsys, name):
    scene, out = corpus.hci(), corpus.root / name
    argv = ["points", str(scene), "--out", str(out)]
    hostile.check(hostile.Case(argv, out, says=("result folder",)), corpus.root, capsys)


def test_points_result_folder_is_whole_and_replaced_whole(corpus, hostile, capsys):
    scene, out = corpus.hci(), corpus.root / "pts"
    (corpus.root / "foreign").mkdir()
    (corpus.root / "foreign" / "a.txt").write_text("keep")
    argv = ["points", str(scene), "--out", str(corpus.root / "foreign"), "-q"]
    hostile.check(
        hostile.Case(argv, corpus.root / "foreign", state="untouched", says=("not a diffdepth",)),
        corpus.root,
        capsys,
    )
    argv = ["points", str(scene), "--out", str(out), "-q"]
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)
    assert {p.name for p in out.iterdir()} == {
        "points.csv",
        "points.png",
        "config.json",
        "manifest.json",
    }
    (out / "stale.txt").write_text("from before")
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), corpus.root, capsys)
    assert not (out / "stale.txt").exists()


def test_demo_out_refuses_a_foreign_folder_and_replaces_a_result(tmp_path, hostile, capsys):
    out = tmp_path / "demo_out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    argv = ["demo", "--out", str(out), "--no-optimize", "-q"]
    hostile.check(
        hostile.Case(argv, out, state="untouched", says=("not a diffdepth",)), tmp_path, capsys
    )
    shutil.rmtree(out)
    hostile.check(hostile.Case(argv, out, code=0, state="whole"), tmp_path, capsys)


# ---- every image of a multi-view scene (--all) -----------------------------------------------


NAMES = ["sub1/a.png", "sub2/a.png", "...png"]


@pytest.fixture
def awkward_scene(tmp_path):
    """A COLMAP scene whose image names share a stem, or have the stem '..'."""
    from dataclasses import replace

    from PIL import Image

    from diffdepth.io.colmap import write_colmap_model
    from diffdepth.synth import make_multiview

    scene, _ = make_multiview(n_views=3, height=36, width=48, seed=1, n_points=200)
    scene = replace(scene, names=list(NAMES))
    folder = tmp_path / "awkward"
    for name, img in zip(scene.names, scene.images):
        (folder / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        u8 = (img * 255).round().astype(np.uint8)
        Image.fromarray(u8).save(folder / "images" / name, format="PNG")
    write_colmap_model(folder / "sparse", scene, binary=False)
    return folder


def _all(scene, out, *extra):
    return ["run", str(scene), "--all", "--out", str(out), "--no-optimize", *extra]


def test_all_with_awkward_image_names(awkward_scene, tmp_path, hostile, capsys):
    out = tmp_path / "all"
    case = hostile.Case(_all(awkward_scene, out, "-q"), out, code=0, state="container")
    hostile.check(case, tmp_path, capsys)
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["image", "sub1_a", "sub2_a"]
    for f in folders:
        assert verify_manifest(out / f) == []
    assert (out / "index.html").exists()


def test_all_reruns_exactly_the_images_that_do_not_verify(awkward_scene, tmp_path, capsys):
    from diffdepth.cli import main

    out = tmp_path / "all"
    assert main(_all(awkward_scene, out)) == 0
    capsys.readouterr()
    assert main(_all(awkward_scene, out)) == 0
    said = capsys.readouterr().out
    assert said.count("already done, skipped") == 3
    # damage three results in the three ways a killed or broken run leaves them
    pfm = out / "sub1_a" / "depth.pfm"
    pfm.write_bytes(pfm.read_bytes()[:100])  # truncated
    (out / "sub2_a" / "depth.npy").write_bytes(b"garbage")  # replaced by garbage
    (out / "image" / "points.ply").unlink()  # a file missing (killed while moving)
    stamp = {
        f: (out / f / "manifest.json").stat().st_mtime_ns for f in ("sub1_a", "sub2_a", "image")
    }
    assert main(_all(awkward_scene, out)) == 0
    said = capsys.readouterr().out
    assert said.count("already done, skipped") == 0
    for f in stamp:
        assert verify_manifest(out / f) == []
        assert (out / f / "manifest.json").stat().st_mtime_ns != stamp[f]
    # other settings: the results are made again, not taken as done
    assert main(_all(awkward_scene, out, "--seed", "3")) == 0
    assert capsys.readouterr().out.count("already done, skipped") == 0


def test_all_and_single_results_do_not_mix(awkward_scene, corpus, tmp_path, hostile, capsys):
    single = corpus.old_result("single")
    hostile.check(
        hostile.Case(
            _all(awkward_scene, single), single, state="untouched", says=("single result",)
        ),
        corpus.root,
        capsys,
    )
    from diffdepth.cli import main

    container = corpus.root / "all"
    assert main(_all(awkward_scene, container, "-q")) == 0
    argv = hostile.run_args(corpus.hci(), container, points=corpus.points())
    hostile.check(
        hostile.Case(argv, container, state="untouched", says=("not a diffdepth result",)),
        corpus.root,
        capsys,
    )


def test_an_image_name_with_dot_dot_is_refused(awkward_scene, tmp_path, hostile, capsys):
    images = awkward_scene / "sparse" / "images.txt"
    images.write_text(images.read_text().replace("...png", "../x.png"))
    out = tmp_path / "all"
    hostile.check(hostile.Case(_all(awkward_scene, out), out, says=("outside",)), tmp_path, capsys)
