"""The photo-consistency layer: one problem, one-sided view subsets, one compiled error kernel.

problem = LightFieldProblem.from_lightfield(lf)                      # built once per run
costs = subset_errors(problem.ref, problem.views, problem.offsets,
                      one_sided_subsets(problem.offsets), D)        # [S, H, W]
"""

from diffdepth.photo.consistency import (
    UNSEEN,
    one_sided_subsets,
    subset_errors,
    subset_errors_reference,
)
from diffdepth.photo.problem import LightFieldProblem

__all__ = [
    "UNSEEN",
    "LightFieldProblem",
    "one_sided_subsets",
    "subset_errors",
    "subset_errors_reference",
]
