"""diffdepth: dense depth from sparse points by differentiable diffusion.

The differentiable core is importable without any I/O or plotting dependency::

    S, lam = diffdepth.render.splat(xy, value, weight, depth, (H, W))
    D = diffdepth.diffuse.diffuse(S, lam, theta)
"""

# Before torch and numba load: how their thread pools wait and how large they are, and where
# numba caches the compiled kernels (see diffdepth.threads and diffdepth.jitcache).
from diffdepth import jitcache as _jitcache
from diffdepth import threads as _threads

_threads.configure_environment()
_jitcache.configure()

from diffdepth import diffuse, render  # noqa: E402  (loads torch and its OpenMP runtime)

_threads.choose_threading_layer()  # after torch: it loads its own OpenMP runtime first

__version__ = "0.1.0"
__all__ = ["diffuse", "render", "__version__"]
