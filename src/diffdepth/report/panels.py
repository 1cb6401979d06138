"""The pictures of a report, in groups that share one scale; the HTML page and summary.png are
both drawn from these groups."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffdepth import viz
from diffdepth.report.folder import ResultFolder

BADPIX_THRESHOLD = 0.07  # px per view step, as the HCI benchmark's BadPix 0.07


@dataclass
class ColorScale:
    lo: float
    hi: float
    cmap: str
    label: str  # the quantity and its unit


@dataclass
class Panel:
    title: str
    rgb: np.ndarray  # uint8 [H, W, 3]
    is_map: bool = True  # False for a photograph


@dataclass
class PanelGroup:
    title: str
    panels: list[Panel]
    scale: ColorScale | None = None  # one colour bar under all the group's panels
    legend: list[tuple[tuple[float, float, float], str]] = field(default_factory=list)
    note: str = ""


def _u8(image: np.ndarray) -> np.ndarray:
    return (np.clip(np.asarray(image, dtype=np.float64), 0, 1) * 255).round().astype(np.uint8)


def points_radius(shape: tuple[int, int]) -> int:
    """Half-size of a drawn point: about 1/250 of the longer side, so points stay visible when
    the picture is shown small."""
    return max(0, round(max(shape) / 250))


def _scale(res: ResultFolder, which: str) -> float:
    """The factor a map is compared with the ground truth under: 1 for disparity; for depth
    (known up to scale) the scale fitted by the metrics (``scale_fitted.scale``), when there."""
    key = "scale_fitted" if which == "result" else "plain_scale_fitted"
    fit = res.metrics.get(key)
    if res.kind == "multiview" and isinstance(fit, dict) and "scale" in fit:
        return float(fit["scale"])
    return 1.0


def panel_groups(res: ResultFolder) -> list[PanelGroup]:
    """Result, plain diffusion, ground truth, points and reference under one colour scale;
    confidence and mask; signed errors and bad pixels when there is ground truth."""
    lo, hi = res.display_range()
    cmap = res.cmap
    groups = []
    main = []
    if res.reference is not None:
        main.append(Panel("reference view", _u8(res.reference), is_map=False))
        if res.points_xy is not None:
            rgb = viz.points_rgb(
                res.reference,
                res.points_xy,
                res.points_value,
                lo,
                hi,
                cmap,
                radius=points_radius(res.result.shape),
            )
            main.append(Panel(f"initial points ({len(res.points_xy):,})", rgb))
    if res.plain is not None:
        main.append(Panel("plain diffusion", viz.colorize(res.plain, lo, hi, cmap)))
    cfg = res.config.get("config", {})
    stages = ("optimize", "densify", "postfilter", "edge_refine")  # LightFieldConfig's switches
    plain = not any(cfg.get(k, k == "optimize") for k in stages)
    title = "result (plain diffusion, not optimised)" if plain else "result"
    main.append(Panel(title, viz.colorize(res.result, lo, hi, cmap)))
    if res.gt is not None:
        main.append(Panel("ground truth", viz.colorize(res.gt, lo, hi, cmap)))
    groups.append(PanelGroup(res.quantity, main, ColorScale(lo, hi, cmap, res.label)))

    extra = []
    if res.confidence is not None:
        extra.append(Panel("confidence", viz.colorize(res.confidence, 0.0, 1.0, "viridis")))
    if res.mask is not None:
        base = res.reference if res.reference is not None else np.ones((*res.mask.shape, 3))
        rgb = _u8(np.where(res.mask[..., None], base, np.asarray(base) * 0.15))
        extra.append(Panel("mask (dark: left out)", rgb))
    if extra:
        scale = None
        if res.confidence is not None:
            scale = ColorScale(0.0, 1.0, "viridis", viz.CONFIDENCE_LABEL)
        groups.append(PanelGroup("confidence and mask", extra, scale))

    if res.gt is not None:
        maps = [("plain diffusion", res.plain), ("result", res.result)]
        maps = [(t, m) for t, m in maps if m is not None]
        errors = [(t, _scale(res, t) * m.astype(np.float64) - res.gt) for t, m in maps]
        limit = viz.error_limit(*(e for _, e in errors))
        unit = "px per view step" if res.kind == "lightfield" else "scene units"
        groups.append(
            PanelGroup(
                "signed error (estimate \u2212 ground truth)",
                [Panel(t, viz.colorize(e, -limit, limit, viz.ERROR_CMAP)) for t, e in errors],
                ColorScale(-limit, limit, viz.ERROR_CMAP, f"error ({unit})"),
                note="red: estimate above the ground truth, blue: below; black: no ground truth",
            )
        )
        if res.kind == "lightfield":
            from diffdepth.metrics import badpix_map

            panels = []
            for t, m in maps:
                key = f"badpix_{BADPIX_THRESHOLD:g}"
                value = res.metrics.get(key if t == "result" else f"plain_{key}")
                caption = t if value is None else f"{t}: BadPix {value:.1f} %"
                bad = badpix_map(m, res.gt, BADPIX_THRESHOLD)
                panels.append(Panel(caption, viz.badpix_rgb(bad, res.reference)))
            groups.append(
                PanelGroup(
                    f"bad pixels (|error| > {BADPIX_THRESHOLD:g} px)",
                    panels,
                    legend=[(viz.BADPIX_COLOR, f"|error| > {BADPIX_THRESHOLD:g} px per view step")],
                    note="BadPix counts the pixels 15 px or more from the border",
                )
            )
    return groups
