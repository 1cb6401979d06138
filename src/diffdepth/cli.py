"""The ``diffdepth`` command: run, demo, points, score, batch.

Bad input never ends in a traceback: every user error is one line naming the file or the flag
and what was expected, and the exit status is 2. Messages go through `logging` (the
``diffdepth`` logger): ``--quiet`` keeps only warnings and errors, ``--verbose`` adds details
and COLMAP's own log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diffdepth import __version__
from diffdepth.io.errors import InputError, flag_wording

log = logging.getLogger("diffdepth")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends with its default, where it has one to show (not for switches
    that are off or options whose default depends on the input)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class UsageError(Exception):
    """A command line argparse cannot take (printed on one line, exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line: raised, not printed with the usage and exited."""

    def error(self, message: str):
        text = " ".join(str(message).split())
        raise UsageError(f"{text} (see: {self.prog} --help)")


#: the largest grid side, and the most views, a folder of views may have
MAX_GRID_SIDE = 1000
MAX_VIEWS = 10000


def _grid(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
        if not (1 <= rows <= MAX_GRID_SIDE and 1 <= cols <= MAX_GRID_SIDE):
            raise ValueError
        if rows * cols > MAX_VIEWS:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--grid wants ROWSxCOLS such as 1x5 (each from 1 to {MAX_GRID_SIDE}, at most "
            f"{MAX_VIEWS} views), not {text!r}"
        ) from None
    return rows, cols


def _int_in(flag: str, lo: int, hi: int):
    """An argparse type: an integer from lo to hi (inclusive)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{flag} wants an integer from {lo} to {hi}, not {text!r}"
            )
        return value

    return parse


def _finite(flag: str, nonzero: bool = False):
    """An argparse type: a finite number (and not zero, with nonzero)."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (nonzero and value == 0.0):
            what = "a finite, non-zero number" if nonzero else "a finite number"
            raise argparse.ArgumentTypeError(f"{flag} wants {what}, not {text!r}")
        return value

    return parse


MAX_SEED = 2**32 - 1


def _add_output_flags(p: argparse.ArgumentParser) -> None:
    loud = p.add_mutually_exclusive_group()
    loud.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but warnings and errors"
    )
    loud.add_argument(
        "-v", "--verbose", action="store_true", help="print details, with COLMAP's own log"
    )


def _add_gt_scale(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gt-scale",
        type=_finite("--gt-scale", nonzero=True),
        default=1.0,
        help="multiply the gt file by this",
    )


def _add_common_run_flags(p: argparse.ArgumentParser, replay: bool = False) -> None:
    """The flags of every command that makes maps. A flag given explicitly overrides the
    preset (or, with ``replay``, the --config file): the flags default to None (unset), and
    their help says the value they stand for."""
    from diffdepth.config import PRESETS, describe_preset

    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="schedule of the optimisation, as passes x phases x Adam steps per phase "
        "(default: default): "
        + "; ".join(f"{name}: {describe_preset(name)}" for name in PRESETS)
        + ". 'paper' is the paper's schedule (its light-field loss compared VGG features: "
        "add --distance vgg); --passes and --iters override any of them",
    )
    start.add_argument(
        "--plain",
        action="store_true",
        help="the paper's baseline: the plain diffusion of the initial points (occlusion order "
        "by label, smoothness from Sobel alone, no densification, post-filter or refinement)",
    )
    if replay:
        start.add_argument(
            "--config",
            metavar="FILE",
            help="replay a run: take every setting from its result's config.json (the flags "
            "given here override it; with the same seed the map is the same)",
        )
    p.add_argument(
        "--no-optimize",
        action="store_true",
        help="skip the optimisation stage alone (the other stages still run)",
    )
    p.add_argument(
        "--supervised",
        action="store_true",
        help="light fields: optimise against the ground truth (validation)",
    )
    p.add_argument(
        "--views",
        choices=["crosshair", "all"],
        default=None,
        help="light fields: views in the loss, the central row and column or every view "
        "(default: crosshair)",
    )
    p.add_argument(
        "--distance",
        choices=["rgb", "vgg", "vgg_warp"],
        default=None,
        help="light fields: compare colours, the first VGG16 block's features of the warped "
        "views (slow on a CPU), or those of the views computed once and warped (vgg_warp) "
        "(default: rgb)",
    )
    p.add_argument(
        "--device", choices=["cpu", "cuda"], default=None, help="where to compute (default: cpu)"
    )
    p.add_argument(
        "--seed",
        type=_int_in("--seed", 0, MAX_SEED),
        default=None,
        help="random seed: view subsets, samples, COLMAP's RANSAC (default: 0)",
    )
    p.add_argument(
        "--passes",
        type=_int_in("--passes", 0, 1000),
        default=None,
        help="passes over the phases (default: the preset's)",
    )
    p.add_argument(
        "--iters",
        type=_int_in("--iters", 0, 100000),
        default=None,
        help="Adam steps per phase (default: the preset's)",
    )
    p.add_argument(
        "--no-refine",
        action="store_true",
        help="light fields: no refinement after optimising (neither the edge pass nor the "
        "EPI orientation pass)",
    )
    _add_output_flags(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="diffdepth",
        description="Dense disparity/depth from sparse points by differentiable diffusion.",
        epilog="Each command has its own options: diffdepth COMMAND --help",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"diffdepth {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help, description=description, formatter_class=_HelpFormatter
        )

    run = command(
        "run",
        "dense map of a light field or a multi-view scene",
        "Dense disparity of a light field's central view, or dense depth of one image (or, "
        "with --all, of every image) of a calibrated multi-view scene. Writes the maps, "
        "pictures, metrics and report.html into --out.",
    )
    run.add_argument("scene", help="scene folder (HCI, grid views, image row, COLMAP, Middlebury)")
    run.add_argument(
        "--out",
        required=True,
        help="result folder (replaced whole; a folder that is not a diffdepth result is refused)",
    )
    run.add_argument(
        "--points",
        metavar="FILE",
        help="initial points, CSV with header x,y,disparity[,confidence] (light fields; "
        "x,y,inverse_depth for multi-view); default: EPI points or the scene's sparse points",
    )
    run.add_argument(
        "--grid",
        type=_grid,
        metavar="ROWSxCOLS",
        help="rows x columns of views of a plain folder of views (default: from the names)",
    )
    run.add_argument(
        "--gt",
        metavar="FILE",
        help="ground-truth disparity map (PFM, NPY, PGM, PNG); default: the HCI folder's",
    )
    _add_gt_scale(run)
    run.add_argument(
        "--ref",
        metavar="NAME",
        help="multi-view: reference image name (default: the one that sees the most points)",
    )
    run.add_argument(
        "--all", action="store_true", help="multi-view: a map for every image, and index.html"
    )
    _add_common_run_flags(run, replay=True)

    demo = command(
        "demo",
        "the whole pipeline on the built-in synthetic scene",
        "Noisy sparse points of a synthetic light field with exact ground truth, their plain "
        "diffusion and the optimised map, with the accuracy of both.",
    )
    demo.add_argument("--out", default="demo_out", help="output folder")
    _add_common_run_flags(demo)

    pts = command(
        "points",
        "EPI points of a light field, as CSV and PNG overlay",
        "Sparse disparity points of a light field's central view from EPI line detection.",
    )
    pts.add_argument("scene", help="light-field folder")
    pts.add_argument(
        "--out",
        required=True,
        help="result folder: points.csv, points.png (the points over the view), config.json",
    )
    pts.add_argument(
        "--grid", type=_grid, metavar="ROWSxCOLS", help="rows x columns of views of the folder"
    )
    _add_output_flags(pts)

    score = command(
        "score",
        "HCI metrics of a disparity map against ground truth",
        "MSE x100, MAE, Q25 x100 and BadPix of a disparity map (HCI definitions).",
    )
    score.add_argument("est", help="estimated disparity map (PFM, NPY, PGM, PNG)")
    score.add_argument("gt", help="ground-truth disparity map")
    _add_gt_scale(score)
    score.add_argument(
        "--est-scale",
        type=_finite("--est-scale", nonzero=True),
        default=1.0,
        help="multiply the estimate by this",
    )
    score.add_argument(
        "--border",
        type=_int_in("--border", 0, 100000),
        default=15,
        help="pixels left out at each border",
    )
    score.add_argument("--invalid-zero", action="store_true", help="gt value 0 = unknown")
    score.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_batch_and_threads(sub)
    return parser


def _config(kind, args, record: dict | None = None):
    """A run kind's config of the flags every kind has: its start (the replayed ``record`` of
    --config, --plain or the --preset), then the flags given: --no-optimize, --device, --seed,
    --passes and --iters."""
    if record is not None:
        base = _replayed_config(kind, record)
    elif args.plain:
        base = kind.plain()
    else:
        base = kind.preset(args.preset or "default")
    optim = base.optim
    if args.passes is not None:
        optim = optim.replace(passes=args.passes)
    if args.iters is not None:
        optim = optim.replace(iters_per_phase=args.iters)
    changes = {"optim": optim, "optimize": base.optimize and not args.no_optimize}
    if args.device is not None:
        changes["device"] = args.device
    if args.seed is not None:
        changes["seed"] = args.seed
    return base.replace(**changes)


def read_run_record(path: str) -> dict:
    """The record of a run (its result folder's config.json, or the folder) for --config:
    a JSON object with a "config" object; InputError naming the file otherwise."""
    file = Path(path)
    if file.is_dir():
        file = file / "config.json"
    where = f"--config {file}"
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{where}: no such file (expected a result's config.json)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: cannot be read ({e.__class__.__name__})") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{where}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise InputError(
            f'{where}: expected a result\'s config.json, an object with a "config" object'
        )
    record["file"] = str(file)
    return record


def _replayed_config(kind, record: dict):
    """The ``kind`` config of a run record, with its keys checked; a warning when it was
    written by other versions of the software."""
    from diffdepth.pipeline.outputs import software_versions

    where = f"--config {record['file']}"
    recorded = record.get("config_kind")
    if recorded is not None and recorded != kind.__name__:
        what = {"LightFieldConfig": "a light field", "MultiViewConfig": "a multi-view scene"}
        raise InputError(
            f"{where}: config_kind {recorded!r} is the config of "
            f"{what.get(recorded, 'another kind of run')}; this scene needs a {kind.__name__}"
        )
    try:
        config = kind.from_dict(record["config"], where="config")
    except (ValueError, TypeError) as e:
        raise InputError(f"{where}: {e}") from None
    versions = record.get("versions")
    if isinstance(versions, dict):
        now = software_versions()
        differ = [
            f"{k} {versions[k]} (now {now.get(k, 'absent')})"
            for k in ("diffdepth", "torch", "numpy", "pycolmap")
            if k in versions and versions[k] != now.get(k)
        ]
        if differ:
            log.warning(
                f"{where} was written with {', '.join(differ)}: the map may differ slightly"
            )
    return config


def _run_config(args, record: dict | None = None):
    """The light-field config of the flags."""
    from diffdepth.config import LightFieldConfig

    config = _config(LightFieldConfig, args, record)
    changes = {
        "supervised": config.supervised or args.supervised,
        "edge_refine": config.edge_refine and not args.no_refine,
    }
    if args.views is not None:
        changes["views"] = args.views
    if args.distance is not None:
        changes["loss"] = config.loss.replace(distance=args.distance)
    return config.replace(**changes)


def _log_metrics(metrics: dict, prefix: str = "") -> None:
    keys = ["mse_x100", "badpix_0.07", "badpix_0.03", "badpix_0.01", "q25_x100"]
    if any(f"{prefix}{k}" in metrics for k in keys):
        log.info("  ".join(f"{k} {metrics[prefix + k]:.3f}" for k in keys if prefix + k in metrics))


def _log_reprojection(metrics: dict) -> None:
    if "reprojection_error_lab" in metrics:
        err = metrics["reprojection_error_lab"]
        text = f"re-projection error (Lab) into the corner views {err:.3f}"
        if "plain_reprojection_error_lab" in metrics:
            text += f" (plain diffusion {metrics['plain_reprojection_error_lab']:.3f})"
        log.info(text)


def _read_points(path: str | None):
    from diffdepth.io import read_points_csv

    return read_points_csv(path) if path else None


def cmd_run(args) -> int:
    from diffdepth.io import is_multiview
    from diffdepth.io.results import check_result_target

    if is_multiview(args.scene):
        return cmd_run_multiview(args)
    if args.ref or args.all:
        raise InputError(
            f"{args.scene}: --ref and --all are for multi-view scenes (a COLMAP model or a "
            "Middlebury *_par.txt), and this folder holds neither"
        )
    from diffdepth.io import read_lightfield, scan_lightfield
    from diffdepth.pipeline import run_lightfield, write_lightfield_outputs
    from diffdepth.pipeline.checks import check_lightfield_run

    config = _run_config(args, _record(args))
    out = check_result_target(args.out)
    layout = scan_lightfield(args.scene, grid=args.grid, gt=args.gt)
    points = _read_points(args.points)
    # everything that can be known before decoding the views is checked now (the ground
    # truth's pixels once read, before any computation, in run_lightfield)
    name = layout.folder.resolve().name
    n_points = None if points is None else len(points)
    has_gt = layout.gt_path is not None
    check_lightfield_run(
        name, layout.grid, layout.shape, n_points, config, views_loaded=False, has_gt=has_gt
    )
    lf = read_lightfield(args.scene, gt_scale=args.gt_scale, layout=layout)
    t0 = time.perf_counter()
    result = run_lightfield(lf, points, config, progress=_progress(args))
    write_lightfield_outputs(result, lf, out)
    log.info(
        f"{lf.name}: {len(result.points_initial)} points, {time.perf_counter() - t0:.1f} s,"
        f" disparity written to {out / 'disparity.pfm'}"
    )
    _log_metrics(result.metrics)
    _log_reprojection(result.metrics)
    log.info(f"report: {out / 'report.html'}")
    return 0


def _record(args) -> dict | None:
    """The run record of --config (None without it)."""
    path = getattr(args, "config", None)
    return None if path is None else read_run_record(path)


def _multiview_config(args, record: dict | None = None):
    """The multi-view config of the flags."""
    from diffdepth.config import MultiViewConfig

    return _config(MultiViewConfig, args, record)


def _light_field_flags(args) -> str | None:
    """What a multi-view run cannot use, when light-field options were given (else None)."""
    given = args.distance not in (None, "rgb") or args.views not in (None, "crosshair")
    if given or args.supervised or args.no_refine:
        return "--distance, --supervised, --views and --no-refine are light-field options"
    return None


def cmd_run_multiview(args) -> int:
    from diffdepth.io import read_multiview
    from diffdepth.io.results import check_result_target
    from diffdepth.pipeline.multiview import (
        run_multiview,
        run_multiview_all,
        write_multiview_outputs,
    )

    if wrong := _light_field_flags(args):
        raise InputError(
            f"{args.scene}: {wrong}; a multi-view run uses RGB re-projection into random subsets "
            "of views"
        )
    if args.grid or args.gt:
        raise InputError(
            f"{args.scene}: --grid and --gt are for light fields; this is a multi-view scene"
        )
    record = _record(args)
    config = _multiview_config(args, record)
    if record is not None and not args.ref and not args.all:
        # the replayed run's reference image, unless --ref names another
        args.ref = record.get("reference") if isinstance(record.get("reference"), str) else None
    if args.all and args.points:
        raise InputError(f"{args.points}: --points names one image's points; not with --all")
    if args.all and args.ref:
        raise InputError(f"--ref {args.ref}: --all makes a map of every image; not with --ref")
    out = check_result_target(args.out, container=args.all)
    points = _read_points(args.points)
    scene = read_multiview(args.scene)
    ref = None
    if args.ref:
        if args.ref not in scene.names:
            raise InputError(
                f"{scene.source}: --ref {args.ref} is not one of its images "
                f"({', '.join(scene.names[:5])}{', ...' if len(scene) > 5 else ''})"
            )
        ref = scene.names.index(args.ref)
    sparse = None  # the fingerprint of sparse points computed (or reused) for this run
    if points is None and (scene.points3d is None or len(scene.points3d) == 0):
        from diffdepth.pipeline.multiview import scene_with_sparse_points
        from diffdepth.points.colmap import SPARSE_FOLDER

        scene, sparse = scene_with_sparse_points(
            scene, out / SPARSE_FOLDER, config.seed, verbose=args.verbose, log=log.info
        )
    if args.all:
        status = run_multiview_all(
            scene, out, config, progress=_progress(args), log=log.info, sparse_fingerprint=sparse
        )
        failed = [n for n, s in status.items() if s not in ("done", "skipped")]
        return 1 if failed else 0
    result = run_multiview(scene, ref, config, points=points, progress=_progress(args))
    write_multiview_outputs(result, scene, out, sparse_fingerprint=sparse)
    m = result.metrics
    log.info(
        f"{result.name}: {len(result.points_initial)} points, {result.timings['total_s']:.1f} s, "
        f"re-projection error (Lab) {m['reprojection_error_lab']:.3f} "
        f"(plain diffusion {m['plain_reprojection_error_lab']:.3f}); depth in {out / 'depth.pfm'}"
    )
    log.info(f"report: {out / 'report.html'}")
    return 0


def cmd_demo(args) -> int:
    from diffdepth.io.results import check_result_target
    from diffdepth.pipeline import run_lightfield, write_lightfield_outputs
    from diffdepth.points.sampling import noisy_edge_points
    from diffdepth.synth import make_lightfield

    config = _run_config(args)
    out = check_result_target(args.out)
    lf = make_lightfield()
    h, w = lf.gt.shape
    log.info(f"synthetic light field: {lf.views.shape[0]}x{lf.views.shape[1]} views of {w}x{h}")
    points = noisy_edge_points(lf.ref_view, lf.gt, per_tile=20, seed=config.seed)
    result = run_lightfield(lf, points, config, progress=_progress(args))
    write_lightfield_outputs(result, lf, out)
    if any(k.startswith("plain_") for k in result.metrics):
        log.info(f"noisy points ({len(points)}), plain diffusion:")
        _log_metrics(result.metrics, "plain_")
        log.info(f"optimised ({result.timings['total_s']:.1f} s):")
    else:
        log.info(f"noisy points ({len(points)}), plain diffusion:")
    _log_metrics(result.metrics)
    _log_reprojection(result.metrics)
    log.info(f"outputs in {out}/, report: {out / 'report.html'}")
    return 0


def cmd_points(args) -> int:
    from diffdepth.config import EPIConfig, LightFieldConfig
    from diffdepth.io import read_lightfield, scan_lightfield
    from diffdepth.io.results import check_result_target
    from diffdepth.pipeline.lightfield import write_points_outputs
    from diffdepth.points.epi import detect_epi_points

    if Path(args.out).suffix.lower() in (".csv", ".png", ".txt"):
        raise InputError(
            f"--out {args.out}: names a result folder (points.csv, points.png and "
            f"manifest.json go inside it), not a file; try --out {Path(args.out).with_suffix('')}"
        )
    from diffdepth.io import is_multiview

    if is_multiview(args.scene):
        raise InputError(
            f"{args.scene}: a multi-view scene (a COLMAP model or a *_par.txt); points finds "
            "EPI points of light fields (a multi-view run takes the scene's sparse points)"
        )
    out = check_result_target(args.out)
    layout = scan_lightfield(args.scene, grid=args.grid)
    from diffdepth.pipeline.checks import check_lightfield_run

    plain = LightFieldConfig.plain()  # the EPI detector alone
    name = layout.folder.resolve().name
    check_lightfield_run(name, layout.grid, layout.shape, None, plain, views_loaded=False)
    lf = read_lightfield(args.scene, layout=layout)
    t0 = time.perf_counter()
    config = EPIConfig.for_grid(*lf.grid)
    points = detect_epi_points(lf.views, ref=lf.ref, disp_range=lf.disp_range, config=config)
    write_points_outputs(points, lf, out, seconds=time.perf_counter() - t0)
    log.info(f"{len(points)} points in {time.perf_counter() - t0:.1f} s -> {out / 'points.csv'}")
    return 0


def cmd_score(args) -> int:
    from diffdepth.io import read_disparity_map
    from diffdepth.metrics import score_disparity

    est = read_disparity_map(args.est, scale=args.est_scale)
    gt = read_disparity_map(args.gt, scale=args.gt_scale, invalid_zero=args.invalid_zero)
    try:
        metrics = score_disparity(est, gt, border=args.border)
    except ValueError as e:
        raise InputError(f"{args.est}: {e}") from None
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:>20}: {v:.4f}" if isinstance(v, float) else f"{k:>20}: {v}")
        if metrics["nonfinite_estimates"]:
            print(
                f"note: {metrics['nonfinite_estimates']} non-finite estimate(s) counted as bad "
                f"pixels with error {metrics['nonfinite_error']:g} at every threshold"
            )
    return 0


# ---- batch runs and thread counts ------------------------------------------------------------


def _add_batch_and_threads(sub) -> None:
    """The batch subcommand, and --threads on every subcommand."""
    batch = sub.add_parser(
        "batch",
        help="many scenes (or every image of a multi-view set), each its own result",
        description="Run every scene the inputs name, each into OUT/<scene>; resumable (whole "
        "results are skipped), failures reported, an index in OUT/index.html and "
        "OUT/summary.csv. More than one worker, or --address, needs Ray "
        "(pip install 'diffdepth[batch]').",
        formatter_class=_HelpFormatter,
    )
    batch.add_argument(
        "inputs", nargs="+", help="scene folders, folders of scenes, globs or list files (.txt)"
    )
    batch.add_argument("--out", required=True, help="output folder (one folder per task)")
    batch.add_argument(
        "--grid", type=_grid, metavar="ROWSxCOLS", help="rows x columns of plain folders of views"
    )
    batch.add_argument(
        "--workers",
        type=_int_in("--workers", 1, 1024),
        default=1,
        help="tasks at once: 1 runs them in this process, more on a local Ray",
    )
    batch.add_argument(
        "--address", metavar="HOST:PORT", help="run on the Ray cluster at this address instead"
    )
    batch.add_argument(
        "--retries",
        type=_int_in("--retries", 0, 100),
        default=1,
        help="runs again of a task that failed unexpectedly",
    )
    batch.add_argument("--redo", action="store_true", help="run finished tasks again too")
    _add_common_run_flags(batch)
    for name, p in sub.choices.items():
        p.add_argument(
            "--threads",
            type=_int_in("--threads", 1, 1024),
            default=None,
            help="threads of torch, numba and BLAS (default: the cores this process may use"
            + ("; in a batch, divided among the workers)" if name == "batch" else ")"),
        )


def cmd_batch(args) -> int:
    from diffdepth.batch import run_batch

    summary = run_batch(
        args.inputs,
        args.out,
        lightfield=_run_config(args),
        multiview=_multiview_config(args),
        multiview_error=_light_field_flags(args),
        grid=args.grid,
        workers=args.workers,
        threads=args.threads,
        address=args.address,
        retries=args.retries,
        redo=args.redo,
        progress=_progress(args),
        log=log.info,
        warn=log.warning,
    )
    n = len(summary.records)
    (log.warning if summary.failed else log.info)(
        f"{n} task(s): {summary.count('done')} done, {summary.count('skipped')} skipped, "
        f"{summary.count('failed')} failed; index in {summary.out / 'index.html'}"
    )
    return 1 if summary.failed else 0


def _progress(args) -> bool:
    """Show progress bars unless --quiet."""
    return not args.quiet


class _Stream(logging.StreamHandler):
    """A console handler that stays quiet when its reader is gone (``diffdepth ... | head``)
    instead of printing logging's own traceback."""

    def handleError(self, record: logging.LogRecord) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            super().handleError(record)


@contextmanager
def _logging(args) -> Iterator[None]:
    """Messages of the ``diffdepth`` loggers on the console for the length of one command:
    information on stdout, warnings and errors on stderr; --quiet keeps warnings and errors
    only, --verbose adds debugging details."""
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    out = _Stream(sys.stdout)
    out.addFilter(lambda record: record.levelno < logging.WARNING)
    err = _Stream(sys.stderr)
    err.setLevel(logging.WARNING)
    err.setFormatter(logging.Formatter("diffdepth: %(levelname)s: %(message)s"))
    saved = log.level, log.propagate
    log.setLevel(level)
    log.propagate = False
    log.addHandler(out)
    log.addHandler(err)
    try:
        yield
    finally:
        log.removeHandler(out)
        log.removeHandler(err)
        log.setLevel(saved[0])
        log.propagate = saved[1]


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that a run unwinds (staging folders removed)."""


def _on_sigterm(signum, frame):
    raise _Terminated()


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Inside this block SIGTERM unwinds like an interrupt (main thread, default handler)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.getsignal(signal.SIGTERM)
    if saved not in (signal.SIG_DFL, None):
        yield
        return
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


def crash_log(exc: BaseException, argv: list[str]) -> str | None:
    """Write the traceback of an unexpected error into a new file in the system temp folder;
    its path, or None when nothing can be written there."""
    text = (
        f"diffdepth {__version__}, python {sys.version.split()[0]}, {sys.platform}\n"
        f"command: diffdepth {' '.join(argv)}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    try:
        fd, path = tempfile.mkstemp(prefix="diffdepth-error-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError:
        return None
    return path


def _signal_behind(exc: BaseException) -> BaseException | None:
    """The interrupt or termination an error was raised from, if any: a signal that arrives while
    a compiled kernel's dispatcher is in C code surfaces as a SystemError whose cause is the
    KeyboardInterrupt (or our SIGTERM exception)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, (KeyboardInterrupt, _Terminated)):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None


def _unexpected(exc: BaseException, argv: list[str]) -> int:
    """One line for an error that is not bad input, with where its traceback went; status 1."""
    from diffdepth.io.results import interrupt_note

    path = crash_log(exc, argv)
    where = f"the traceback is in {path}" if path else "no log could be written"
    if isinstance(exc, MemoryError):
        what = "out of memory (use smaller views, fewer views or fewer points)"
    else:
        first = (str(exc).splitlines() or [""])[0][:200]
        what = f"unexpected error: {type(exc).__name__}" + (f": {first}" if first else "")
    print(f"diffdepth: {what}; {interrupt_note()}; {where}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """The command line: 0 on success, 2 for bad input or usage (one line on stderr), 1 for
    an unexpected error (one line, the traceback in a log file), 130 when interrupted."""
    from diffdepth.io.results import forget_events, interrupt_note

    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    forget_events()
    try:
        with _sigterm_unwinds():
            return _main(argv)
    except (InputError, UsageError) as e:
        print(f"diffdepth: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except SystemExit:
        raise  # --help, --version
    except BrokenPipeError:  # the reader of our output went away (diffdepth ... | head)
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except BaseException as e:  # noqa: BLE001  (signals, and the last line of defence)
        behind = _signal_behind(e)  # the signal itself, or one an error was raised from
        if behind is None:
            return _unexpected(e, argv)
        interrupted = isinstance(behind, KeyboardInterrupt)
        word, code = ("interrupted", 130) if interrupted else ("terminated", 143)
        print(f"diffdepth: {word}; {interrupt_note()}", file=sys.stderr)
        return code


def _main(argv: list[str]) -> int:
    parser = build_parser()
    if not argv:  # no command: the help, and the status of a usage error
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("a command is needed: run, demo, points, score or batch")
    for flag in ("quiet", "verbose"):
        if not hasattr(args, flag):
            setattr(args, flag, False)
    handlers = {
        "run": cmd_run,
        "demo": cmd_demo,
        "points": cmd_points,
        "score": cmd_score,
        "batch": cmd_batch,
    }
    with _logging(args), flag_wording():
        if args.command != "batch":  # a batch sets each task's threads itself
            from diffdepth.threads import set_threads

            set_threads(args.threads)
        return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
