"""Differentiable splatting of points into a label image S and a data-weight image lam.

``S, lam = splat(xy, value, weight, depth, (H, W))``; see ``diffdepth.render.splatting``.
"""

from diffdepth.render.constants import KAPPA, LAM_ORDER, SIGMA_LAM, SIGMA_S, WINDOW_RADIUS
from diffdepth.render.reference import splat_reference
from diffdepth.render.splatting import splat

__all__ = [
    "KAPPA",
    "LAM_ORDER",
    "SIGMA_LAM",
    "SIGMA_S",
    "WINDOW_RADIUS",
    "splat",
    "splat_reference",
]
