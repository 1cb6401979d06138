"""Multi-view benchmark: accuracy against ground truth on real photos, and the synthetic scene.

1. Tsukuba (Middlebury 2001, `../shared/data/middlebury/tsukuba`) as a calibrated set: its
   ``*_par.txt`` is written at run time into a temporary folder from the row geometry (one
   pinhole intrinsics for all, no rotation, camera k at x = k - 3, so depth = f / disparity;
   any f gives the same disparities), as a pair (columns 3 and 4) and as all 5 columns, the
   reference being column 3. Scored in disparity (d = f / depth) against
   ``truedisp.row3.col3.pgm`` (value / 16, 0 = unknown) by the shared scorer: bad pixels
   > 1 px and > 0.5 px, MSE; and in depth with the scale-fitted protocol
   (`diffdepth.metrics.depth`). Beside OpenCV's StereoSGBM on the same pair (as returned,
   invalid pixels count as bad; and with invalid pixels filled from the farther side along the
   row) and the plain diffusion of the same sparse points (the SPEC baseline).
2. The synthetic scene (5 cameras, exact depth): scale-fitted MSE and Q25 of the plain
   diffusion and of the optimised map.
3. templeSparseRing (16 views, no ground truth): re-projection error (Lab) of the plain
   diffusion and of the optimised map into every other view, and into the selected views on
   the valid pixels; the valid fraction.

Accuracy figures do not depend on the machine's load; the times recorded here do.

Every run uses the default preset (`MultiViewConfig.default()`, what ``diffdepth run`` gives
without --preset); --passes and --iters change its schedule.

    python -m benchmarks.bench_mvs [--passes P] [--iters N] [--only tsukuba,synthetic,temple]
                                   [--results benchmarks/results/mvs]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks._machine import add_provenance_flag, machine_info, provenance
from benchmarks._runs import SHARED, score
from diffdepth.io import read_multiview
from diffdepth.io.images import read_disparity_map
from diffdepth.metrics.depth import scale_fitted_metrics
from diffdepth.pipeline.multiview import MultiViewConfig, run_multiview
from diffdepth.points.colmap import sparse_points
from diffdepth.synth import make_multiview

TEMPLE = SHARED / "data" / "mvs" / "templeSparseRing"
TSUKUBA = SHARED / "data" / "middlebury" / "tsukuba"
TSUKUBA_GT = TSUKUBA / "truedisp.row3.col3.pgm"
FOCAL = 615.0  # px; any value gives the same disparities
SCORE_ARGS = ("--gt-scale", "0.0625", "--invalid-zero", "--thresholds", "0.5", "1")
KEYS = ("badpix_1", "badpix_0.5", "mse_x100", "mae", "nonfinite_estimates")


def _config(passes: int | None, iters: int | None, optimize: bool = True) -> MultiViewConfig:
    """The default preset (what ``diffdepth run`` gives), its schedule changed where given."""
    base = MultiViewConfig.default()
    optim = base.optim
    if passes is not None:
        optim = replace(optim, passes=passes)
    if iters is not None:
        optim = replace(optim, iters_per_phase=iters)
    return replace(base, optimize=optimize, optim=optim)


def tsukuba_par(folder: Path, columns: list[int]) -> Path:
    """Write tsukuba_par.txt for the given columns into ``folder`` (images linked beside it)."""
    lines = [str(len(columns))]
    for c in columns:
        name = f"scene1.row3.col{c}.ppm"
        (folder / name).symlink_to(TSUKUBA / name)
        K = [FOCAL, 0, 191.5, 0, FOCAL, 143.5, 0, 0, 1]
        R = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        t = [-(c - 3), 0, 0]  # camera k at x = k - 3: I_k(x - d (k - 3), y) = I_3(x, y)
        lines.append(name + " " + " ".join(repr(float(v)) for v in K + R + t))
    path = folder / "tsukuba_par.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _scores(disparity: np.ndarray, workdir: Path, gt_depth: np.ndarray) -> dict:
    est = workdir / "est.npy"
    np.save(est, disparity.astype(np.float32))
    # raw SGBM leaves holes: the reference scorer counts each with the map's worst error
    m = score(est, TSUKUBA_GT, *SCORE_ARGS, holes=True)
    out = {k: round(float(m[k]), 4) for k in KEYS if k in m}
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(disparity > 0, FOCAL / disparity, np.nan)
    border = np.zeros(gt_depth.shape, bool)
    border[15:-15, 15:-15] = True
    out["depth_scale_fitted"] = scale_fitted_metrics(depth, gt_depth, mask=border)
    return out


def sgbm_disparity(block: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV StereoSGBM of columns 3 (left) and 4 (right), 16 disparities: as returned
    (invalid = NaN) and with invalid pixels filled by the smaller of the nearest valid values
    left and right on the row."""
    import cv2

    left = cv2.imread(str(TSUKUBA / "scene1.row3.col3.ppm"))
    right = cv2.imread(str(TSUKUBA / "scene1.row3.col4.ppm"))
    sgbm = cv2.StereoSGBM_create(
        minDisparity=0,
        numDisparities=16,
        blockSize=block,
        P1=8 * 3 * block * block,
        P2=32 * 3 * block * block,
        disp12MaxDiff=1,
        uniquenessRatio=10,
        speckleWindowSize=100,
        speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    d = sgbm.compute(left, right).astype(np.float32) / 16.0
    d = np.where(d < 0, np.nan, d)
    h, w = d.shape
    valid = np.isfinite(d)
    cols = np.arange(w)[None]
    rows = np.arange(h)[:, None]
    left_i = np.maximum.accumulate(np.where(valid, cols, -1), axis=1)
    right_i = np.minimum.accumulate(np.where(valid, cols, w)[:, ::-1], axis=1)[:, ::-1]
    lv = np.where(left_i >= 0, d[rows, np.clip(left_i, 0, w - 1)], np.inf)
    rv = np.where(right_i < w, d[rows, np.clip(right_i, 0, w - 1)], np.inf)
    filled = np.where(valid, d, np.minimum(lv, rv))
    return d, np.where(np.isfinite(filled), filled, np.nan)


def tsukuba_case(passes: int, iters: int) -> dict | None:
    if not TSUKUBA.exists():
        return None
    gt = read_disparity_map(TSUKUBA_GT, scale=1 / 16, invalid_zero=True)
    with np.errstate(divide="ignore"):
        gt_depth = np.where(gt > 0, FOCAL / gt, np.nan)
    out = {"focal_px": FOCAL, "reference": "scene1.row3.col3.ppm"}
    with tempfile.TemporaryDirectory(prefix="bench-tsukuba-") as tmp:
        tmp = Path(tmp)
        try:
            raw, filled = sgbm_disparity(3)
            out["sgbm_block3"] = _scores(raw, tmp, gt_depth)
            out["sgbm_block3_filled"] = _scores(filled, tmp, gt_depth)
            raw5, filled5 = sgbm_disparity(5)
            out["sgbm_block5"] = _scores(raw5, tmp, gt_depth)
            out["sgbm_block5_filled"] = _scores(filled5, tmp, gt_depth)
        except ImportError:
            out["sgbm"] = "opencv-python-headless is not installed (pip install diffdepth[bench])"
        for label, cols in (("pair", [3, 4]), ("five", [1, 2, 3, 4, 5])):
            folder = tmp / label
            folder.mkdir()
            t0 = time.perf_counter()
            scene = sparse_points(read_multiview(tsukuba_par(folder, cols)))
            t_sparse = time.perf_counter() - t0
            ref = scene.names.index("scene1.row3.col3.ppm")
            t0 = time.perf_counter()
            res = run_multiview(scene, ref, _config(passes, iters), progress=False)
            t_run = time.perf_counter() - t0
            with np.errstate(divide="ignore", invalid="ignore"):
                disp = FOCAL / res.depth.astype(np.float64)
                plain = FOCAL / res.plain_depth.astype(np.float64)
            m = res.metrics
            out[label] = {
                "views": len(scene),
                "selected_views": m["views"],
                "sparse_points": int(len(scene.points3d)),
                "points_initial": m["points_initial"],
                "points_swept": m["points_swept"],
                "plain": _scores(plain, tmp, gt_depth),
                "optimised": _scores(disp, tmp, gt_depth),
                "valid_fraction": round(m["valid_fraction"], 4),
                "optimised_on_valid": _valid_scores(disp, gt, res.mask),
                "pycolmap_s": round(t_sparse, 1),
                "run_s": round(t_run, 1),
            }
    return out


def _valid_scores(disp: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> dict:
    """Bad pixels > 1 px and MSE over the valid pixels (same border and gt rules)."""
    ok = np.zeros(gt.shape, bool)
    ok[15:-15, 15:-15] = True
    ok &= np.isfinite(gt) & (gt > 0) & mask & np.isfinite(disp)
    err = np.abs(disp[ok] - gt[ok])
    return {
        "badpix_1": round(float(100 * np.mean(err > 1)), 4),
        "mse_x100": round(float(100 * np.mean(err**2)), 4),
        "pixels": int(ok.sum()),
    }


def synthetic_case(passes: int, iters: int) -> dict:
    scene, depths = make_multiview(n_views=5, height=240, width=320, seed=0)
    t0 = time.perf_counter()
    scene = sparse_points(scene)
    t_sparse = time.perf_counter() - t0
    ref = scene.default_ref()
    t0 = time.perf_counter()
    res = run_multiview(scene, ref, _config(passes, iters), gt_depth=depths[ref], progress=False)
    t_opt = time.perf_counter() - t0
    m = res.metrics
    return {
        "views": len(scene),
        "size": list(depths[ref].shape),
        "reference": res.name,
        "sparse_points_total": int(len(scene.points3d)),
        "points_initial": m["points_initial"],
        "points_swept": m["points_swept"],
        "points_final": m["points_final"],
        "pycolmap_s": round(t_sparse, 1),
        "optimise_s": round(t_opt, 1),
        "plain": m["plain_scale_fitted"],
        "optimised": m["scale_fitted"],
        "mse_reduction_pct": round(
            100 * (1 - m["scale_fitted"]["mse"] / m["plain_scale_fitted"]["mse"]), 1
        ),
        "q25_reduction_pct": round(
            100 * (1 - m["scale_fitted"]["q25"] / m["plain_scale_fitted"]["q25"]), 1
        ),
        "reprojection_error_lab": {
            "plain": m["plain_reprojection_error_lab"],
            "optimised": m["reprojection_error_lab"],
        },
        "valid_fraction": m["valid_fraction"],
    }


def temple_case(passes: int, iters: int) -> dict | None:
    if not TEMPLE.exists():
        return None
    from diffdepth.metrics import reprojection_error

    scene = read_multiview(TEMPLE)
    t0 = time.perf_counter()
    scene = sparse_points(scene)
    t_sparse = time.perf_counter() - t0
    ref = scene.default_ref()
    t0 = time.perf_counter()
    res = run_multiview(scene, ref, _config(passes, iters), progress=False)
    t_run = time.perf_counter() - t0
    m = res.metrics
    views = [scene.names.index(n) for n in m["views"]]
    valid = lambda d: np.where(res.mask, d, np.nan)  # noqa: E731
    return {
        "views": len(scene),
        "reference": res.name,
        "selected_views": m["views"],
        "sparse_points_total": int(len(scene.points3d)),
        "points_initial": m["points_initial"],
        "points_swept": m["points_swept"],
        "points_final": m["points_final"],
        "pycolmap_s": round(t_sparse, 1),
        "run_s": round(t_run, 1),
        "reprojection_error_lab": {
            "plain": m["plain_reprojection_error_lab"],
            "optimised": m["reprojection_error_lab"],
        },
        "reprojection_error_lab_selected_views_valid_pixels": {
            "plain": reprojection_error(valid(res.plain_depth), ref, scene, views=views),
            "optimised": reprojection_error(valid(res.depth), ref, scene, views=views),
        },
        "valid_fraction": m["valid_fraction"],
    }


def markdown(res: dict) -> str:
    """The accuracy figures of a result as a Markdown page (times left out: they depend on the
    machine's load)."""
    lines = [
        "# Multi-view accuracy (`benchmarks/bench_mvs.py`)",
        "",
        f"Config: the default preset (`diffdepth run` without --preset), schedule "
        f"{res['config']['optim']['passes']} pass(es) x 4 phases x "
        f"{res['config']['optim']['iters_per_phase']} steps, {res['config']['n_views']} views "
        f"per loss evaluation. git {res['machine'].get('git_commit', '?')}. Times are not "
        "reported here: they were measured on a loaded machine (see the JSON; to be re-run on "
        "a quiet machine).",
    ]
    t = res.get("tsukuba")
    if t:
        lines += [
            "",
            "## Tsukuba (Middlebury 2001), reference column 3, against truedisp",
            "",
            "Disparity in px, 15 px border left out, scored by `../shared/tools/score_disparity.py`"
            " (a hole counts as bad).",
            "",
            "| method | bad > 1 px (%) | bad > 0.5 px (%) | MSE x100 |",
            "|---|---|---|---|",
        ]
        rows = [
            (f"OpenCV SGBM block {b}{' filled' * f}", t.get(f"sgbm_block{b}{'_filled' * f}"))
            for b in (3, 5)
            for f in (False, True)
        ]
        for label in ("pair", "five"):
            if label in t:
                n = t[label]["views"]
                rows += [
                    (f"{label} ({n} views): plain diffusion", t[label]["plain"]),
                    (f"{label} ({n} views): optimised (default)", t[label]["optimised"]),
                ]
        for name, m in rows:
            if isinstance(m, dict):
                b1, b05, mse = m["badpix_1"], m["badpix_0.5"], m["mse_x100"]
                lines.append(f"| {name} | {b1:.2f} | {b05:.2f} | {mse:.1f} |")
        for label in ("pair", "five"):
            if "selected_views" in t.get(label, {}):
                chosen = ", ".join(t[label]["selected_views"])
                lines.append(f"\n{label}: the reference compared with {chosen} (`select_views`)")
    syn = res.get("synthetic")
    if syn:
        lines += [
            "",
            "## Synthetic scene (5 cameras, exact depth), scale-fitted depth",
            "",
            "| map | MSE | Q25 |",
            "|---|---|---|",
            f"| plain | {syn['plain']['mse']:.4f} | {syn['plain']['q25']:.4f} |",
            f"| optimised | {syn['optimised']['mse']:.4f} | {syn['optimised']['q25']:.4f} |",
        ]
    tm = res.get("temple")
    if tm:
        r = tm["reprojection_error_lab"]
        rv = tm["reprojection_error_lab_selected_views_valid_pixels"]
        lines += [
            "",
            f"## templeSparseRing, reference {tm['reference']} (no ground truth)",
            "",
            f"Re-projection error (Lab) into every other view: plain {r['plain']:.3f}, "
            f"optimised {r['optimised']:.3f}; into the selected views on the valid pixels: "
            f"plain {rv['plain']:.3f}, optimised {rv['optimised']:.3f}; valid fraction "
            f"{100 * tm['valid_fraction']:.1f} %.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--passes", type=int, default=None, help="default: the default preset's")
    p.add_argument("--iters", type=int, default=None, help="default: the default preset's")
    p.add_argument("--only", default="tsukuba,synthetic,temple")
    p.add_argument("--results", type=Path, default=Path("benchmarks/results/mvs"))
    add_provenance_flag(p)
    a = p.parse_args()
    record = provenance(a.allow_dirty)
    cases = {"tsukuba": tsukuba_case, "synthetic": synthetic_case, "temple": temple_case}
    res = {
        "machine": machine_info(record),
        "config": _config(a.passes, a.iters).to_dict(),
    }
    for name in a.only.split(","):
        res[name] = cases[name](a.passes, a.iters)
        print(json.dumps({name: res[name]}, indent=2), flush=True)
    text = json.dumps(res, indent=2)
    a.results.parent.mkdir(parents=True, exist_ok=True)
    a.results.with_suffix(".json").write_text(text + "\n")
    a.results.with_suffix(".md").write_text(markdown(res))


if __name__ == "__main__":
    main()
