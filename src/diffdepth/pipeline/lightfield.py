"""The light-field run, stage by stage, and its outputs.

    lf = diffdepth.io.read_lightfield("scene/")
    result = run_lightfield(lf, points=None, config=LightFieldConfig())
    write_lightfield_outputs(result, lf, "out/")

| stage           | function               | switch (`LightFieldConfig`) | settings         |
|-----------------|------------------------|-----------------------------|------------------|
| points          | `points_stage`         | points given or detected    | ``epi``          |
| densify         | `densify_stage`        | ``densify``                 | ``sweep``        |
| model           | `pipeline.build_model` | always                      | ``model``        |
| optimise        | `optimise_stage`       | ``optimize``                | ``optim, loss``  |
| post-filter     | `postfilter_stage`     | ``postfilter``              | ``median``       |
| edge refinement | `refine_stage`         | ``edge_refine``             | ``refine``       |
| confidence      | `disparity_confidence` | always                      | ``confidence``   |

`LightFieldConfig.plain()` switches off every stage but points and model and takes the SPEC's
model (occlusion order by label, Q from Sobel alone): the paper's plain-diffusion baseline.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffdepth.config import EPIConfig, LightFieldConfig, MedianConfig
from diffdepth.io.errors import InputError, parameter
from diffdepth.losses import LightFieldLoss, supervised_loss
from diffdepth.optimize import DiffusionModel, History, optimize
from diffdepth.photo import LightFieldProblem
from diffdepth.pipeline.checks import check_lightfield_run
from diffdepth.pipeline.model import (
    build_model,
    check_device,
    final_points,
    plain_model,
    validate_points,
)
from diffdepth.pipeline.outputs import (
    peak_rss_mib,
    software_versions,
    write_json,
    write_run_record,
)
from diffdepth.types import LightField, PointSet

#: the stages of a light-field run, in order (their times are ``timings[stage + "_s"]``)
STAGES = ("points", "densify", "model", "optimize", "postfilter", "refine", "confidence")


@dataclass
class LightFieldResult:
    disparity: np.ndarray  # float32 [H, W], reference view, HCI sign
    points_initial: PointSet  # the points given (or detected), before densification
    points_final: PointSet
    history: History
    metrics: dict  # HCI metrics against ground truth (when there is one), the re-projection
    # error (Lab) into the corner views; with the plain diffusion's as plain_<key>
    timings: dict  # seconds per stage (STAGES), of the plain diffusion, in total, and of the
    # metrics (after the total); peak memory
    config: LightFieldConfig  # as run (the EPI preset resolved)
    points_added: int = 0  # plane-sweep points added by the densify stage
    pixels_refined: int = 0  # pixels the edge refinement changed
    disparity_plain: np.ndarray | None = None  # float32 [H, W], the plain diffusion of the
    # initial points (the SPEC's baseline); the result itself after a plain run
    confidence: np.ndarray | None = None  # float32 [H, W] in 0..1 (`diffdepth.confidence`)


def sweep_range(lf: LightField, values: np.ndarray | None) -> tuple[float, float]:
    """Disparities the plane sweep covers: the scene's range when known, else that of
    ``values`` (the points' disparities: 0.5th to 99.5th percentile, widened by a tenth of the
    span and 0.2 px per view step)."""
    if lf.disp_range is not None:
        return lf.disp_range
    lo, hi = np.percentile(values, [0.5, 99.5])
    pad = 0.1 * (hi - lo) + 0.2
    return float(lo - pad), float(hi + pad)


def merge_points(a: PointSet, b: PointSet) -> PointSet:
    """The points of a and then of b (confidence kept only when both have one; the edge
    sides of a kept when a has them, b's taken as unknown (0) when it has none)."""
    if len(b) == 0:
        return a
    conf = None
    if a.confidence is not None and b.confidence is not None:
        conf = np.concatenate([a.confidence, b.confidence])
    sides = None
    if a.sides is not None:
        b_sides = b.sides if b.sides is not None else np.zeros(len(b), np.uint8)
        sides = np.concatenate([a.sides, b_sides])
    xy, value = np.concatenate([a.xy, b.xy]), np.concatenate([a.value, b.value])
    return PointSet(xy, value, conf, sides)


def points_stage(
    lf: LightField, points: PointSet | None, config: LightFieldConfig
) -> tuple[PointSet, LightFieldConfig]:
    """The initial points: ``points`` checked (`check_points`), or the EPI detector's (with
    ``config.epi``, or the preset of the grid's shape).  Returns the points and the config with
    the EPI preset set."""
    if points is not None:
        return check_points(lf, points), config
    from diffdepth.points.epi import detect_epi_points

    epi = config.epi or EPIConfig.for_grid(*lf.grid)
    config = config.replace(epi=epi)
    points = detect_epi_points(lf.views, ref=lf.ref, disp_range=lf.disp_range, config=epi)
    return validate_points(points, lf.shape, "EPI detector"), config


def check_points(lf: LightField, points: PointSet) -> PointSet:
    """Given points checked (InputError): finite, at least one, disparities within the image's
    size; points whose window misses the image dropped."""
    return validate_points(points, lf.shape, "points", max_abs_value=max(lf.shape))


def densify_stage(
    lf: LightField, problem: LightFieldProblem, points: PointSet, config: LightFieldConfig
) -> PointSet:
    """Plane-sweep points where ``points`` leave gaps (only the new points)."""
    from diffdepth.points.sweep import densify_points

    return densify_points(problem, points, sweep_range(lf, points.value), config.sweep)


def optimise_stage(
    model: DiffusionModel,
    lf: LightField,
    problem: LightFieldProblem,
    config: LightFieldConfig,
    progress: bool = True,
) -> History:
    """The alternating optimisation of ``model`` in place, against the re-projection loss of
    ``problem`` (or the ground truth with ``config.supervised``)."""
    device = check_device(config.device)
    if config.supervised:
        if lf.gt is None:
            raise InputError(
                f"{lf.name}: {parameter('supervised')} needs ground truth, and this scene has none"
            )
        ref = torch.from_numpy(problem.ref).permute(2, 0, 1).to(device)
        gt = torch.from_numpy(lf.gt.astype(np.float32)).to(device)

        def loss_fn(D):
            loss = supervised_loss(D, gt, ref)
            return loss, {"supervised": float(loss.detach())}, None

    else:
        if len(problem) == 0:
            raise InputError(f"{lf.name}: the light field has a single view; the loss needs two")
        loss_fn = LightFieldLoss.from_problem(problem, config.loss, device)
    return optimize(model, loss_fn, config.optim, progress=progress)


def postfilter_stage(disparity: np.ndarray, ref: np.ndarray, config: MedianConfig) -> np.ndarray:
    """The colour-weighted median of the map (SPEC section 6)."""
    from diffdepth.postfilter import weighted_median

    return weighted_median(disparity, ref, config.radius, config.sigma_colour, config.sigma_space)


def refine_stage(
    disparity: np.ndarray,
    problem: LightFieldProblem,
    config: LightFieldConfig,
    points: PointSet | None = None,
    candidate: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """The edge refinement on the central row and column of views; then, given a
    ``candidate`` map (the EPI orientation estimate), its second pass, which lets every pixel
    take the candidate's label where the views match it clearly better
    (``config.refine.adopt_margin``); then (with the post-filter on) the median again, which
    removes isolated choices.  With ``points`` (those the map was made from), the map's
    confidence holds the pixels it trusts in the first pass (``config.refine.keep_confidence``).
    Returns the map and the number of pixels either pass changed."""
    from diffdepth.refine import adopt_candidates, refine_edges

    views = problem.crosshair()
    confidence = None
    if points is not None and config.refine.keep_confidence is not None:
        from diffdepth.confidence import disparity_confidence

        confidence = disparity_confidence(views, disparity, points, config.confidence)
    before = np.asarray(disparity, np.float32)
    disparity, _ = refine_edges(disparity, views, config.refine, confidence)
    if candidate is not None:
        disparity, _ = adopt_candidates(disparity, candidate, views, config.refine)
    n_refined = int((disparity != before).sum())
    if config.postfilter and n_refined:
        disparity = postfilter_stage(disparity, problem.ref, config.median)
    return disparity, n_refined


def orientation_candidate(
    lf: LightField, disparity: np.ndarray, points: PointSet | None
) -> np.ndarray:
    """The EPI orientation estimate of the reference view (`diffdepth.points.orientation`)
    over the scene's disparity range (when unknown, that of the points, or of the map)."""
    from diffdepth.points.orientation import structure_tensor_disparity

    values = points.value if points is not None and len(points) else np.ravel(disparity)
    return structure_tensor_disparity(lf.views, lf.ref, sweep_range(lf, values))


def is_plain(config: LightFieldConfig) -> bool:
    """Whether a run of ``config`` is the plain diffusion of its points (no stage but points
    and model, the plain model)."""
    stages = config.densify or config.optimize or config.postfilter or config.edge_refine
    return not stages and config.model == plain_model(config.model)


def plain_diffusion(lf: LightField, points: PointSet, config: LightFieldConfig) -> np.ndarray:
    """The plain diffusion of ``points`` in the reference view, float32 [H, W]: one solve."""
    device = check_device(config.device)
    model = build_model(lf.ref_view, points, plain_model(config.model), device)
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


def postprocess(
    lf: LightField,
    problem: LightFieldProblem,
    disparity: np.ndarray,
    config: LightFieldConfig,
    stage=None,
    points: PointSet | None = None,
) -> tuple[np.ndarray, int]:
    """The stages after the model's map, with their switches: the post-filter, then (after a
    self-supervised run) the edge refinement, held by the map's confidence when ``points``
    (those the map was made from: the model's final points) are given.  ``stage(name)``: a
    context manager that times each stage (or None).  Returns the map and the number of pixels
    refined."""
    stage = stage or (lambda name: nullcontext())
    if config.postfilter:
        with stage("postfilter"):
            disparity = postfilter_stage(disparity, lf.ref_view, config.median)
    n_refined = 0
    if config.edge_refine and not config.supervised and len(problem):
        with stage("refine"):
            candidate = None
            if config.orientation_pass(lf.grid):
                candidate = orientation_candidate(lf, disparity, points)
            disparity, n_refined = refine_stage(disparity, problem, config, points, candidate)
    return disparity, n_refined


def run_lightfield(
    lf: LightField,
    points: PointSet | None = None,
    config: LightFieldConfig | None = None,
    progress: bool = True,
) -> LightFieldResult:
    """Dense disparity of the reference view of ``lf``: the stages of the module's table.

    points: the initial points (reference-view pixels, disparity); None runs the EPI detector.
    The result keeps the plain diffusion of the points too (``disparity_plain``: one more solve
    unless the run is that) and scores both (``metrics``).  Before any work, the points given
    and the run are checked (`diffdepth.pipeline.checks`): InputError when it cannot succeed.
    """
    config = config or LightFieldConfig.default()
    device = check_device(config.device)
    if points is not None:
        points = check_points(lf, points)
    n_given = None if points is None else len(points)
    check_lightfield_run(lf.name, lf.grid, lf.shape, n_given, config, lf.gt)
    torch.manual_seed(config.seed)
    timings = {f"{stage}_s": 0.0 for stage in STAGES}

    @contextmanager
    def stage(name: str):
        t0 = time.perf_counter()
        yield
        timings[f"{name}_s"] += time.perf_counter() - t0

    t_start = time.perf_counter()
    with stage("points"):
        if points is None:
            points, config = points_stage(lf, points, config)
        problem = LightFieldProblem.from_lightfield(lf, config.views)
    added = PointSet(np.zeros((0, 2)), np.zeros(0))
    if config.densify and len(problem):
        with stage("densify"):
            added = densify_stage(lf, problem, points, config)
    with stage("model"):
        model = build_model(lf.ref_view, merge_points(points, added), config.model, device)
    history = History()
    if config.optimize:
        with stage("optimize"):
            history = optimise_stage(model, lf, problem, config, progress)
    with torch.no_grad():
        disparity = model().detach().float().cpu().numpy()
    model_points = final_points(model)
    disparity, n_refined = postprocess(lf, problem, disparity, config, stage, model_points)
    with stage("confidence"):
        from diffdepth.confidence import disparity_confidence

        confidence = disparity_confidence(
            problem.crosshair(), disparity, model_points, config.confidence
        )
    plain = is_plain(config)
    t_plain = time.perf_counter()
    disparity_plain = disparity if plain else plain_diffusion(lf, points, config)
    timings["plain_s"] = time.perf_counter() - t_plain
    timings["total_s"] = time.perf_counter() - t_start
    t_metrics = time.perf_counter()
    metrics = lightfield_metrics(lf, disparity, None if plain else disparity_plain)
    timings["metrics_s"] = time.perf_counter() - t_metrics  # scoring, after total_s
    timings["peak_rss_mib"] = peak_rss_mib()
    return LightFieldResult(
        disparity=disparity,
        points_initial=points,
        points_final=model_points,
        history=history,
        metrics=metrics,
        timings=timings,
        config=config,
        points_added=len(added),
        pixels_refined=n_refined,
        disparity_plain=disparity_plain,
        confidence=confidence,
    )


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
    from diffdepth.io import write_pfm
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
        if plain is not None and not is_plain(result.config):
            write_pfm(stage / "disparity_plain.pfm", plain)
            viz.save_map_png(stage / "disparity_plain.png", plain, lo, hi)
        if result.confidence is not None:
            np.save(stage / "confidence.npy", result.confidence)
            viz.save_map_png(
                stage / "confidence.png",
                result.confidence,
                0.0,
                1.0,
                "viridis",
                "confidence (0..1)",
            )
        viz.save_image_png(stage / "reference.png", lf.ref_view)
        info = {
            "scene": lf.name,
            "grid": list(lf.grid),
            "reference_view": list(lf.ref),
            "disp_range": list(lf.disp_range) if lf.disp_range else None,
            "points_initial": len(result.points_initial),
            "points_added": result.points_added,
            "pixels_refined": result.pixels_refined,
            **(extra or {}),
        }
        write_run_record(stage, result, "disparity", info)
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
