"""How much memory this process may still take, and a refusal before work that would not fit.

    need = 6 * 2**30
    check_memory(need, "antinous: a 9 x 9 light field of 512 x 512 views", "use --views crosshair")

The memory available is the tightest of: the system's available memory (``MemAvailable``), the
room left under the cgroup memory limit of a container (v2 ``memory.max``, v1
``memory.limit_in_bytes``), and the room left under this process's address-space and data
limits (``ulimit -v``, ``ulimit -d``). A run that would need more is refused with one line that
says how much it needs, how much there is, and how to need less, instead of failing with an
allocator error minutes later.
"""

from __future__ import annotations

import os
from pathlib import Path

from diffdepth.io.errors import InputError
from diffdepth.threads import _cgroup_paths, _walk_up

GIB = float(1 << 30)
_CGROUP = Path("/sys/fs/cgroup")
_CGROUP_V1 = Path("/sys/fs/cgroup/memory")


def _meminfo() -> dict[str, int]:
    out = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                out[key] = int(parts[0]) * 1024
    except (OSError, ValueError):
        pass
    return out


def _proc_status(key: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _cgroup_room() -> int | None:
    """Bytes left under the tightest cgroup memory limit on this process's path, or None."""
    try:
        v2_path, _ = _cgroup_paths(Path("/proc/self/cgroup").read_text())
    except OSError:
        return None
    rooms = []
    for folder in _walk_up(_CGROUP, v2_path):
        limit = _read_int(folder / "memory.max")
        if limit is not None:
            used = _read_int(folder / "memory.current") or 0
            rooms.append(limit - used)
    limit = _read_int(_CGROUP_V1 / "memory.limit_in_bytes")
    if limit is not None and limit < (1 << 60):  # v1 says "no limit" with a huge number
        used = _read_int(_CGROUP_V1 / "memory.usage_in_bytes") or 0
        rooms.append(limit - used)
    return min(rooms) if rooms else None


def _rlimit_room() -> tuple[int, str] | None:
    try:
        import resource
    except ImportError:
        return None
    rooms = []
    for name, used_key, flag in (
        ("RLIMIT_AS", "VmSize", "ulimit -v"),
        ("RLIMIT_DATA", "VmData", "ulimit -d"),
    ):
        which = getattr(resource, name, None)
        if which is None:
            continue
        soft, _ = resource.getrlimit(which)
        if soft == resource.RLIM_INFINITY or soft < 0:
            continue
        used = _proc_status(used_key) or 0
        rooms.append((soft - used, f"this process's limit ({flag})"))
    return min(rooms) if rooms else None


def available_memory() -> tuple[int | None, str]:
    """(bytes this process may still allocate, where the limit comes from); bytes is None
    where nothing can be found out."""
    candidates: list[tuple[int, str]] = []
    info = _meminfo()
    if "MemAvailable" in info:
        candidates.append((info["MemAvailable"], "available memory"))
    elif hasattr(os, "sysconf"):
        try:
            pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            candidates.append((pages * size, "the machine's memory"))
        except (ValueError, OSError):
            pass
    room = _cgroup_room()
    if room is not None:
        candidates.append((room, "the container's memory limit"))
    limit = _rlimit_room()
    if limit is not None:
        candidates.append(limit)
    if not candidates:
        return None, "unknown"
    nbytes, source = min(candidates)
    return max(0, nbytes), source


def gib(nbytes: float) -> str:
    """'1.5 GiB' (or MiB below one GiB)."""
    if nbytes < GIB:
        return f"{nbytes / (1 << 20):.0f} MiB"
    return f"{nbytes / GIB:.1f} GiB"


def check_memory(need: float, what: str, advice: str) -> None:
    """Raise InputError when ``need`` bytes will not fit into the memory this process may
    still take: one line naming ``what`` needs it, how much there is, and ``advice`` (how to
    need less). Does nothing where the memory available cannot be found out, or when
    ``DIFFDEPTH_NO_MEMORY_CHECK=1``."""
    if os.environ.get("DIFFDEPTH_NO_MEMORY_CHECK", "") == "1":
        return
    have, source = available_memory()
    if have is None or need <= have:
        return
    raise InputError(
        f"{what} needs about {gib(need)} of memory, and {gib(have)} is free ({source}); {advice}"
    )
