"""Result manifests: ``manifest.json`` lists every file of a result folder with its size and
SHA-256 and the diffdepth version that wrote it. It is written last, so a folder whose manifest
verifies is a whole result: nothing missing, truncated, altered or left over from another run.

write_manifest(folder)            # after every other file is in place
problems = verify_manifest(folder)  # [] when the folder is whole
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from diffdepth.io.atomic import save_text_atomic

MANIFEST = "manifest.json"
FORMAT = 1  # bumped when the manifest's own layout changes
_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _result_files(folder: Path) -> list[str]:
    """Every regular file under ``folder`` but the manifest and hidden temporaries, as sorted
    POSIX paths relative to it."""
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel != MANIFEST:
                files.append(rel)
    return sorted(files)


def _version() -> str:
    from diffdepth import __version__

    return __version__


def write_manifest(folder: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write ``folder/manifest.json`` (atomically) listing every file now in ``folder``.

    extra: JSON-able facts to keep beside the file list (say, a fingerprint of the settings
    that made the result). Returns the manifest's path."""
    folder = Path(folder)
    files = {}
    for rel in _result_files(folder):
        path = folder / rel
        files[rel] = {"size": path.stat().st_size, "sha256": sha256_file(path)}
    manifest = {"format": FORMAT, "diffdepth_version": _version(), "files": files}
    if extra:
        manifest["extra"] = extra
    path = folder / MANIFEST
    save_text_atomic(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return path


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """The manifest of ``folder`` as written, or None when it is absent or unreadable."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return None
    return data


def verify_manifest(folder: str | os.PathLike, check_hashes: bool = True) -> list[str]:
    """What keeps ``folder`` from being the whole result its manifest describes: an empty
    list when it verifies. Each problem is a short phrase naming the file.

    check_hashes: also recompute every SHA-256 (else sizes only, much faster on big maps)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder} is not a folder"]
    manifest = read_manifest(folder)
    if manifest is None:
        return [f"{MANIFEST} is missing or unreadable"]
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"{MANIFEST} has format {manifest.get('format')!r}, expected {FORMAT}")
    listed = manifest["files"]
    for rel, entry in sorted(listed.items()):
        path = folder / rel
        if not isinstance(entry, dict) or not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        size = path.stat().st_size
        if size != entry.get("size"):
            problems.append(f"{rel} has {size} bytes, the manifest says {entry.get('size')}")
        elif check_hashes and sha256_file(path) != entry.get("sha256"):
            problems.append(f"{rel} differs from the manifest (SHA-256)")
    for rel in _result_files(folder):
        if rel not in listed:
            problems.append(f"{rel} is not in the manifest (left from another run?)")
    return problems
