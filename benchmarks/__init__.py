# diffdepth first: it sets how torch's and numba's thread pools wait (and how large they are)
# before any benchmark module loads torch (see diffdepth.threads).
import diffdepth  # noqa: F401
