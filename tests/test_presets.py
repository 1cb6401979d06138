"""Presets (--preset) and the replay of a run from its config.json (--config)."""

import dataclasses
import json

import numpy as np
import pytest

from diffdepth.cli import build_parser, main
from diffdepth.config import (
    PRESETS,
    LightFieldConfig,
    MultiViewConfig,
    OptimConfig,
    describe_preset,
)
from diffdepth.io import read_pfm


def _run(capsys, *args):
    code = main([*map(str, args)])
    captured = capsys.readouterr()
    return code, captured.err


def _steps(optim: OptimConfig) -> int:
    return optim.first_q_iters + optim.passes * len(optim.phases) * optim.iters_per_phase


def test_paper_preset_is_the_papers_schedule():
    lf = LightFieldConfig.preset("paper").optim
    assert (lf.passes, lf.iters_per_phase, lf.first_q_iters) == (5, 13, 0)
    mv = MultiViewConfig.preset("paper").optim
    # 50 smoothness steps, the points at RGB edges, then 5 passes of 25 steps per phase
    assert (mv.passes, mv.iters_per_phase, mv.first_q_iters) == (5, 25, 50)
    assert mv.densify_after_first_q


@pytest.mark.parametrize("kind", [LightFieldConfig, MultiViewConfig])
def test_presets_change_only_what_they_name(kind):
    """A preset is its entry of PRESETS over the kind's config, nothing else; the default
    run is the "default" preset; fast < default < paper in optimisation steps."""
    base = kind()
    for name, entry in PRESETS.items():
        config = kind.preset(name)
        changes = entry[kind.mode]
        for f in dataclasses.fields(kind):
            if f.name not in changes:
                assert getattr(config, f.name) == getattr(base, f.name), (name, f.name)
        for key, value in changes.get("optim", {}).items():
            assert getattr(config.optim, key) == value
    assert kind.default() == kind.preset("default")
    steps = [_steps(kind.preset(n).optim) for n in ("fast", "default", "paper")]
    assert steps == sorted(set(steps)), steps
    with pytest.raises(ValueError, match="unknown preset 'slow'"):
        kind.preset("slow")


def test_help_lists_every_presets_schedule():
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    text = " ".join(run.format_help().split())
    for name in PRESETS:
        described = describe_preset(name)
        assert f"{name}: {described}" in text
        lf, mv = LightFieldConfig.preset(name).optim, MultiViewConfig.preset(name).optim
        assert f"light field {lf.passes}x4x{lf.iters_per_phase} steps" in described
        assert f"{mv.passes}x4x{mv.iters_per_phase} steps" in described


def test_preset_flag_and_explicit_flags_override_it(tiny_hci, points_csv, tmp_path, capsys):
    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf)
    out = tmp_path / "fast"
    code, err = _run(capsys, "run", folder, "--out", out, "--points", pts, "--preset", "fast")
    assert code == 0, err
    recorded = json.loads((out / "config.json").read_text())
    assert LightFieldConfig.from_dict(recorded["config"]) == LightFieldConfig.preset("fast")
    assert recorded["config_kind"] == "LightFieldConfig"
    out = tmp_path / "fast3"
    args = ["--preset", "fast", "--iters", "3", "--views", "all", "--seed", "5", "-q"]
    code, err = _run(capsys, "run", folder, "--out", out, "--points", pts, *args)
    assert code == 0, err
    config = LightFieldConfig.from_dict(json.loads((out / "config.json").read_text())["config"])
    fast = LightFieldConfig.preset("fast")
    assert config.optim == fast.optim.replace(iters_per_phase=3)
    assert config == fast.replace(optim=config.optim, views="all", seed=5)
    # one start only
    for pair in (["--preset", "fast", "--plain"], ["--preset", "paper", "--config", out]):
        code, err = _run(capsys, "run", folder, "--out", tmp_path / "x", *pair)
        assert code == 2 and "not allowed with argument" in err and len(err.splitlines()) == 1


def test_config_records_the_versions(tiny_hci, points_csv, tmp_path, capsys):
    from importlib import metadata

    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf)
    out = tmp_path / "o"
    code, err = _run(capsys, "run", folder, "--out", out, "--points", pts, "--plain", "-q")
    assert code == 0, err
    versions = json.loads((out / "config.json").read_text())["versions"]
    import numpy
    import torch

    import diffdepth

    assert versions["diffdepth"] == diffdepth.__version__
    assert versions["torch"] == torch.__version__ and versions["numpy"] == numpy.__version__
    try:
        assert versions["pycolmap"] == metadata.version("pycolmap")
    except metadata.PackageNotFoundError:
        assert "pycolmap" not in versions


def test_config_replays_a_run(tiny_hci, points_csv, tmp_path, capsys):
    """A run replayed from its config.json gives the same map (1e-6) with no other flag; a
    flag given beside --config overrides the replayed setting."""
    folder, lf = tiny_hci
    pts = points_csv(tmp_path / "p.csv", lf)
    first = tmp_path / "first"
    # settings away from every preset: the replay must take them from the file
    args = ["--passes", "1", "--iters", "3", "--views", "all", "--seed", "11", "--no-refine"]
    code, err = _run(capsys, "run", folder, "--out", first, "--points", pts, *args, "-q")
    assert code == 0, err
    again = tmp_path / "again"
    code, err = _run(
        capsys, "run", folder, "--out", again, "--points", pts, "--config", first / "config.json"
    )
    assert code == 0, err
    recorded = json.loads((first / "config.json").read_text())["config"]
    assert json.loads((again / "config.json").read_text())["config"] == recorded
    a, b = read_pfm(first / "disparity.pfm"), read_pfm(again / "disparity.pfm")
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    # the default run is another map: the replay did not fall back to it
    default = tmp_path / "default"
    code, err = _run(capsys, "run", folder, "--out", default, "--points", pts, "-q")
    assert code == 0, err
    assert np.abs(read_pfm(default / "disparity.pfm") - a).max() > 1e-4
    # a result folder names its config.json; a flag overrides the file
    over = tmp_path / "over"
    code, err = _run(
        capsys, "run", folder, "--out", over, "--points", pts, "--config", first, "--iters", "1"
    )
    assert code == 0, err
    config = json.loads((over / "config.json").read_text())["config"]
    assert config["optim"]["iters_per_phase"] == 1
    assert {k: v for k, v in config.items() if k != "optim"} == {
        k: v for k, v in recorded.items() if k != "optim"
    }


def _bad_config(tmp_path, text: str):
    path = tmp_path / "bad" / "config.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", 'an object with a "config" object'),
        ('{"config": {"optim": {"pases": 2}}}', "config.optim: unknown key 'pases'"),
        ('{"config": {"optim": {"passes": "two"}}}', "config.optim.passes: expected an integer"),
        ('{"config": {"optim": {"passes": -1}}}', "passes and iters_per_phase must be >= 0"),
        ('{"config": {"views": "some"}}', "config.views: expected one of"),
        ('{"config": {}, "config_kind": "MultiViewConfig"}', "config_kind 'MultiViewConfig'"),
    ],
)
def test_a_bad_config_file_is_one_line(tiny_hci, tmp_path, capsys, text, says):
    folder, _ = tiny_hci
    path = _bad_config(tmp_path, text)
    code, err = _run(capsys, "run", folder, "--out", tmp_path / "o", "--config", path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"--config {path}" in err and says in err, err
    assert not (tmp_path / "o").exists()


def test_a_missing_config_file_is_one_line(tiny_hci, tmp_path, capsys):
    folder, _ = tiny_hci
    missing = tmp_path / "nowhere" / "config.json"
    code, err = _run(capsys, "run", folder, "--out", tmp_path / "o", "--config", missing)
    assert code == 2 and f"--config {missing}: no such file" in err
    assert len(err.strip().splitlines()) == 1
