"""run_batch in this process: whole results, a reported failure, resume, retries, the index."""

import csv
import json
from dataclasses import replace

import pytest

from diffdepth.batch import run_batch, runner, threads_per_worker, work
from diffdepth.cli import main
from diffdepth.config import LightFieldConfig
from diffdepth.io.errors import InputError
from diffdepth.io.manifest import read_manifest, verify_manifest
from diffdepth.optimize import OptimConfig

FAST = LightFieldConfig(optim=replace(OptimConfig.light_field(), passes=1, iters_per_phase=2))
FLAGS = ["--passes", "1", "--iters", "2", "--quiet"]


def _rows(out):
    with open(out / "summary.csv", newline="") as f:
        return {r["task"]: r for r in csv.DictReader(f)}


def _stamp(folder):
    return (folder / "manifest.json").stat().st_mtime_ns


def test_two_results_one_reported_failure_and_an_index(three_scenes, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["batch", str(three_scenes), "--out", str(out), *FLAGS])
    assert code == 1  # a task failed; the others finished
    printed = capsys.readouterr()
    assert "3 task(s): 2 done, 0 skipped, 1 failed" in printed.err  # a warning
    assert "b: FAILED" in printed.err
    for name in ("a", "c"):
        assert verify_manifest(out / name) == []
        assert (out / name / "disparity.pfm").is_file()
        assert read_manifest(out / name)["extra"]["task"] == name
    assert not (out / "b").exists()  # a failed task leaves no folder
    assert list((out / ".batch" / "staging").iterdir()) == []
    rows = _rows(out)
    assert [rows[n]["status"] for n in "abc"] == ["done", "failed", "done"]
    assert "input_Cam004.png" in rows["b"]["error"] and rows["b"]["attempts"] == "1"
    assert float(rows["a"]["time_s"]) > 0 and float(rows["a"]["mse_x100"]) >= 0
    page = (out / "index.html").read_text()
    assert "2 done, 1 failed" in page
    assert page.count('<div class="card">') == 2 and page.count('<div class="card failed">') == 1
    assert 'href="a/report.html"' in page and 'href="c/report.html"' in page
    assert "input_Cam004.png" in page  # the failure's message


def test_resume_skips_whole_results_and_redoes_damaged_ones(three_scenes, tmp_path):
    out = tmp_path / "out"
    first = run_batch([three_scenes], out, lightfield=FAST, progress=False, log=lambda s: None)
    assert [r.status for r in first.records] == ["done", "failed", "done"]
    stamps = {n: _stamp(out / n) for n in ("a", "c")}
    # a damaged result (a truncated map) does not count as done
    npy = out / "a" / "disparity.npy"
    npy.write_bytes(npy.read_bytes()[:50])
    said = []
    second = run_batch([three_scenes], out, lightfield=FAST, progress=False, log=said.append)
    status = {r.task.name: r.status for r in second.records}
    assert status == {"a": "done", "b": "failed", "c": "skipped"}
    assert any("a: earlier result is not whole" in s for s in said)
    assert _stamp(out / "c") == stamps["c"] and _stamp(out / "a") != stamps["a"]
    assert verify_manifest(out / "a") == []
    rows = _rows(out)
    assert rows["c"]["status"] == "skipped" and rows["c"]["mse_x100"]  # metrics kept


def test_other_settings_are_refused_unless_redo(three_scenes, tmp_path):
    out = tmp_path / "out"
    quiet = {"progress": False, "log": lambda s: None}
    run_batch([three_scenes / "a"], out, lightfield=FAST, **quiet)
    other = replace(FAST, seed=1)
    with pytest.raises(InputError, match="other settings.*--redo"):
        run_batch([three_scenes / "a"], out, lightfield=other, **quiet)
    again = run_batch([three_scenes / "a"], out, lightfield=other, redo=True, **quiet)
    assert again.records[0].status == "done"


def test_a_folder_that_is_not_a_result_is_not_replaced(three_scenes, tmp_path):
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "thesis.tex").write_text("precious")
    with pytest.raises(InputError, match="not a diffdepth result"):
        run_batch([three_scenes / "a"], out, lightfield=FAST, progress=False, log=lambda s: None)
    assert (out / "a" / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize("retries, status, attempts", [(1, "done", 2), (0, "failed", 1)])
def test_unexpected_failures_are_retried(
    three_scenes, tmp_path, monkeypatch, retries, status, attempts
):
    calls = []
    real = work._lightfield

    def flaky(task, settings, final, write):
        calls.append(task.name)
        if len(calls) == 1:
            raise RuntimeError("worker lost its scratch disk")
        return real(task, settings, final, write)

    monkeypatch.setattr(work, "_lightfield", flaky)
    out = tmp_path / "out"
    summary = run_batch(
        [three_scenes / "a"],
        out,
        lightfield=FAST,
        retries=retries,
        progress=False,
        log=lambda s: None,
    )
    rec = summary.records[0]
    assert (rec.status, rec.attempts) == (status, attempts)
    if status == "failed":
        assert rec.error == "RuntimeError: worker lost its scratch disk"
        log = (out / ".batch" / "logs" / "a.log").read_text()
        assert "Traceback" in log and "scratch disk" in log
        assert not (out / "a").exists()


def test_leftovers_of_a_killed_run_are_removed(three_scenes, tmp_path):
    out = tmp_path / "out"
    stale = out / ".batch" / "staging" / "0123"
    stale.mkdir(parents=True)
    (stale / "disparity.pfm").write_bytes(b"half")
    said = []
    run_batch([three_scenes / "a"], out, lightfield=FAST, progress=False, log=said.append)
    assert not stale.exists() and any("removed 1 unfinished" in s for s in said)


def test_more_workers_without_ray_is_a_one_line_error(three_scenes, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "ray_available", lambda: False)
    code = main(["batch", str(three_scenes), "--out", str(tmp_path / "o"), "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "pip install 'diffdepth[batch]'" in err and "--workers 1" in err
    assert not (tmp_path / "o").exists()


def test_bad_flags_are_one_line_errors(three_scenes, tmp_path, capsys):
    for flags in (["--workers", "0"], ["--threads", "-1"], ["--retries", "-1"]):
        with pytest.raises(SystemExit) as e:
            code = main(["batch", str(three_scenes), "--out", str(tmp_path / "o"), *flags])
            raise SystemExit(code)
        assert e.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].count("error") == 1


def test_threads_per_worker_never_oversubscribes():
    assert threads_per_worker(1, cores=8) == 8
    assert threads_per_worker(3, cores=8) == 2
    assert threads_per_worker(2, cores=2) == 1
    assert threads_per_worker(4, cores=2) == 1  # one each at least


def test_multiview_tasks_need_multiview_options(tmp_path, capsys, write_colmap_scene):
    from diffdepth.synth import make_multiview

    scene, _ = make_multiview(n_views=3, height=24, width=32, seed=0)
    folder = write_colmap_scene(tmp_path / "mv", scene)
    code = main(["batch", str(folder), "--out", str(tmp_path / "o"), "--distance", "vgg"])
    assert code == 2 and "light-field options" in capsys.readouterr().err
    code = main(
        [
            "batch",
            str(folder),
            "--out",
            str(tmp_path / "o"),
            "--passes",
            "1",
            "--iters",
            "1",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    for name in scene.names:
        result = tmp_path / "o" / "mv" / name.rsplit(".", 1)[0]
        assert verify_manifest(result) == [] and (result / "depth.pfm").is_file()
    rows = _rows(tmp_path / "o")
    assert all(float(r["reprojection_error_lab"]) > 0 for r in rows.values())
    assert json.loads((result / "config.json").read_text())["reference"] == scene.names[-1]
