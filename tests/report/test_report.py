"""report.html, summary.png and index.html: made from the files of real result folders, opened
in a real headless Chromium (every picture loads, no console error, no sideways scrolling on a
phone)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from diffdepth.cli import main
from diffdepth.report import read_result_folder, write_index, write_report
from diffdepth.report.html import fmt_value
from diffdepth.synth import make_multiview

FAST = ["--passes", "1", "--iters", "2", "--quiet"]


@pytest.fixture(scope="module")
def lightfield_result(tmp_path_factory, write_tiny_hci):
    """A light-field run with ground truth (the 3x3 synthetic scene of the CLI tests)."""
    root = tmp_path_factory.mktemp("lf")
    scene, _ = write_tiny_hci(root / "scene")
    assert main(["run", str(scene), "--out", str(root / "out"), *FAST]) == 0
    return root / "out"


@pytest.fixture(scope="module")
def multiview_all(tmp_path_factory):
    """``run --all`` on a tiny synthetic multi-view scene: one result folder per image."""
    from diffdepth.io.colmap import write_colmap_model

    root = tmp_path_factory.mktemp("mv")
    scene, _ = make_multiview(n_views=3, height=48, width=64, seed=0)
    (root / "s" / "images").mkdir(parents=True)
    for name, img in zip(scene.names, scene.images):
        Image.fromarray((img * 255).round().astype(np.uint8)).save(root / "s" / "images" / name)
    write_colmap_model(root / "s" / "sparse", scene, binary=True)
    assert main(["run", str(root / "s"), "--all", "--out", str(root / "out"), *FAST]) == 0
    return root / "out", [Path(n).stem for n in scene.names]


def _images(html: str) -> list[str]:
    return [unescape(s) for s in re.findall(r'<img[^>]* src="([^"]*)"', html)]


def _check_page_sources(page: Path) -> None:
    """Every picture is embedded and decodes, or is a file beside the page; nothing is fetched
    from the network and there is no script."""
    html = page.read_text()
    assert "<script" not in html.lower()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    srcs = _images(html)
    assert srcs
    for src in srcs:
        if src.startswith("data:"):
            data = base64.b64decode(src.split(",", 1)[1])
            Image.open(io.BytesIO(data)).verify()
        else:
            assert (page.parent / src).is_file(), src
    for href in re.findall(r'<a href="([^"]*)"', html):
        assert (page.parent / unescape(href)).is_file(), href


def test_lightfield_report_shows_the_maps_on_one_scale_and_the_metrics(lightfield_result):
    page = lightfield_result / "report.html"
    _check_page_sources(page)
    html = page.read_text()
    for caption in (
        "reference view",
        "initial points",
        "plain diffusion",
        "result",
        "ground truth",
        "signed error",
        "BadPix",
        "loss",
    ):
        assert caption in html, caption
    # one colour bar for the five maps, one for both signed errors, one for the confidence
    assert html.count('class="cbar"') == 3
    assert "confidence" in html
    assert html.count(">disparity (px per view step)</div>") == 1
    # the metrics table holds metrics.json's figures, the plain diffusion's beside them
    metrics = json.loads((lightfield_result / "metrics.json").read_text())
    for key in ("badpix_0.07", "mse_x100", "reprojection_error_lab"):
        assert f'<td class="num">{fmt_value(metrics[key])}</td>' in html
        assert f'<td class="num">{fmt_value(metrics["plain_" + key])}</td>' in html
    config = json.loads((lightfield_result / "config.json").read_text())
    for package in ("diffdepth", "torch", "numpy", "python"):
        assert package in config["versions"]
        assert f">{config['versions'][package]}</td>" in html
    with Image.open(lightfield_result / "summary.png") as img:
        assert img.size[0] > 800 and img.size[1] > 400


def test_every_map_png_has_its_scale_beside_it(lightfield_result):
    """The map pictures hold the map pixels unchanged (small maps enlarged by a whole factor)
    and a scale strip to their right."""
    h, w = np.load(lightfield_result / "disparity.npy").shape
    k = -(-240 // h)  # viz.MIN_MAP_HEIGHT
    for name in ("disparity", "disparity_plain", "gt", "error_signed", "badpix_0.07"):
        with Image.open(lightfield_result / f"{name}.png") as img:
            assert img.size[1] == k * h and img.size[0] > k * w + 60, name


def test_new_outputs_slot_into_the_report(multiview_all, tmp_path):
    """A confidence map and a mask in a result folder get their panels and scale."""
    out, names = multiview_all
    folder = tmp_path / "r"
    shutil.copytree(out / names[0], folder)
    depth = np.load(folder / "depth.npy")
    # a multi-view run writes both; without them the report has neither panel
    written = folder.joinpath("report.html").read_text()
    assert ">confidence<" in written and "mask (dark" in written
    for name in ("confidence.npy", "confidence.png", "mask.npy", "mask.png"):
        (folder / name).unlink()
    write_report(folder)
    before = folder.joinpath("report.html").read_text()
    assert ">confidence<" not in before and "mask (dark" not in before
    np.save(folder / "confidence.npy", np.linspace(0, 1, depth.size).reshape(depth.shape))
    mask = np.zeros(depth.shape, bool)
    mask[:, : depth.shape[1] // 2] = True
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "mask.png")
    write_report(folder)
    res = read_result_folder(folder)
    assert res.kind == "multiview" and np.array_equal(res.mask, mask)
    html = (folder / "report.html").read_text()
    assert ">confidence<" in html and "mask (dark: left out)" in html
    assert ">confidence (0 to 1)</div>" in html
    assert html.count(">depth (scene units)</div>") == 1
    _check_page_sources(folder / "report.html")


def test_index_lists_results_and_failures(multiview_all, tmp_path):
    out, names = multiview_all
    index = (out / "index.html").read_text()
    for n in names:
        assert f'href="{n}/report.html"' in index
    _check_page_sources(out / "index.html")
    copy = tmp_path / "all"
    shutil.copytree(out, copy)
    path = write_index(copy, failures={"broken.png": "no sparse point <lies> in it"})
    html = path.read_text()
    assert "failed: no sparse point &lt;lies&gt; in it" in html
    assert f"{len(names)} results, 1 failed" in html


PAGES = ["lightfield", "multiview", "index"]


def _page(name, lightfield_result, multiview_all) -> Path:
    out, names = multiview_all
    return {
        "lightfield": lightfield_result / "report.html",
        "multiview": out / names[0] / "report.html",
        "index": out / "index.html",
    }[name]


@pytest.mark.parametrize("width", [1280, 390], ids=["desktop", "phone"])
@pytest.mark.parametrize("name", PAGES)
def test_page_opens_in_chromium(name, width, chromium, artifacts, lightfield_result, multiview_all):
    page = _page(name, lightfield_result, multiview_all)
    shot = artifacts / f"report-{name}-{width}.png"
    report = chromium.open(page, width=width, height=900, screenshot=shot)
    assert report.errors == []
    assert len(report.images) == len(_images(page.read_text())) > 0
    for img in report.images:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img
    assert report.scroll_width <= report.inner_width  # no sideways scrolling
    assert report.title.startswith("diffdepth")
    with Image.open(shot) as img:
        assert img.size[0] == width


def test_chromium_check_sees_a_broken_picture(chromium, tmp_path):
    """The browser check can fail: a missing picture is reported as not loaded, with an error."""
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><title>t</title><img src="missing.png" alt="x">')
    report = chromium.open(page)
    assert report.images[0]["width"] == 0
    assert any("missing.png" in e or "ERR_FILE_NOT_FOUND" in e for e in report.errors)


def test_multiview_errors_use_the_fitted_scale(multiview_all, tmp_path):
    """Depth is known up to scale: the signed error compares the map times the scale the
    metrics fitted."""
    import matplotlib

    from diffdepth import viz
    from diffdepth.io import write_pfm
    from diffdepth.report.panels import panel_groups

    out, names = multiview_all
    folder = tmp_path / "r"
    shutil.copytree(out / names[0], folder)
    depth = np.load(folder / "depth.npy")
    write_pfm(folder / "gt.pfm", 2.0 * depth)
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["scale_fitted"] = {"scale": 2.0}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    groups = {g.title.split(" ")[0]: g for g in panel_groups(read_result_folder(folder))}
    result = next(p for p in groups["signed"].panels if p.title == "result")
    mid = np.round(np.array(matplotlib.colormaps[viz.ERROR_CMAP](0.5)[:3]) * 255)
    assert np.abs(result.rgb.reshape(-1, 3) - mid).max() <= 1
    write_report(folder)
    assert "signed error" in (folder / "report.html").read_text()
