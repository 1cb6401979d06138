"""The light-field run: points, optimisation, outputs.

lf = diffdepth.io.read_lightfield("scene/")
result = run_lightfield(lf, points=None, config=RunConfig())
write_lightfield_outputs(result, lf, "out/")
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from diffdepth.io.errors import InputError, parameter
from diffdepth.io.lightfield import LightField
from diffdepth.losses import LightFieldLoss, LossConfig, supervised_loss
from diffdepth.optimize import History, OptimConfig, optimize
from diffdepth.pipeline.checks import check_lightfield_run
from diffdepth.pipeline.model import build_model, check_device, final_points, validate_points
from diffdepth.pipeline.outputs import (
    peak_rss_mib,
    software_versions,
    write_json,
    write_loss_csv,
)
from diffdepth.points.base import PointSet
from diffdepth.points.sweep import SweepConfig, densify_points
from diffdepth.refine import EdgeRefineConfig


@dataclass(frozen=True)
class RunConfig:
    """One light-field run (the CLI maps its flags onto these fields)."""

    optimize: bool = True  # False: the plain diffusion of the initial points
    supervised: bool = False  # optimise against the ground truth instead of re-projection
    views: str = "crosshair"  # views in the loss: 'crosshair' (central row + column) or 'all'
    device: str = "cpu"  # 'cpu' or 'cuda'
    seed: int = 0  # seeds torch (and the view subsets of multi-view runs)
    confidence_weights: bool = False  # initialise R = -log(confidence) when points have one
    densify: bool = True  # before optimising, add plane-sweep points where the set has none
    median_radius: int = 3  # colour-weighted median of the optimised map (0: none; SPEC 6)
    edge_refine: bool = True  # after optimising, re-choose the pixels beside depth edges
    # (photometric: not after a supervised run, which fits the ground truth itself)
    optim: OptimConfig = field(default_factory=OptimConfig.light_field)
    loss: LossConfig = field(default_factory=LossConfig.light_field)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    refine: EdgeRefineConfig = field(default_factory=EdgeRefineConfig)

    def __post_init__(self) -> None:
        if self.views not in ("crosshair", "all"):
            raise ValueError(f"views must be 'crosshair' or 'all', not {self.views!r}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', not {self.device!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class LightFieldResult:
    disparity: np.ndarray  # float32 [H, W], reference view, HCI sign
    points_initial: PointSet  # the points given (or detected), before densification
    points_final: PointSet
    history: History
    metrics: dict  # HCI metrics against ground truth (when there is one), the re-projection
    # error (Lab) into the corner views; with the plain diffusion's as plain_<key>
    timings: dict  # seconds: points, densify, optimise, post-process, plain diffusion, total,
    # metrics (after the total); peak memory
    config: RunConfig
    points_added: int = 0  # plane-sweep points added before optimising
    pixels_refined: int = 0  # pixels the edge refinement changed
    disparity_plain: np.ndarray | None = None  # float32 [H, W], the plain diffusion of the
    # initial points (the SPEC's baseline); the result itself after a run without optimising


def lightfield_loss_views(lf: LightField, which: str) -> tuple[np.ndarray, np.ndarray]:
    return lf.crosshair() if which == "crosshair" else lf.all_views()


def sweep_range(lf: LightField, points: PointSet) -> tuple[float, float]:
    """Disparities the plane sweep covers: the scene's range when known, else the points'
    (0.5th to 99.5th percentile, widened by a tenth of the span and 0.2 px per view step)."""
    if lf.disp_range is not None:
        return lf.disp_range
    lo, hi = np.percentile(points.value, [0.5, 99.5])
    pad = 0.1 * (hi - lo) + 0.2
    return float(lo - pad), float(hi + pad)


def merge_points(a: PointSet, b: PointSet) -> PointSet:
    """The points of a and then of b (confidence kept only when both have one)."""
    if len(b) == 0:
        return a
    conf = None
    if a.confidence is not None and b.confidence is not None:
        conf = np.concatenate([a.confidence, b.confidence])
    return PointSet(np.concatenate([a.xy, b.xy]), np.concatenate([a.value, b.value]), conf)


def run_lightfield(
    lf: LightField,
    points: PointSet | None = None,
    config: RunConfig | None = None,
    progress: bool = True,
) -> LightFieldResult:
    """Dense disparity of the reference view of ``lf``.

    points: the initial points (reference-view pixels, disparity); None runs the EPI detector.
    With ``config.optimize`` the points are densified by the plane sweep (``config.densify``),
    optimised with ``config.optim`` and the map is post-filtered (``config.median_radius``);
    without it the result is the plain diffusion of the points as the SPEC defines it
    (occlusion order by label, smoothness from Sobel alone, no filter). The result keeps that
    plain diffusion too (``disparity_plain``: one more solve) and scores both (``metrics``).
    """
    config = config or RunConfig()
    device = check_device(config.device)
    ref = lf.ref_view
    if points is not None:
        points = validate_points(points, ref.shape[:2], "points", max_abs_value=max(lf.shape))
    check_lightfield_run(
        lf.name, lf.grid, lf.shape, None if points is None else len(points), config, lf.gt
    )
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    if points is None:
        from diffdepth.points.epi import detect_epi_points

        points = detect_epi_points(lf.views, ref=lf.ref, disp_range=lf.disp_range)
        points = validate_points(points, ref.shape[:2], "EPI detector")
    t_points = time.perf_counter() - t0

    history = History()
    n_added = 0
    if config.optimize:
        model_points = points
        if config.densify and lf.grid[0] * lf.grid[1] > 1:
            views, offsets = lightfield_loss_views(lf, config.views)
            added = densify_points(
                ref, views, offsets, points, sweep_range(lf, points), config.sweep
            )
            n_added = len(added)
            model_points = merge_points(points, added)
        t_dense = time.perf_counter() - t0 - t_points
        model = build_model(ref, model_points, config.optim, device, config.confidence_weights)
        loss_fn = _make_loss(lf, config, device)
        history = optimize(model, loss_fn, config.optim, progress=progress)
    else:
        t_dense = 0.0
        model = build_model(
            ref, points, plain_optim(config.optim), device, config.confidence_weights
        )
    with torch.no_grad():
        disparity = model().detach().float().cpu().numpy()
    t_refine = time.perf_counter()
    n_refined = 0
    if config.optimize:
        disparity, n_refined = postprocess(lf, disparity, config)
    t_refine = time.perf_counter() - t_refine
    t_plain = time.perf_counter()
    disparity_plain = plain_diffusion(lf, points, config) if config.optimize else disparity
    t_plain = time.perf_counter() - t_plain
    t_total = time.perf_counter() - t0

    t_metrics = time.perf_counter()
    metrics = lightfield_metrics(lf, disparity, disparity_plain if config.optimize else None)
    t_metrics = time.perf_counter() - t_metrics
    return LightFieldResult(
        disparity=disparity,
        points_initial=points,
        points_final=final_points(model),
        history=history,
        metrics=metrics,
        points_added=n_added,
        pixels_refined=n_refined,
        disparity_plain=disparity_plain,
        timings={
            "points_s": t_points,
            "densify_s": t_dense,
            "optimize_s": t_total - t_points - t_dense - t_refine - t_plain,
            "postprocess_s": t_refine,
            "plain_s": t_plain,
            "total_s": t_total,
            "metrics_s": t_metrics,  # scoring, after total_s
            "peak_rss_mib": peak_rss_mib(),
        },
        config=config,
    )


def plain_optim(optim: OptimConfig) -> OptimConfig:
    """The plain diffusion as the SPEC defines it: occlusion order by label, Q from Sobel alone
    (no occlusion cuts)."""
    return dataclasses.replace(optim, order="depth", cut_radius=0.0)


def plain_diffusion(lf: LightField, points: PointSet, config: RunConfig) -> np.ndarray:
    """The plain diffusion of ``points`` in the reference view, float32 [H, W]: one solve."""
    device = check_device(config.device)
    model = build_model(
        lf.ref_view, points, plain_optim(config.optim), device, config.confidence_weights
    )
    with torch.no_grad():
        return model().detach().float().cpu().numpy()


def lightfield_metrics(lf: LightField, disparity: np.ndarray, plain: np.ndarray | None) -> dict:
    """HCI metrics against the ground truth (when the light field has one) and the
    re-projection error (Lab) into the corner views (when it has more than one view); those of
    the plain diffusion ``plain`` (when given) under the same keys with a ``plain_`` prefix."""
    from diffdepth.metrics import lightfield_reprojection_error, score_disparity

    def score(d: np.ndarray) -> dict:
        out = {}
        if lf.gt is not None:
            out.update(score_disparity(d, lf.gt))
        err = lightfield_reprojection_error(lf, d)
        if err is not None:
            out["reprojection_error_lab"] = err
        return out

    metrics = score(disparity)
    if plain is not None:
        metrics.update({f"plain_{k}": v for k, v in score(plain).items() if k != "pixels"})
    return metrics


def postprocess(lf: LightField, disparity: np.ndarray, config: RunConfig) -> tuple[np.ndarray, int]:
    """The steps after the optimisation: the colour-weighted median, then (with more than one
    view, after a self-supervised run) the edge refinement on the central row and column of
    views and a second median that removes its isolated choices.  Returns the map and the
    number of pixels refined."""
    from diffdepth.postfilter import weighted_median

    ref = lf.ref_view
    if config.median_radius > 0:
        disparity = weighted_median(disparity, ref, config.median_radius)
    n_refined = 0
    if config.edge_refine and not config.supervised and lf.grid[0] * lf.grid[1] > 1:
        from diffdepth.refine import refine_edges

        views, offsets = lightfield_loss_views(lf, "crosshair")
        disparity, n_refined = refine_edges(disparity, ref, views, offsets, config.refine)
        if config.median_radius > 0 and n_refined:
            disparity = weighted_median(disparity, ref, config.median_radius)
    return disparity, n_refined


def _make_loss(lf: LightField, config: RunConfig, device: torch.device):
    ref = torch.from_numpy(np.ascontiguousarray(lf.ref_view.transpose(2, 0, 1))).to(device)
    if config.supervised:
        if lf.gt is None:
            raise InputError(
                f"{lf.name}: {parameter('supervised')} needs ground truth, and this scene has none"
            )
        gt = torch.from_numpy(lf.gt.astype(np.float32)).to(device)

        def loss_fn(D):
            loss = supervised_loss(D, gt, ref)
            return loss, {"supervised": float(loss.detach())}, None

        return loss_fn
    views, offsets = lightfield_loss_views(lf, config.views)
    if len(views) == 0:
        raise InputError(f"{lf.name}: the light field has a single view; the loss needs two")
    views_t = torch.from_numpy(np.ascontiguousarray(views.transpose(0, 3, 1, 2))).to(device)
    offsets_t = torch.from_numpy(np.asarray(offsets, dtype=np.float32)).to(device)
    return LightFieldLoss(ref, views_t, offsets_t, config.loss)


def write_lightfield_outputs(
    result: LightFieldResult,
    lf: LightField,
    out_dir: str | Path,
    extra: dict | None = None,
    manifest_extra: dict | None = None,
    staging_dir: str | Path | None = None,
) -> Path:
    """Write the result folder ``out_dir`` whole or not at all (`diffdepth.io.results`): the
    maps, pictures, records, the report (report.html, summary.png) and manifest.json last. An
    earlier result there is replaced; a folder that is not a diffdepth result is refused.

    extra: more entries of config.json; manifest_extra: facts kept in the manifest;
    staging_dir: where the result is staged (default: beside ``out_dir``). Returns the folder.
    """
    from diffdepth import viz
    from diffdepth.io import write_pfm, write_points_csv
    from diffdepth.io.results import check_result_target, staged_result
    from diffdepth.metrics import badpix_map
    from diffdepth.report import write_report

    out = check_result_target(out_dir)
    with staged_result(out, manifest_extra, staging_dir) as stage:
        d = result.disparity
        write_pfm(stage / "disparity.pfm", d)
        np.save(stage / "disparity.npy", d.astype(np.float32))
        lo, hi = lf.disp_range if lf.disp_range else viz.map_range(d, lf.gt)
        viz.save_map_png(stage / "disparity.png", d, lo, hi)
        plain = result.disparity_plain
        if result.config.optimize and plain is not None:
            write_pfm(stage / "disparity_plain.pfm", plain)
            viz.save_map_png(stage / "disparity_plain.png", plain, lo, hi)
        viz.save_image_png(stage / "reference.png", lf.ref_view)
        write_points_csv(stage / "points_initial.csv", result.points_initial)
        write_points_csv(stage / "points_final.csv", result.points_final)
        viz.save_loss_png(stage / "loss.png", result.history.loss, result.history.group)
        info = {
            "config": result.config.to_dict(),
            "timings": result.timings,
            "scene": lf.name,
            "grid": list(lf.grid),
            "reference_view": list(lf.ref),
            "disp_range": list(lf.disp_range) if lf.disp_range else None,
            "points_initial": len(result.points_initial),
            "points_added": result.points_added,
            "pixels_refined": result.pixels_refined,
            "versions": software_versions(),
        }
        if extra:
            info.update(extra)
        write_json(stage / "config.json", info)
        write_json(stage / "metrics.json", result.metrics)
        if lf.gt is not None:
            write_pfm(stage / "gt.pfm", lf.gt)
            viz.save_map_png(stage / "gt.png", lf.gt, lo, hi)
            viz.save_signed_error_png(stage / "error_signed.png", d, lf.gt)
            viz.save_badpix_png(
                stage / "badpix_0.07.png",
                badpix_map(d, lf.gt),
                lf.ref_view,
                0.07,
                result.metrics.get("badpix_0.07"),
            )
        write_loss_csv(stage / "loss.csv", result.history)
        write_report(stage)
    return out


def write_points_outputs(
    points: PointSet, lf: LightField, out_dir: str | Path, seconds: float | None = None
) -> Path:
    """Write the result folder of a light field's points, whole or not at all: points.csv
    (x, y, disparity, confidence), points.png (the points over the reference view, with a
    colour bar), config.json (scene, grid, count, time, versions) and manifest.json last."""
    from diffdepth import viz
    from diffdepth.io import write_points_csv
    from diffdepth.io.results import check_result_target, staged_result

    out = check_result_target(out_dir)
    with staged_result(out) as stage:
        write_points_csv(stage / "points.csv", points)
        lo, hi = lf.disp_range if lf.disp_range else (None, None)
        viz.save_points_png(stage / "points.png", lf.ref_view, points.xy, points.value, lo, hi)
        info = {
            "scene": lf.name,
            "grid": list(lf.grid),
            "reference_view": list(lf.ref),
            "points": len(points),
            "timings": {"total_s": seconds},
            "versions": software_versions(),
        }
        write_json(stage / "config.json", info)
    return out
