"""The multi-view run: sparse points of a reference image, densification, optimisation.

The label is inverse depth, normalised by the median of the initial points so that one set of
learning rates fits every scene scale; the loss sees it in scene units. Depth is the occlusion
key (a larger inverse depth is nearer).

Stages of an optimised run (each one a field of `MultiViewConfig`):

1. views (`points.pinhole.select_views`): the views most alike the reference (viewing
   direction within ``max_angle``, then the nearest; none with a baseline over
   ``max_baseline_ratio`` times the shortest), at most ``max_views``; the loss and every
   photo-consistency test use only them;
2. densify (`points.pinhole.densify_pinhole`): plane-sweep points (steps of 1/8 px) on a 3 px
   grid where the sweep is unambiguous and agrees with the sweep of the nearest view
   (left-right check: that view swept with an adaptive-support window, see
   ``cross_check_window``), when the disparity range is at most ``max_sweep_px``;
3. optimise (`optimize.optimize`): the schedule of ``optim`` (robust occlusion order, occlusion
   cuts, anchors);
4. post-process: colour-weighted median, the light field's edge refinement with pinhole warping
   (`refine.refine_edges_with`), the median again, and pixels no view sees or that fail the
   left-right check (everywhere, or beside a depth edge only: ``cross_check_edges_only``)
   filled from the farther side (`fill_hidden`), then the median once more;
5. trust (`trust_maps`): validity mask and confidence from photo-consistent support.

Thresholds of the sweep, of the occlusion cuts and of the edge refinement are in pixels of
disparity of the nearest selected view (``PinholeViews.px_per_rho``), as on a light field.
``--no-optimize`` is the SPEC's plain diffusion of the sparse points.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from diffdepth.config import MultiViewConfig, SupportConfig
from diffdepth.io.errors import InputError
from diffdepth.losses.multiview import MultiViewLoss
from diffdepth.metrics.reprojection import reprojection_error
from diffdepth.optimize import History, optimize
from diffdepth.pipeline.checks import check_multiview_run
from diffdepth.pipeline.model import (
    build_model,
    check_device,
    final_points,
    plain_model,
    validate_points,
)
from diffdepth.pipeline.outputs import peak_rss_mib, write_json, write_run_record
from diffdepth.types import MultiViewScene, PointSet


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
    mask: np.ndarray | None = None  # bool [H, W]: pixels the depth can be trusted at
    confidence: np.ndarray | None = None  # float32 [H, W] in 0..1 (points.pinhole.photo_support)


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
    config = config or MultiViewConfig.default()
    device = check_device(config.device)
    if len(scene) < 2:
        raise InputError(f"{scene.source}: a multi-view run needs at least two images")
    ref = scene.default_ref() if ref is None else int(ref)
    if not 0 <= ref < len(scene):
        raise InputError(f"{scene.source}: reference image {ref} is not one of its {len(scene)}")
    name = scene.names[ref]
    image = scene.images[ref]
    if points is None:
        points = reference_point_set(scene, ref)
    points = validate_points(points, image.shape[:2], f"{scene.source}: {name}", positive=True)
    check_multiview_run(scene, ref, len(points), config)
    torch.manual_seed(config.seed)
    t0 = time.perf_counter()
    scale = float(np.median(points.value))
    if not scale > 0:
        raise InputError(f"{scene.source}: {name}: the sparse points lie behind the camera")
    spread = points.value / scale
    if spread.max() > 1e6 or spread.min() < 1e-6:
        raise InputError(
            f"{scene.source}: {name}: inverse depths span more than 10^6 around their median "
            f"{scale:g} ({points.value.min():g} .. {points.value.max():g}); expected one scene"
        )
    from diffdepth.points.pinhole import PinholeViews, select_views

    views = select_views(scene, ref, config.max_views, config.max_angle, config.max_baseline_ratio)
    pv = PinholeViews.from_scene(scene, ref, views, rho=scale)
    px_per_label = scale * pv.px_per_rho  # px of disparity of the nearest view per label unit
    normalised = PointSet(points.xy, points.value / scale, points.confidence)
    # the SPEC's plain diffusion: occlusion order by label, smoothness from Sobel alone
    plain = build_model(image, normalised, plain_model(config.model), device)
    with torch.no_grad():
        plain_inv = plain().double().cpu().numpy() * scale
    model = plain
    history = History()
    timings = {}
    n_added = n_refined = 0
    if config.optimize:
        t1 = time.perf_counter()
        model_points = normalised
        rho_range = _sweep_range(points.value)
        # the sweep runs with at most max_levels levels, so its step grows with the range; a
        # wide baseline (a ring of cameras around an object: thousands of levels at the
        # configured step) would be swept so coarsely that it aliases (on templeSparseRing
        # the swept points raised the re-projection error from 7.24 to 7.65); there the
        # SPEC's edge points are added instead
        fastest = float(np.abs(pv.offsets).max()) * pv.px_per_rho  # px per unit of rho
        sweep_ok = (rho_range[1] - rho_range[0]) * fastest <= config.max_sweep_px
        if config.densify and sweep_ok:
            from diffdepth.pipeline.lightfield import merge_points
            from diffdepth.points.pinhole import densify_pinhole

            added = densify_pinhole(pv, points, _sweep_range(points.value), config.sweep)
            if config.cross_check_views > 0 and len(added):
                from diffdepth.points.pinhole import cross_check

                at = np.round(added.xy).astype(np.int64)
                rho_map = np.zeros(image.shape[:2])
                rho_map[at[:, 1], at[:, 0]] = added.value
                checked = views[: config.cross_check_views]
                ok = cross_check(
                    scene, ref, rho_map, checked, _sweep_range(points.value), _check_sweep(config)
                )
                added = added.subset(ok[at[:, 1], at[:, 0]])
            n_added = len(added)
            model_points = merge_points(
                normalised, PointSet(added.xy, added.value / scale, added.confidence)
            )
        timings["densify_s"] = time.perf_counter() - t1
        model_config = config.model.replace(cut_jump=config.model.cut_jump / px_per_label)
        model = build_model(image, model_points, model_config, device)
        gen = torch.Generator().manual_seed(config.seed)
        loss = MultiViewLoss(ref, scene, config.loss, config.n_views, gen, views, device=device)

        def loss_fn(D):
            return loss(D * scale)

        densify = None
        n_edge = config.densify_points if sweep_ok else config.edge_points_wide
        if n_edge > 0:
            densify = _edge_sampler(image, n_edge, config.seed, model.xy.detach())
        t1 = time.perf_counter()
        history = optimize(model, loss_fn, config.optim, progress=progress, densify=densify)
        timings["optimise_s"] = time.perf_counter() - t1
    with torch.no_grad():
        inv = model().double().cpu().numpy() * scale
    if config.optimize:
        t1 = time.perf_counter()
        inv, n_refined = _postprocess(inv, pv, config, scene if sweep_ok else None, ref, rho_range)
        timings["postprocess_s"] = time.perf_counter() - t1
    final = final_points(model)
    final = PointSet(final.xy, final.value * scale, final.confidence)
    depth = _to_depth(inv)
    plain_depth = _to_depth(plain_inv)
    t1 = time.perf_counter()
    mask, confidence = trust_maps(pv, inv, config.support)
    timings["mask_s"] = time.perf_counter() - t1
    t_total = time.perf_counter() - t0
    metrics = {
        "reprojection_error_lab": reprojection_error(depth, ref, scene),
        "plain_reprojection_error_lab": reprojection_error(plain_depth, ref, scene),
        "points_initial": len(points),
        "points_swept": n_added,
        "points_final": len(final),
        "pixels_refined": n_refined,
        "views": [scene.names[k] for k in views],
        "valid_fraction": float(mask.mean()),
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
        timings={**timings, "total_s": t_total, "peak_rss_mib": peak_rss_mib()},
        config=config,
        mask=mask,
        confidence=confidence,
    )


def _sweep_range(rho: np.ndarray) -> tuple[float, float]:
    """Inverse depths the plane sweep covers: the points' range (0.5 to 99.5 percentiles)
    widened by a quarter on each side, never below 0 (infinity)."""
    lo, hi = np.percentile(rho, [0.5, 99.5])
    pad = 0.25 * (hi - lo) + 0.05 * hi
    return max(float(lo - pad), 0.0), float(hi + pad)


def _check_sweep(config: MultiViewConfig):
    """The sweep settings of the left-right check (`points.pinhole.cross_check`)."""
    return replace(config.sweep, window=config.cross_check_window, gamma=config.cross_check_gamma)


def _postprocess(
    inv: np.ndarray, pv, config: MultiViewConfig, scene=None, ref=None, rho_range=None
) -> tuple[np.ndarray, int]:
    """Colour-weighted median, edge refinement with pinhole warping, median again, in px of
    disparity of the nearest view. inv [H, W] inverse depth -> (inverse depth, pixels refined)."""
    from diffdepth.postfilter import weighted_median
    from diffdepth.refine import refine_edges_with

    unit = pv.px_per_rho
    disp = np.asarray(inv, np.float64) * unit
    # wide baselines: a slanted surface changes its disparity by many px over 3 px; a jump is
    # then also relative to the scene's disparity (refine_relative of its median)
    median = float(np.median(disp))
    refine = replace(
        config.refine,
        jump=max(config.refine.jump, config.refine_relative * median),
        min_change=max(config.refine.min_change, 0.5 * config.refine_relative * median),
    )
    m = config.median
    if config.postfilter:
        disp = weighted_median(disp, pv.ref, m.radius, m.sigma_colour, m.sigma_space)
    n_refined = 0
    if config.edge_refine:
        member = pv.subsets()

        def map_costs(Dm, need, out):
            pv.subset_costs(Dm / unit, need, member, out)

        disp, n_refined = refine_edges_with(disp, pv.ref, map_costs, len(member), refine)
        if config.postfilter and n_refined:
            disp = weighted_median(disp, pv.ref, m.radius, m.sigma_colour, m.sigma_space)
    rho = np.asarray(disp, np.float64) / unit
    if config.fill_hidden:
        from diffdepth.points.pinhole import cross_check, fill_hidden, visibility

        hidden = ~visibility(pv, rho).any(0)
        checked = pv.indices[: config.cross_check_views] if scene is not None else []
        if checked:
            from diffdepth.refine import edge_mask

            near_edge = edge_mask(rho * unit, refine) if config.cross_check_edges_only else True
            ok = cross_check(scene, ref, rho, checked, rho_range, _check_sweep(config))
            hidden |= near_edge & ~ok
        nearest = int(np.argmin(np.linalg.norm(pv.offsets, axis=1)))
        rho = fill_hidden(rho, hidden, pv.offsets[nearest])
        if checked and config.postfilter:
            # the fill copies values along the motion's direction, and the sweep the check
            # compares with flags scattered pixels: the median again removes the streaks
            # (a Tsukuba pair: bad pixels > 1 px 4.98 -> 4.77 %)
            disp = weighted_median(rho * unit, pv.ref, m.radius, m.sigma_colour, m.sigma_space)
            rho = np.asarray(disp, np.float64) / unit
    return rho, n_refined


def trust_maps(pv, inverse_depth: np.ndarray, config: SupportConfig):
    """Validity mask bool [H, W] and confidence float32 [H, W] of an inverse-depth map: the
    pixels with photo-consistent support in enough of the selected views (`photo_support`),
    cleaned by `validity_mask`; confidence 0 outside the mask."""
    from diffdepth.points.pinhole import photo_support, validity_mask, visibility

    inv = np.asarray(inverse_depth, np.float64)
    ok = np.isfinite(inv) & (inv > 0)
    rho = np.where(ok, inv, 0.0)
    supported, confidence = photo_support(pv, rho, config)
    seen = visibility(pv, rho).any(0) & ok
    mask = validity_mask(supported & ok, seen)
    return mask, np.where(mask, confidence, 0.0).astype(np.float32)


def _to_depth(inverse_depth: np.ndarray) -> np.ndarray:
    """1 / inverse depth; non-positive inverse depth (no finite depth) becomes NaN."""
    inv = np.asarray(inverse_depth, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.where(inv > 1e-9, 1.0 / inv, np.nan)
    return depth.astype(np.float32)


def pixel_points(scene: MultiViewScene, ref: int, depth: np.ndarray) -> np.ndarray:
    """World points float64 [H, W, 3] of every pixel of image ``ref`` at depth [H, W]."""
    h, w = depth.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    pix = np.stack([xs, ys, np.ones_like(xs)], -1)
    cam = (pix @ np.linalg.inv(scene.K[ref]).T) * np.asarray(depth, np.float64)[..., None]
    return (cam - scene.t[ref]) @ scene.R[ref]  # R^T (x_cam - t)


def depth_normals(scene: MultiViewScene, ref: int, depth: np.ndarray) -> np.ndarray:
    """Unit normals float32 [H, W, 3] (world) of the surface a depth map describes, from
    central differences of its points, turned towards the camera; NaN where undefined."""
    X = pixel_points(scene, ref, depth)
    dx = np.zeros_like(X)
    dy = np.zeros_like(X)
    dx[:, 1:-1] = X[:, 2:] - X[:, :-2]
    dy[1:-1] = X[2:] - X[:-2]
    dx[:, 0], dx[:, -1] = X[:, 1] - X[:, 0], X[:, -1] - X[:, -2]
    dy[0], dy[-1] = X[1] - X[0], X[-1] - X[-2]
    n = np.cross(dx, dy)
    with np.errstate(invalid="ignore", divide="ignore"):
        n /= np.linalg.norm(n, axis=-1, keepdims=True)
    towards = scene.centre(ref) - X
    flip = np.sum(n * towards, axis=-1) < 0
    n[flip] *= -1.0
    return n.astype(np.float32)


def depth_to_points(
    scene: MultiViewScene, ref: int, depth: np.ndarray, mask: np.ndarray | None = None
):
    """World points float32 [M, 3] and colours uint8 [M, 3] of the pixels with a finite
    positive depth (and in ``mask``), with their pixel indices (rows, cols)."""
    ok = np.isfinite(depth) & (depth > 0)
    if mask is not None:
        ok &= mask
    rows, cols = np.nonzero(ok)
    world = pixel_points(scene, ref, np.where(ok, depth, 0.0))[rows, cols]
    rgb = (np.clip(scene.images[ref][rows, cols], 0, 1) * 255).round().astype(np.uint8)
    return world.astype(np.float32), rgb, (rows, cols)


def scene_with_sparse_points(
    scene: MultiViewScene, saved: Path, seed: int, verbose: bool = False, log=print
) -> tuple[MultiViewScene, str]:
    """The scene with sparse points (it has none) and the fingerprint of those points: read
    from the model saved in the folder ``saved`` (`points.colmap.SPARSE_FOLDER` of an earlier
    result, or of ``run --all``'s output) when that folder belongs to a whole result and was
    made from the same images, cameras and ``seed``; else matched and triangulated by COLMAP
    with ``seed`` (`points.colmap.sparse_points`)."""
    from diffdepth.points.colmap import load_sparse_model, sparse_fingerprint, sparse_points

    fingerprint = sparse_fingerprint(scene, seed)
    saved = Path(saved)
    whole = is_whole_result(saved) or is_whole_result(saved.parent)
    loaded = load_sparse_model(saved, scene, fingerprint) if whole else None
    if loaded is not None:
        log(f"{scene.source}: {len(loaded.points3d)} sparse points from {saved}")
        return loaded, fingerprint
    log(f"{scene.source}: no sparse points; matching and triangulating them (pycolmap)")
    return sparse_points(scene, verbose=verbose, seed=seed), fingerprint


def write_sparse_result(folder: Path, scene: MultiViewScene, fingerprint: str) -> None:
    """The scene's sparse model as a result folder of its own (whole or absent; see
    `points.colmap.save_sparse_model`), unless ``folder`` already holds it whole."""
    from diffdepth.io.results import check_result_target, staged_result
    from diffdepth.points.colmap import load_sparse_model, save_sparse_model

    if is_whole_result(folder) and load_sparse_model(folder, scene, fingerprint) is not None:
        return
    out = check_result_target(folder)
    with staged_result(out, {"fingerprint": fingerprint}) as stage:
        save_sparse_model(stage, scene, fingerprint)


def write_multiview_outputs(
    result: MultiViewResult,
    scene: MultiViewScene,
    out_dir,
    manifest_extra: dict | None = None,
    staging_dir=None,
    sparse_fingerprint: str | None = None,
) -> Path:
    """Write the result folder ``out_dir`` whole or not at all (`diffdepth.io.results`):
    depth.pfm/.npy (scene units, every pixel), depth_u16.png (16-bit, valid pixels, scale in
    config.json and metrics.json), depth_maps/NAME.geometric.bin (COLMAP, valid pixels),
    depth.png, the plain diffusion, the reference image, mask.png/.npy, confidence.npy/.png,
    points.ply (valid pixels with normals and confidence), point CSVs, loss, config, metrics,
    the report (report.html, summary.png) and manifest.json last; with
    ``sparse_fingerprint`` (the scene's sparse points were computed for this run) also the
    sparse model in sparse/ (`points.colmap.save_sparse_model`), which a later run into the
    same folder reuses. An earlier result there is replaced; a folder that is not a diffdepth
    result is refused. Returns the folder."""
    from diffdepth import viz
    from diffdepth.io import write_pfm
    from diffdepth.io.depth_formats import write_colmap_depth, write_depth_png16, write_ply
    from diffdepth.io.results import check_result_target, staged_result
    from diffdepth.report import write_report

    h, w = result.depth.shape
    mask = result.mask if result.mask is not None else np.ones((h, w), bool)
    conf = result.confidence if result.confidence is not None else np.ones((h, w), np.float32)
    out = check_result_target(out_dir)
    with staged_result(out, manifest_extra, staging_dir) as stage:
        write_pfm(stage / "depth.pfm", result.depth)
        np.save(stage / "depth.npy", result.depth)
        write_pfm(stage / "depth_plain.pfm", result.plain_depth)
        lo, hi = viz.map_range(np.where(mask, result.depth, np.nan))
        for name, depth in (("depth", result.depth), ("depth_plain", result.plain_depth)):
            viz.save_map_png(
                stage / f"{name}.png", depth, lo, hi, cmap=viz.DEPTH_CMAP, label=viz.DEPTH_LABEL
            )
        viz.save_image_png(stage / "reference.png", scene.images[result.ref])
        png_scale = write_depth_png16(stage / "depth_u16.png", result.depth, mask)
        (stage / "depth_maps").mkdir()
        colmap_bin = stage / "depth_maps" / f"{result.name}.geometric.bin"
        colmap_bin.parent.mkdir(parents=True, exist_ok=True)  # image names with sub-folders
        write_colmap_depth(colmap_bin, result.depth, mask)
        np.save(stage / "mask.npy", mask)
        viz.save_mask_png(stage / "mask.png", mask)
        np.save(stage / "confidence.npy", conf)
        viz.save_map_png(stage / "confidence.png", conf, 0.0, 1.0, "viridis", "confidence (0..1)")
        xyz, rgb, (rows, cols) = depth_to_points(scene, result.ref, result.depth, mask)
        normals = depth_normals(scene, result.ref, result.depth)[rows, cols]
        write_ply(stage / "points.ply", xyz, rgb, np.nan_to_num(normals), conf[rows, cols])
        outputs = {"depth_u16_png_scale": png_scale, "depth_u16_png": "depth = value / scale"}
        info = {"scene": scene.source, "reference": result.name, "outputs": outputs}
        write_run_record(stage, result, "inverse_depth", info)
        write_json(stage / "metrics.json", {**result.metrics, "depth_u16_png_scale": png_scale})
        if sparse_fingerprint is not None:
            from diffdepth.points.colmap import SPARSE_FOLDER, save_sparse_model

            save_sparse_model(stage / SPARSE_FOLDER, scene, sparse_fingerprint)
        write_report(stage)
    return out


def fuse_depth_maps(
    scene: MultiViewScene,
    depths: dict[int, np.ndarray],
    masks: dict[int, np.ndarray],
    confidences: dict[int, np.ndarray] | None = None,
    max_rel_error: float = 0.01,
    min_agree: int = 1,
):
    """One point cloud from the depth maps of several images, kept where they agree.

    Every valid pixel of image i becomes a world point; it is kept when it projects into at
    least ``min_agree`` other images j with a map (inside the image, in front, on a valid
    pixel) whose depth there is within ``max_rel_error`` (relative) of the point's depth in
    camera j. Returns xyz float32 [M, 3], colours uint8 [M, 3], normals float32 [M, 3] and
    confidence float32 [M]."""
    out = {"xyz": [], "rgb": [], "n": [], "q": []}
    for i, depth in depths.items():
        xyz, rgb, (rows, cols) = depth_to_points(scene, i, depth, masks[i])
        agree = np.zeros(len(xyz), np.int64)
        for j, dj in depths.items():
            if j == i:
                continue
            xy, z = scene.project(j, xyz.astype(np.float64))
            hj, wj = dj.shape
            u, v = np.round(xy[:, 0]), np.round(xy[:, 1])
            inside = (z > 0) & (u >= 0) & (u < wj) & (v >= 0) & (v < hj)
            ui = np.where(inside, u, 0).astype(np.int64)
            vi = np.where(inside, v, 0).astype(np.int64)
            dz = dj[vi, ui]
            ok = inside & masks[j][vi, ui] & np.isfinite(dz)
            ok &= np.abs(dz - z) <= max_rel_error * np.abs(z)
            agree += ok
        keep = agree >= min_agree
        normals = depth_normals(scene, i, depth)[rows, cols]
        conf = (
            confidences[i][rows, cols] if confidences is not None else np.ones(len(xyz), np.float32)
        )
        out["xyz"].append(xyz[keep])
        out["rgb"].append(rgb[keep])
        out["n"].append(np.nan_to_num(normals[keep]))
        out["q"].append(conf[keep].astype(np.float32))
    if not out["xyz"]:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.uint8), np.zeros((0, 3)), []
    return tuple(np.concatenate(out[k]) for k in ("xyz", "rgb", "n", "q"))


def write_fused_cloud(
    scene: MultiViewScene, out_dir, folders: dict[str, Path] | None = None, log=print
) -> int | None:
    """fused.ply in ``out_dir`` (written atomically) from the per-image result folders of
    `run_multiview_all` that verify against their manifests (depth.npy, mask.npy,
    confidence.npy), checked for consistency between views (`fuse_depth_maps`).
    folders: {image name: its result folder} (default: the names `run_multiview_all` gives).
    Returns the number of points, None when fewer than two images have a whole result."""
    from diffdepth.io.depth_formats import write_ply
    from diffdepth.io.results import image_result_names

    out = Path(out_dir)
    if folders is None:
        folders = {n: out / f for n, f in image_result_names(scene.names).items()}
    depths, masks, confs = {}, {}, {}
    for i, name in enumerate(scene.names):
        folder = folders[name]
        if is_whole_result(folder):
            files = [folder / f for f in ("depth.npy", "mask.npy", "confidence.npy")]
            depths[i], masks[i], confs[i] = (np.load(f, allow_pickle=False) for f in files)
    if len(depths) < 2:
        return None
    xyz, rgb, normals, conf = fuse_depth_maps(scene, depths, masks, confs)
    write_ply(out / "fused.ply", xyz, rgb, normals, conf)
    log(f"fused point cloud: {len(xyz)} points from {len(depths)} images -> fused.ply")
    return len(xyz)


def settings_fingerprint(scene: MultiViewScene, name: str, config: MultiViewConfig) -> str:
    """SHA-256 of what determines one image's result: the scene, the image and the config."""
    import hashlib

    record = {"scene": str(scene.source), "image": name, "config": config.to_dict()}
    text = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def is_whole_result(folder: Path, fingerprint: str | None = None) -> bool:
    """The folder verifies against its manifest (every file there, whole, nothing more), and
    was made with ``fingerprint`` where one is given."""
    from diffdepth.io.manifest import read_manifest, verify_manifest

    manifest = read_manifest(folder)
    if manifest is None or verify_manifest(folder):
        return False
    return fingerprint is None or manifest.get("extra", {}).get("fingerprint") == fingerprint


def run_multiview_all(
    scene: MultiViewScene,
    out_dir,
    config: MultiViewConfig,
    progress: bool = True,
    log=print,
    sparse_fingerprint: str | None = None,
) -> dict[str, str]:
    """A depth map for every image, one whole-or-absent result folder each (its name made
    from the image's, safe and unique: `diffdepth.io.results.image_result_names`), then
    ``out_dir/index.html`` over them. Resumable: an image whose folder verifies against its
    manifest and was made with the same settings is skipped; any other is run (again).
    sparse_fingerprint: the scene's sparse points were computed for this run
    (`scene_with_sparse_points`); they are saved first, once, in ``out_dir/sparse`` (a result
    folder of its own), where a resumed run finds them. Returns {name: 'done'|'skipped'|
    message}."""
    from diffdepth.io.results import check_result_target, image_result_names
    from diffdepth.points.colmap import SPARSE_FOLDER

    out = check_result_target(out_dir, container=True)
    folders = {n: out / f for n, f in image_result_names(scene.names).items()}
    for folder in folders.values():
        check_result_target(folder)  # refuse what is not a result, clear killed runs' leftovers
    if sparse_fingerprint is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_sparse_result(out / SPARSE_FOLDER, scene, sparse_fingerprint)
    status = {}
    for i, name in enumerate(scene.names):
        folder = folders[name]
        fingerprint = settings_fingerprint(scene, name, config)
        if is_whole_result(folder, fingerprint):
            status[name] = "skipped"
            log(f"[{i + 1}/{len(scene)}] {name}: already done, skipped")
            continue
        try:
            result = run_multiview(scene, i, config, progress=progress)
        except InputError as e:
            status[name] = str(e)
            log(f"[{i + 1}/{len(scene)}] {name}: {e}")
            continue
        extra = {"image": name, "fingerprint": fingerprint}
        write_multiview_outputs(result, scene, folder, manifest_extra=extra)
        status[name] = "done"
        m = result.metrics
        log(
            f"[{i + 1}/{len(scene)}] {name}: re-projection error (Lab) "
            f"{m['reprojection_error_lab']:.3f} (plain {m['plain_reprojection_error_lab']:.3f}),"
            f" {result.timings['total_s']:.1f} s, valid {100 * m['valid_fraction']:.1f} %"
            f" -> {folder.name}"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_fused_cloud(scene, out, folders, log=log)
    from diffdepth.report import write_index
    from diffdepth.report.folder import scene_name

    done = [folders[n] for n, s in status.items() if s in ("done", "skipped")]
    failures = {n: s for n, s in status.items() if s not in ("done", "skipped")}
    title = f"diffdepth: every image of {scene_name(scene.source)}"
    write_index(out, [f.relative_to(out) for f in done], failures, title)
    return status
