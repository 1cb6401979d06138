"""The multi-view run: sparse points of a reference image, densification, optimisation.

The label is inverse depth, normalised by the median of the initial points so that one set of
learning rates fits every scene scale; the loss sees it in scene units. Depth is the occlusion
key (a larger inverse depth is nearer).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from diffdepth.io.errors import InputError
from diffdepth.io.mvs import MultiViewScene
from diffdepth.losses.multiview import MultiViewLoss, MultiViewLossConfig, reprojection_error
from diffdepth.optimize import History, OptimConfig, optimize
from diffdepth.pipeline.model import build_model, check_device, final_points, validate_points
from diffdepth.pipeline.outputs import (
    peak_rss_mib,
    software_versions,
    staged_outputs,
    write_loss_csv,
)
from diffdepth.points.base import PointSet


@dataclass(frozen=True)
class MultiViewConfig:
    """One multi-view run (the CLI maps its flags onto these fields)."""

    optimize: bool = True  # False: the plain diffusion of the sparse points
    device: str = "cpu"  # 'cpu' or 'cuda'
    seed: int = 0  # seeds the view subsets and the densification sample
    n_views: int = 5  # views drawn at random for each loss evaluation
    densify_points: int = 3000  # points added at RGB edges after the first Q phase
    confidence_weights: bool = False  # initialise R = -log(confidence) (track length)
    optim: OptimConfig = field(default_factory=OptimConfig.multi_view)
    loss: MultiViewLossConfig = field(default_factory=MultiViewLossConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class MultiViewResult:
    ref: int  # index of the reference image in the scene
    name: str  # its file name
    depth: np.ndarray  # float32 [H, W], scene units
    plain_depth: np.ndarray  # float32 [H, W], the plain diffusion of the initial points
    points_initial: PointSet  # value = inverse depth (scene units)
    points_final: PointSet
    history: History
    metrics: dict  # re-projection errors (Lab) of plain and optimised; scale-fitted if gt
    timings: dict
    config: MultiViewConfig


def reference_point_set(scene: MultiViewScene, ref: int) -> PointSet:
    from diffdepth.points.colmap import reference_points

    return reference_points(scene, ref)


def _edge_sampler(image: np.ndarray, n: int, seed: int, xy0: torch.Tensor):
    """densify(D) -> (xy, value) of up to n Canny-edge pixels away from existing points."""
    from diffdepth.points.sampling import sample_edge_points

    h, w = image.shape[:2]
    occupied = np.zeros((h, w), dtype=bool)
    cols = np.clip(np.round(xy0[:, 0].cpu().numpy()).astype(int), 0, w - 1)
    rows = np.clip(np.round(xy0[:, 1].cpu().numpy()).astype(int), 0, h - 1)
    occupied[rows, cols] = True
    from scipy import ndimage

    occupied = ndimage.binary_dilation(occupied, iterations=1)

    def densify(D: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pts = sample_edge_points(image, D.detach().cpu().numpy(), n, seed, exclude=occupied)
        return torch.from_numpy(pts.xy), torch.from_numpy(pts.value)

    return densify


def run_multiview(
    scene: MultiViewScene,
    ref: int | None = None,
    config: MultiViewConfig | None = None,
    gt_depth: np.ndarray | None = None,
    progress: bool = True,
    points: PointSet | None = None,
) -> MultiViewResult:
    """Dense depth of image ``ref`` (default: the image that sees the most sparse points).

    points: initial points of the reference image (value = inverse depth); default: the
    scene's sparse points it sees. gt_depth [H, W]: adds scale-fitted metrics.
    """
    config = config or MultiViewConfig()
    device = check_device(config.device)
    if len(scene) < 2:
        raise InputError(f"{scene.source}: a multi-view run needs at least two images")
    ref = scene.default_ref() if ref is None else int(ref)
    name = scene.names[ref]
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    image = scene.images[ref]
    if points is None:
        points = reference_point_set(scene, ref)
    points = validate_points(points, image.shape[:2], f"{scene.source}: {name}")
    scale = float(np.median(points.value))
    if not scale > 0:
        raise InputError(f"{scene.source}: {name}: the sparse points lie behind the camera")
    normalised = PointSet(points.xy, points.value / scale, points.confidence)
    model = build_model(image, normalised, config.optim, device, config.confidence_weights)
    with torch.no_grad():
        plain_inv = model().double().cpu().numpy() * scale
    history = History()
    if config.optimize:
        gen = torch.Generator().manual_seed(config.seed)
        loss = MultiViewLoss(ref, scene, config.loss, config.n_views, gen, device=device)

        def loss_fn(D):
            return loss(D * scale)

        densify = _edge_sampler(image, config.densify_points, config.seed, model.xy.detach())
        history = optimize(model, loss_fn, config.optim, progress=progress, densify=densify)
    with torch.no_grad():
        inv = model().double().cpu().numpy() * scale
    final = final_points(model)
    final = PointSet(final.xy, final.value * scale, final.confidence)
    depth = _to_depth(inv)
    plain_depth = _to_depth(plain_inv)
    t_total = time.perf_counter() - t0
    metrics = {
        "reprojection_error_lab": reprojection_error(depth, ref, scene),
        "plain_reprojection_error_lab": reprojection_error(plain_depth, ref, scene),
        "points_initial": len(points),
        "points_final": len(final),
    }
    if gt_depth is not None:
        from diffdepth.metrics.depth import scale_fitted_metrics

        metrics["scale_fitted"] = scale_fitted_metrics(depth, gt_depth, seed=config.seed)
        metrics["plain_scale_fitted"] = scale_fitted_metrics(
            plain_depth, gt_depth, seed=config.seed
        )
    return MultiViewResult(
        ref=ref,
        name=name,
        depth=depth,
        plain_depth=plain_depth,
        points_initial=points,
        points_final=final,
        history=history,
        metrics=metrics,
        timings={"total_s": t_total, "peak_rss_mib": peak_rss_mib()},
        config=config,
    )


def _to_depth(inverse_depth: np.ndarray) -> np.ndarray:
    """1 / inverse depth; non-positive inverse depth (no finite depth) becomes NaN."""
    inv = np.asarray(inverse_depth, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(inv > 1e-9, 1.0 / inv, np.nan)
    return depth.astype(np.float32)


def write_ply(path: Path, xyz: np.ndarray, rgb: np.ndarray) -> None:
    """Binary little-endian PLY of points xyz float32 [M, 3] with colours uint8 [M, 3]."""
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(xyz)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nend_header\n"
    )
    rec = np.zeros(len(xyz), dtype=[("p", "<f4", 3), ("c", "u1", 3)])
    rec["p"], rec["c"] = xyz, rgb
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(rec.tobytes())


def depth_to_points(scene: MultiViewScene, ref: int, depth: np.ndarray):
    """World points and colours of every pixel with a finite depth. -> ([M,3], uint8 [M,3])"""
    h, w = depth.shape
    ys, xs = np.mgrid[0:h, 0:w]
    ok = np.isfinite(depth) & (depth > 0)
    pix = np.stack([xs[ok], ys[ok], np.ones(ok.sum())], 1).astype(np.float64)
    cam = (pix @ np.linalg.inv(scene.K[ref]).T) * depth[ok][:, None]
    world = (cam - scene.t[ref]) @ scene.R[ref]  # R^T (x_cam - t)
    rgb = (np.clip(scene.images[ref][ok], 0, 1) * 255).round().astype(np.uint8)
    return world.astype(np.float32), rgb


def write_multiview_outputs(result: MultiViewResult, scene: MultiViewScene, out_dir) -> None:
    """depth.pfm/.npy (scene units), depth.png, the plain diffusion, the reference image,
    points.ply, point CSVs, loss, config, metrics; the report (report.html, summary.png) last."""
    from diffdepth import viz
    from diffdepth.io import write_pfm, write_points_csv
    from diffdepth.report import write_report

    with staged_outputs(out_dir) as stage:
        write_pfm(stage / "depth.pfm", result.depth)
        np.save(stage / "depth.npy", result.depth)
        write_pfm(stage / "depth_plain.pfm", result.plain_depth)
        lo, hi = viz.map_range(result.depth)
        for name, depth in (("depth", result.depth), ("depth_plain", result.plain_depth)):
            viz.save_map_png(
                stage / f"{name}.png", depth, lo, hi, cmap=viz.DEPTH_CMAP, label=viz.DEPTH_LABEL
            )
        viz.save_image_png(stage / "reference.png", scene.images[result.ref])
        write_ply(stage / "points.ply", *depth_to_points(scene, result.ref, result.depth))
        write_points_csv(stage / "points_initial.csv", result.points_initial, "inverse_depth")
        write_points_csv(stage / "points_final.csv", result.points_final, "inverse_depth")
        write_loss_csv(stage / "loss.csv", result.history)
        viz.save_loss_png(stage / "loss.png", result.history.loss, result.history.group)
        info = {
            "config": result.config.to_dict(),
            "timings": result.timings,
            "scene": scene.source,
            "reference": result.name,
            "versions": software_versions(),
        }
        (stage / "config.json").write_text(json.dumps(info, indent=2, default=str))
        (stage / "metrics.json").write_text(json.dumps(result.metrics, indent=2))
        write_report(stage)


def output_folder(out_dir, name: str) -> Path:
    return Path(out_dir) / Path(name).stem


def run_multiview_all(
    scene: MultiViewScene, out_dir, config: MultiViewConfig, progress: bool = True, log=print
) -> dict[str, str]:
    """A depth map for every image, one folder each; finished images are skipped (resumable:
    a folder holds a complete result or nothing); then ``out_dir/index.html`` over them.
    Returns {name: 'done'|'skipped'|message}."""
    status = {}
    for i, name in enumerate(scene.names):
        folder = output_folder(out_dir, name)
        if (folder / "metrics.json").exists() and (folder / "depth.pfm").exists():
            status[name] = "skipped"
            log(f"[{i + 1}/{len(scene)}] {name}: already done, skipped")
            continue
        try:
            result = run_multiview(scene, i, config, progress=progress)
        except InputError as e:
            status[name] = str(e)
            log(f"[{i + 1}/{len(scene)}] {name}: {e}")
            continue
        write_multiview_outputs(result, scene, folder)
        status[name] = "done"
        m = result.metrics
        log(
            f"[{i + 1}/{len(scene)}] {name}: re-projection error (Lab) "
            f"{m['reprojection_error_lab']:.3f} (plain {m['plain_reprojection_error_lab']:.3f}),"
            f" {result.timings['total_s']:.1f} s"
        )
    from diffdepth.report import write_index
    from diffdepth.report.folder import scene_name

    done = [output_folder(out_dir, n) for n, s in status.items() if s in ("done", "skipped")]
    failures = {n: s for n, s in status.items() if s not in ("done", "skipped")}
    title = f"diffdepth: every image of {scene_name(scene.source)}"
    write_index(out_dir, [f.relative_to(out_dir) for f in done], failures, title)
    return status
