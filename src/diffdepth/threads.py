"""How many threads diffdepth's libraries use, and how they wait.

One place decides the thread counts of torch (intra- and inter-op), numba and the BLAS/OpenMP
libraries underneath numpy and torch. By default they use the cores this process may use: its
CPU affinity mask, capped by the cgroup CPU quota of a container. Idle worker threads wait
passively (``OMP_WAIT_POLICY=PASSIVE``, ``KMP_BLOCKTIME=0``, numba's OpenMP threading layer,
which honours that policy) instead of spinning, so that N processes on N cores share them
fairly instead of fighting over them.

Two moments matter:

- When ``diffdepth`` is imported, before torch and numba start their pools:
  :func:`configure_environment` sets the environment defaults the libraries read once, when
  they start (wait policy, pool sizes; ``DIFFDEPTH_THREADS=N`` sets the default count), and
  :func:`choose_threading_layer` picks numba's layer. A variable the user already set wins.
  numba's pool gets the size of torch's: where both use one OpenMP runtime, starting numba's
  pool sets the OpenMP thread count that torch reads.
- :func:`set_threads` changes the counts at run time (``diffdepth ... --threads N`` calls it):
  torch, numba and BLAS (through threadpoolctl).

Import ``diffdepth`` before torch or numpy for the wait policy to reach their pools.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

#: environment variables set (as defaults) before the libraries start their thread pools
_COUNT_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_WAIT_VARS = {
    "OMP_WAIT_POLICY": "PASSIVE",  # GNU and LLVM OpenMP: idle threads sleep, not spin
    "KMP_BLOCKTIME": "0",  # Intel OpenMP (MKL): the same
}

_CGROUP_V2_ROOT = Path("/sys/fs/cgroup")
_CGROUP_V1_ROOTS = (Path("/sys/fs/cgroup/cpu"), Path("/sys/fs/cgroup/cpu,cpuacct"))


def _affinity_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on every platform
        return max(1, os.cpu_count() or 1)


def _cgroup_paths(proc_cgroup: str) -> tuple[str | None, str | None]:
    """(v2 path, v1 cpu-controller path) of this process from /proc/self/cgroup's text."""
    v2 = v1 = None
    for line in proc_cgroup.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            v2 = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return v2, v1


def _walk_up(root: Path, path: str | None) -> list[Path]:
    """root/path and each of its parents up to root (a container often sees only root)."""
    folders = [root]
    if path:
        rel = Path(path.lstrip("/"))
        while str(rel) not in ("", "."):
            folders.append(root / rel)
            rel = rel.parent
    return folders


def _quota(text_or_pair) -> float | None:
    """CPUs granted by a quota: 'max 100000' / '200000 100000' (v2) or (quota, period) (v1)."""
    try:
        if isinstance(text_or_pair, str):
            quota, period = text_or_pair.split()[:2]
        else:
            quota, period = text_or_pair
        if quota == "max" or int(quota) <= 0:
            return None
        return int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


def cgroup_cpu_limit(
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    v2_root: Path = _CGROUP_V2_ROOT,
    v1_roots: tuple[Path, ...] = _CGROUP_V1_ROOTS,
) -> float | None:
    """CPUs this process's cgroup may use (the tightest quota on its path), or None if none."""
    try:
        v2_path, v1_path = _cgroup_paths(proc_cgroup.read_text())
    except OSError:
        return None
    limits = []
    for folder in _walk_up(v2_root, v2_path):
        try:
            limits.append(_quota((folder / "cpu.max").read_text()))
        except OSError:
            continue
    for root in v1_roots:
        for folder in _walk_up(root, v1_path):
            try:
                quota = (folder / "cpu.cfs_quota_us").read_text().strip()
                period = (folder / "cpu.cfs_period_us").read_text().strip()
            except OSError:
                continue
            limits.append(_quota((quota, period)))
    limits = [x for x in limits if x is not None]
    return min(limits) if limits else None


def available_cores() -> int:
    """Cores this process may use: its affinity mask, capped by its cgroup CPU quota
    (rounded up: a quota of 1.5 CPUs runs 2 threads)."""
    cores = _affinity_cores()
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, max(1, math.ceil(limit - 1e-9)))
    return cores


def default_threads() -> int:
    """``DIFFDEPTH_THREADS`` when set to a positive integer, else :func:`available_cores`."""
    text = os.environ.get("DIFFDEPTH_THREADS", "").strip()
    if text:
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n >= 1:
            return n
    return available_cores()


def thread_env(n: int) -> dict[str, str]:
    """Environment of a child process that should run with ``n`` threads, waiting passively
    (for worker processes, benchmark copies): set these before it imports anything."""
    env = {var: str(n) for var in _COUNT_VARS}
    env.update(_WAIT_VARS)
    env["NUMBA_NUM_THREADS"] = str(n)
    env["DIFFDEPTH_THREADS"] = str(n)
    return env


def configure_environment(n: int | None = None) -> int:
    """Set the defaults the thread pools read when they start (the user's own settings win).

    Call before torch, numpy and numba are imported (``import diffdepth`` does); it imports
    none of them. Returns the thread count chosen. numba's pool gets the same size as torch's:
    with the OpenMP layer, starting it sets the OpenMP thread count that torch uses too."""
    n = default_threads() if n is None else int(n)
    for var in _COUNT_VARS:
        os.environ.setdefault(var, str(n))
    for var, value in _WAIT_VARS.items():
        os.environ.setdefault(var, value)
    if "numba" not in sys.modules:  # once numba has read it, a change could only conflict
        os.environ.setdefault("NUMBA_NUM_THREADS", str(n))
    return n


def choose_threading_layer() -> str:
    """numba's threading layer: the user's ``NUMBA_THREADING_LAYER``, else 'omp' when numba's
    OpenMP pool loads here (it honours the wait policy), else 'workqueue' (numba's own pool,
    which sleeps on a condition variable). TBB spins while idle and is not chosen. Imports
    numba (after :func:`configure_environment`); returns the layer."""
    import numba

    layer = os.environ.get("NUMBA_THREADING_LAYER")
    if not layer:
        try:
            from numba.np.ufunc import omppool  # noqa: F401  (loads the OpenMP runtime)

            layer = "omp"
        except (ImportError, OSError):
            layer = "workqueue"
        # numba re-reads NUMBA_* variables when any changes: keep the environment in step
        os.environ["NUMBA_THREADING_LAYER"] = layer
    numba.config.THREADING_LAYER = layer
    return layer


def set_threads(n: int | None = None) -> int:
    """Use ``n`` threads (default: :func:`default_threads`) in torch, numba and BLAS.

    numba's count is capped by the size its pool started with (``NUMBA_NUM_THREADS``, the
    default count when diffdepth was imported). numba's pool is started first: where it shares
    torch's OpenMP runtime, its start resets the thread count torch reads, so torch's is set
    after.
    torch's inter-op pool can be sized only before it first runs; after that its size is kept.
    Returns the count set."""
    n = default_threads() if n is None else int(n)
    if n < 1:
        raise ValueError(f"threads must be >= 1, not {n}")
    import numba
    import torch

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # starts numba's pool
    torch.set_num_threads(n)
    if torch.get_num_interop_threads() != n:
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # the inter-op pool has started; its size is fixed
            pass
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: BLAS keeps the count it started with
        pass
    else:
        threadpool_limits(limits=n, user_api="blas")
    return n


def describe() -> dict:
    """The thread counts and wait settings in force (for logs and benchmark records)."""
    import numba
    import torch

    info = {
        "available_cores": available_cores(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": numba.config.THREADING_LAYER,
    }
    for var in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        info[var] = os.environ.get(var)
    return info
