"""Shared steps of every run: device, point checks, the model at its initial state."""

from __future__ import annotations

import numpy as np
import torch

from diffdepth.config import ModelConfig
from diffdepth.io.errors import InputError, parameter
from diffdepth.optimize import DiffusionModel, initial_q, occlusion_cuts, side_cuts
from diffdepth.render import SIGMA_S
from diffdepth.types import PointSet


def check_device(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"{parameter('device', 'cuda')}: no CUDA device is available to PyTorch here"
        )
    return torch.device(device)


def validate_points(
    points: PointSet,
    shape: tuple[int, int],
    source: str,
    max_abs_value: float | None = None,
    positive: bool = False,
) -> PointSet:
    """Drop points whose 7x7 window misses the image; refuse an empty or non-finite set,
    values outside ``[-max_abs_value, max_abs_value]`` (a light field's disparity larger than
    the image), non-positive values where ``positive`` (inverse depth behind the camera) and
    negative or non-finite confidences."""
    if len(points) == 0:
        raise InputError(f"{source}: no points (at least one point is needed to diffuse)")
    bad = ~np.isfinite(points.xy).all(1) | ~np.isfinite(points.value)
    if bad.any():
        raise InputError(f"{source}: {int(bad.sum())} points have non-finite coordinates/values")
    if max_abs_value is not None:
        far = np.abs(points.value) > max_abs_value
        if far.any():
            i = int(np.argmax(far))
            raise InputError(
                f"{source}: {int(far.sum())} point value(s) outside the sane range "
                f"-{max_abs_value:g}..{max_abs_value:g} (larger than the image), e.g. "
                f"{float(points.value[i]):g} at ({points.xy[i, 0]:g}, {points.xy[i, 1]:g})"
            )
    if positive and not (points.value > 0).all():
        n = int((points.value <= 0).sum())
        raise InputError(f"{source}: {n} point(s) with inverse depth <= 0 (behind the camera)")
    if points.confidence is not None:
        conf = points.confidence
        if not (np.isfinite(conf).all() and (conf >= 0).all()):
            raise InputError(f"{source}: confidences must be finite and >= 0")
    h, w = shape
    x, y = np.round(points.xy[:, 0]), np.round(points.xy[:, 1])
    inside = (x >= -3) & (x <= w + 2) & (y >= -3) & (y <= h + 2)
    if not inside.any():
        raise InputError(f"{source}: all {len(points)} points lie outside the {w}x{h} image")
    return points.subset(inside) if not inside.all() else points


def plain_model(model: ModelConfig) -> ModelConfig:
    """The model of the plain diffusion as the SPEC defines it: occlusion order by label, Q
    from Sobel alone (no occlusion cuts), SPEC's splat footprint, every solve to ``tol``."""
    return model.replace(
        order="depth",
        cut_radius=0.0,
        sigma_s=SIGMA_S,
        q_colour=False,
        optimise_tol=None,
        adjoint_tol=None,
    )


def build_model(
    image: np.ndarray, points: PointSet, config: ModelConfig, device: torch.device
) -> DiffusionModel:
    """The diffusion model at its initial state: R = 0 (or -log confidence with
    ``config.confidence_weights``), Q from Sobel (plus the occlusion cuts of the points when
    ``config.cut_radius`` > 0, and the side cuts when ``config.side_cut_radius`` > 0 and the
    points know their edges' sides), the occlusion order of ``config.order``."""
    Q = initial_q(image, config.q_scale, config.q_colour).to(device)
    if config.cut_radius > 0:
        cut = occlusion_cuts(
            points.xy, points.value, tuple(Q.shape), config.cut_radius, config.cut_jump
        )
        Q[torch.from_numpy(cut).to(device)] += config.cut_strength
    if config.side_cut_radius > 0 and points.sides is not None:
        cut = side_cuts(
            points.xy,
            points.value,
            points.sides,
            tuple(Q.shape),
            config.side_cut_radius,
            config.side_cut_jump,
            config.side_cut_depth,
            config.side_cut_reach,
        )
        Q[torch.from_numpy(cut).to(device)] += config.cut_strength
    R = None
    if config.confidence_weights and points.confidence is not None:
        conf = np.clip(points.confidence, 1e-3, 1.0)
        R = torch.from_numpy(-np.log(conf)).float().to(device)
    return DiffusionModel(
        torch.from_numpy(points.xy).float().to(device),
        torch.from_numpy(points.value).float().to(device),
        Q,
        R,
        tol=config.tol,
        adjoint_tol=config.adjoint_tol,
        optimise_tol=config.optimise_tol,
        maxiter=config.maxiter,
        order=config.order,
        neighbours=config.order_neighbours,
        sigma_s=config.sigma_s,
    )


def final_points(model: DiffusionModel) -> PointSet:
    xy = model.xy.detach().cpu().numpy()
    value = model.value.detach().cpu().numpy()
    weight = torch.exp(-model.R.detach()).cpu().numpy()
    return PointSet(xy, value, weight)
