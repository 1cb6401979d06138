"""diffdepth: dense depth from sparse points by differentiable diffusion.

The differentiable core is importable without any I/O or plotting dependency::

    S, lam = diffdepth.render.splat(xy, value, weight, depth, (H, W))
    D = diffdepth.diffuse.diffuse(S, lam, theta)
"""

from diffdepth import diffuse, render

__version__ = "0.1.0"
__all__ = ["diffuse", "render", "__version__"]
