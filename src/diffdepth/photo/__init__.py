"""The photo-consistency layer: one problem, one-sided view subsets, the compiled error kernels.

problem = LightFieldProblem.from_lightfield(lf)                      # built once per run
costs = subset_errors(problem.ref, problem.views, problem.offsets,
                      one_sided_subsets(problem.offsets), D)        # [S, H, W]

Calibrated pinhole views (`diffdepth.photo.pinhole`): the same error through a warp at an inverse
depth, for the plane sweep (`pinhole_errors`) and the loss (`pinhole_warp`, differentiable,
with `pinhole_visibility`).
"""

from diffdepth.photo.consistency import (
    UNSEEN,
    one_sided_subsets,
    subset_errors,
    subset_errors_reference,
)
from diffdepth.photo.pinhole import pinhole_errors, pinhole_visibility, pinhole_warp
from diffdepth.photo.problem import LightFieldProblem

__all__ = [
    "UNSEEN",
    "LightFieldProblem",
    "one_sided_subsets",
    "pinhole_errors",
    "pinhole_visibility",
    "pinhole_warp",
    "subset_errors",
    "subset_errors_reference",
]
