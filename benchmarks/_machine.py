"""What a benchmark measured: the machine, the thread settings and the git commit, recorded
beside every result.

Every benchmark script calls :func:`add_provenance_flag` on its parser and
:func:`provenance` before it measures anything: on a working tree with uncommitted changes
(outside ``benchmarks/results/``, where results are written) it refuses to run unless
``--allow-dirty`` is given, and then the result says so. :func:`machine_info` takes the record.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: result files the benchmarks write themselves; changes there do not make the tree dirty
RESULTS = "benchmarks/results/"


def _git(*args: str) -> str | None:
    try:
        res = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout


def git_state() -> dict:
    """{'commit': hex or None (not a git checkout), 'dirty_files': changed or untracked paths
    outside benchmarks/results/}."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=all")
    dirty = []
    for line in (status or "").splitlines():
        path = line[3:].split(" -> ")[-1].strip('"')
        if path and not path.startswith(RESULTS):
            dirty.append(path)
    return {"commit": commit.strip() if commit else None, "dirty_files": dirty}


def add_provenance_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="measure a working tree with uncommitted changes (recorded in the result)",
    )


def provenance(allow_dirty: bool = False) -> dict:
    """The git commit measured; exits with a message on a dirty tree (or outside a git
    checkout) unless ``allow_dirty``."""
    state = git_state()
    problem = None
    if state["commit"] is None:
        problem = f"{ROOT} is not a git checkout (no commit to record)"
    elif state["dirty_files"]:
        shown = ", ".join(state["dirty_files"][:5])
        more = len(state["dirty_files"]) - 5
        problem = (
            f"the working tree has uncommitted changes ({shown}"
            + (f" and {more} more" if more > 0 else "")
            + ")"
        )
    if problem and not allow_dirty:
        sys.exit(f"benchmark refused: {problem}; commit first, or pass --allow-dirty")
    return {
        "git_commit": state["commit"],
        "git_dirty": bool(state["dirty_files"]) or state["commit"] is None,
        "allow_dirty": bool(allow_dirty),
        "dirty_files": state["dirty_files"],
    }


def machine_info(record: dict | None = None) -> dict:
    """The machine and versions, the thread settings in force, and ``record`` (the dict from
    :func:`provenance`) merged in."""
    import numpy as np
    import torch

    from diffdepth.threads import describe

    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "threads": describe(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    if record:
        info.update(record)
    return info


def commit_line(m: dict) -> str:
    """'commit 0123456789' (with ', uncommitted changes (--allow-dirty)'), for Markdown."""
    commit = m.get("git_commit")
    text = f"commit {commit[:10]}" if commit else "commit unknown"
    if m.get("git_dirty"):
        text += " with uncommitted changes (--allow-dirty)"
    return text


def emit_json(res: dict, path: Path | None) -> None:
    """Print a result as JSON, and write it to ``path`` too when given."""
    import json

    text = json.dumps(res, indent=2)
    print(text)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
