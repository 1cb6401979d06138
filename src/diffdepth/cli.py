"""The ``diffdepth`` command: run, demo, points, score.

Bad input never ends in a traceback: every user error is one line naming the file and what was
expected, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from diffdepth.io.errors import InputError


def _grid(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
        if rows < 1 or cols < 1:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--grid wants ROWSxCOLS such as 1x5, not {text!r}"
        ) from None
    return rows, cols


def _add_common_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-optimize", action="store_true", help="write the plain diffusion only")
    p.add_argument("--supervised", action="store_true", help="optimise against ground truth")
    p.add_argument("--views", choices=["crosshair", "all"], default="crosshair")
    p.add_argument("--distance", choices=["rgb", "vgg"], default="rgb")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--passes", type=int, default=None, help="passes over the phases (default 5)")
    p.add_argument("--iters", type=int, default=None, help="Adam steps per phase")
    p.add_argument(
        "--no-refine", action="store_true", help="light fields: no edge refinement after optimising"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diffdepth",
        description="Dense disparity/depth from sparse points by differentiable diffusion.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="dense map of a light field or a multi-view scene")
    run.add_argument("scene", help="scene folder (HCI, grid views, image row, COLMAP, Middlebury)")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument("--points", help="CSV with header x,y,disparity[,confidence]")
    run.add_argument("--grid", type=_grid, help="ROWSxCOLS for a plain folder of views")
    run.add_argument("--gt", help="ground-truth disparity map (PFM, NPY, PGM, PNG)")
    run.add_argument("--gt-scale", type=float, default=1.0, help="multiply the gt file by this")
    run.add_argument("--ref", help="multi-view: reference image name (default: most points)")
    run.add_argument("--all", action="store_true", help="multi-view: a map for every image")
    _add_common_run_flags(run)

    demo = sub.add_parser("demo", help="the whole pipeline on the built-in synthetic scene")
    demo.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    _add_common_run_flags(demo)

    pts = sub.add_parser("points", help="EPI points of a light field, as CSV and PNG overlay")
    pts.add_argument("scene")
    pts.add_argument("--out", required=True, help="CSV file to write (PNG beside it)")
    pts.add_argument("--grid", type=_grid)

    score = sub.add_parser("score", help="HCI metrics of a disparity map against ground truth")
    score.add_argument("est")
    score.add_argument("gt")
    score.add_argument("--gt-scale", type=float, default=1.0)
    score.add_argument("--est-scale", type=float, default=1.0)
    score.add_argument("--border", type=int, default=15)
    score.add_argument("--invalid-zero", action="store_true", help="gt value 0 = unknown")
    score.add_argument("--json", action="store_true")
    return parser


def _schedule(optim, args):
    """The optimiser config with --passes and --iters applied."""
    if args.passes is not None:
        optim = replace(optim, passes=args.passes)
    if args.iters is not None:
        optim = replace(optim, iters_per_phase=args.iters)
    return optim


def _run_config(args):
    from diffdepth.pipeline import RunConfig

    optim = _schedule(RunConfig().optim, args)
    return RunConfig(
        optimize=not args.no_optimize,
        supervised=args.supervised,
        views=args.views,
        device=args.device,
        seed=args.seed,
        optim=optim,
        loss=replace(RunConfig().loss, distance=args.distance),
        edge_refine=not args.no_refine,
    )


def _print_metrics(metrics: dict) -> None:
    keys = ["mse_x100", "badpix_0.07", "badpix_0.03", "badpix_0.01", "q25_x100"]
    print("  ".join(f"{k} {metrics[k]:.3f}" for k in keys if k in metrics))


def cmd_run(args) -> int:
    from diffdepth.io import is_multiview, read_lightfield, read_points_csv

    if is_multiview(args.scene):
        return cmd_run_multiview(args)
    if args.ref or args.all:
        raise InputError(
            f"{args.scene}: --ref and --all are for multi-view scenes (a COLMAP model or a "
            "Middlebury *_par.txt), and this folder holds neither"
        )
    from diffdepth.pipeline import run_lightfield, write_lightfield_outputs

    config = _run_config(args)
    lf = read_lightfield(args.scene, grid=args.grid, gt=args.gt, gt_scale=args.gt_scale)
    points = read_points_csv(args.points) if args.points else None
    t0 = time.perf_counter()
    result = run_lightfield(lf, points, config, progress=not args.quiet)
    write_lightfield_outputs(result, lf, args.out)
    print(
        f"{lf.name}: {len(result.points_initial)} points, {time.perf_counter() - t0:.1f} s,"
        f" disparity written to {Path(args.out) / 'disparity.pfm'}"
    )
    if result.metrics:
        _print_metrics(result.metrics)
    return 0


def _multiview_config(args):
    from diffdepth.pipeline.multiview import MultiViewConfig

    base = MultiViewConfig()
    optim = _schedule(base.optim, args)
    if args.distance != "rgb" or args.supervised or args.views != "crosshair":
        raise InputError(
            f"{args.scene}: --distance, --supervised and --views are light-field options; "
            "a multi-view run uses RGB re-projection into random subsets of views"
        )
    return replace(
        base, optimize=not args.no_optimize, device=args.device, seed=args.seed, optim=optim
    )


def cmd_run_multiview(args) -> int:
    from diffdepth.io import read_multiview, read_points_csv
    from diffdepth.pipeline.multiview import (
        run_multiview,
        run_multiview_all,
        write_multiview_outputs,
    )

    config = _multiview_config(args)
    scene = read_multiview(args.scene)
    if scene.points3d is None or len(scene.points3d) == 0:
        from diffdepth.points.colmap import sparse_points

        print(f"{scene.source}: no sparse points; matching and triangulating them (pycolmap)")
        scene = sparse_points(scene)
    if args.all:
        if args.points:
            raise InputError(f"{args.points}: --points names one image's points; not with --all")
        status = run_multiview_all(scene, args.out, config, progress=not args.quiet)
        failed = [n for n, s in status.items() if s not in ("done", "skipped")]
        return 1 if failed else 0
    ref = None
    if args.ref:
        if args.ref not in scene.names:
            raise InputError(
                f"{scene.source}: --ref {args.ref} is not one of its images "
                f"({', '.join(scene.names[:5])}{', ...' if len(scene) > 5 else ''})"
            )
        ref = scene.names.index(args.ref)
    points = read_points_csv(args.points) if args.points else None
    result = run_multiview(scene, ref, config, points=points, progress=not args.quiet)
    out = Path(args.out)
    write_multiview_outputs(result, scene, out)
    m = result.metrics
    print(
        f"{result.name}: {len(result.points_initial)} points, {result.timings['total_s']:.1f} s, "
        f"re-projection error (Lab) {m['reprojection_error_lab']:.3f} "
        f"(plain diffusion {m['plain_reprojection_error_lab']:.3f}); depth in {out / 'depth.pfm'}"
    )
    return 0


def cmd_demo(args) -> int:
    from diffdepth.pipeline import run_lightfield, write_lightfield_outputs
    from diffdepth.points.sampling import noisy_edge_points
    from diffdepth.synth import make_lightfield

    config = _run_config(args)
    lf = make_lightfield()
    h, w = lf.gt.shape
    print(f"synthetic light field: {lf.views.shape[0]}x{lf.views.shape[1]} views of {w}x{h}")
    points = noisy_edge_points(lf.ref_view, lf.gt, per_tile=20, seed=args.seed)
    plain = run_lightfield(lf, points, replace(config, optimize=False), progress=False)
    print(f"noisy points ({len(points)}), plain diffusion:")
    _print_metrics(plain.metrics)
    result = run_lightfield(lf, points, config, progress=not args.quiet)
    write_lightfield_outputs(result, lf, args.out, extra={"plain_diffusion": plain.metrics})
    print(f"optimised ({result.timings['total_s']:.1f} s):")
    _print_metrics(result.metrics)
    print(f"outputs in {args.out}/")
    return 0


def cmd_points(args) -> int:
    from diffdepth import viz
    from diffdepth.io import read_lightfield, write_points_csv
    from diffdepth.points.epi import detect_epi_points

    lf = read_lightfield(args.scene, grid=args.grid)
    t0 = time.perf_counter()
    points = detect_epi_points(lf.views, ref=lf.ref, disp_range=lf.disp_range)
    from diffdepth.pipeline import prepare_out_dir

    out = Path(args.out)
    prepare_out_dir(out.parent)
    write_points_csv(out, points)
    viz.save_points_png(out.with_suffix(".png"), lf.ref_view, points.xy, points.value)
    print(f"{len(points)} points in {time.perf_counter() - t0:.1f} s -> {out}")
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
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"run": cmd_run, "demo": cmd_demo, "points": cmd_points, "score": cmd_score}
    try:
        return handlers[args.command](args)
    except InputError as e:
        print(f"diffdepth: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diffdepth: interrupted; no partial result was left", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
