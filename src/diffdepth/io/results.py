"""Result folders that are whole or absent, and safe names for them.

    out = check_result_target("out/antinous")   # before any work: InputError if unusable
    with staged_result(out) as stage:            # write every file of the result into stage
        ...
    # out/antinous now holds exactly those files and their manifest.json; after an error or an
    # interrupt it holds what it held before (or nothing)

A result is written into a staging folder beside its final place (same file system; or in
``staging_dir``), its ``manifest.json`` (`diffdepth.io.manifest`) last, and swapped in with one
rename: on Linux ``renameat2(RENAME_EXCHANGE)`` exchanges the two folders atomically, so that at
every instant the final path holds the whole old result or the whole new one. Where that call
is missing the old folder is renamed aside first (the path is then absent for a moment, never
mixed). The old result is removed after the swap.

A staging folder is locked (``flock``) while its run lives; a run killed before its swap leaves
it behind, and the next run that writes beside it removes it and says so. An existing folder
is replaced only when it is a diffdepth result (or empty): anything else is refused, so a
mistyped ``--out`` never deletes a user's files.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from diffdepth.io.errors import InputError
from diffdepth.io.manifest import MANIFEST, write_manifest

log = logging.getLogger("diffdepth.io")

_STAGING = ".diffdepth-staging-"
_OLD = ".diffdepth-old-"
_NAME_KEEP = 80  # characters of the final name kept in the hidden names (NAME_MAX is 255)

# What the command line says after an interrupt: ("finished" | "dropped", folder) per result.
_events: list[tuple[str, Path]] = []


# ---- names ----------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: names a folder of results keeps for itself at its top (the batch's and --all's pages, and
#: the sparse model --all saves)
RESERVED = ("index.html", "summary.csv", "sparse")


def safe_name(text: str, fallback: str = "result") -> str:
    """A file name from ``text``: letters, digits, '.', '_' and '-' only, not hidden, not '.'
    or '..', at most 120 characters."""
    name = _UNSAFE.sub("_", text).strip("._-")[:120].strip("._-")
    return name or fallback


class UniqueNames:
    """Safe, unique folder names (compared case-insensitively, as on macOS and Windows)."""

    def __init__(self, reserved: Iterable[str] = RESERVED):
        self.used = {n.lower() for n in reserved}

    def take(self, wanted: str, fallback: str = "result") -> str:
        base = safe_name(wanted, fallback)
        name, k = base, 1
        while name.lower() in self.used:
            k += 1
            name = f"{base}-{k}"
        self.used.add(name.lower())
        return name


def image_result_names(names: Iterable[str]) -> dict[str, str]:
    """{image name: result folder name} for images of one scene: the image's path without its
    suffix, sub-folders joined by '_' (``sub1/a.png`` -> ``sub1_a``), made safe; collisions get
    ``-2``, ``-3``... in the order given."""
    taken = UniqueNames()
    out = {}
    for name in names:
        stem = Path(name.replace("\\", "/")).with_suffix("").as_posix().replace("/", "_")
        out[name] = taken.take(stem, "image")
    return out


# ---- what may be replaced -------------------------------------------------------------------


def is_result_folder(folder: Path) -> bool:
    """A folder diffdepth wrote as one result: it has a manifest.json, or (written before
    manifests) a config.json that records diffdepth's version."""
    if (folder / MANIFEST).is_file():
        return True
    try:
        info = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and "diffdepth" in (info.get("versions") or {})


def _entries(folder: Path) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError as e:
        raise InputError(f"{folder}: cannot list the output folder ({e.strerror or e})") from None


def _nearest_existing(path: Path) -> Path:
    for p in [path, *path.parents]:
        if p.exists() or p.is_symlink():
            return p
    return Path(".")


def _probe_writable(folder: Path, what: str) -> None:
    """A hidden folder can be made (and removed) in ``folder``: else InputError."""
    try:
        probe = tempfile.mkdtemp(prefix=".diffdepth-probe-", dir=folder)
        os.rmdir(probe)
    except OSError as e:
        raise InputError(f"{folder}: cannot write {what} there ({e.strerror or e})") from None


def check_result_target(out: str | os.PathLike, container: bool = False) -> Path:
    """Check, before any work, that a result can be written to ``out``; return the path the
    result will have (a symbolic link is followed).

    container: ``out`` holds several results in sub-folders (``run --all``) rather than one.
    Refuses (InputError) an empty name, a file, a folder that holds something other than a
    diffdepth result (or, for a container, a single result), and a place whose nearest
    existing folder cannot be written. Removes the staging folders killed runs left beside it.
    """
    if str(out).strip() == "":
        raise InputError("--out is empty: name the output folder")
    final = Path(out).expanduser()
    try:
        return _check_target(final, container)
    except OSError as e:  # a name too long, a loop of links, a folder that cannot be read
        raise InputError(
            f"{final}: cannot use it as the output folder ({e.strerror or e})"
        ) from None


def _check_target(final: Path, container: bool) -> Path:
    if len(os.fsencode(final.name)) > 255 - 40:  # room for the staging folder's longer name
        raise InputError(
            f"{final.name[:40]}...: the output folder's name is too long "
            f"({len(final.name)} characters; at most {255 - 40})"
        )
    if final.is_symlink():
        final = final.resolve()
    if final.name in ("", ".", ".."):
        final = final.resolve()
    if final.exists() and not final.is_dir():
        raise InputError(f"{final}: exists and is not a folder; --out names a result folder")
    if final.is_dir():
        entries = [e for e in _entries(final) if not e.startswith(".diffdepth-")]
        if container:
            if (final / MANIFEST).exists() or is_result_folder(final):
                raise InputError(
                    f"{final}: holds a single result; choose another --out for the results "
                    "of every image"
                )
            if entries and not (
                (final / "index.html").exists()
                or any(is_result_folder(final / e) for e in entries if (final / e).is_dir())
            ):
                raise InputError(
                    f"{final}: exists and holds no diffdepth results; move it away or choose "
                    "another --out"
                )
        elif entries and not is_result_folder(final):
            raise InputError(
                f"{final}: exists and is not a diffdepth result (no {MANIFEST}); move it away "
                "or choose another --out"
            )
    base = _nearest_existing(final.parent if not container else final)
    if not base.is_dir():
        raise InputError(f"{base}: is not a folder; cannot write {final} inside it")
    _probe_writable(base, f"the result {final.name}")
    if not container:
        remove_leftovers(final)
    return final


# ---- leftovers of killed runs ---------------------------------------------------------------


def _hidden(final: Path, kind: str) -> str:
    return f".{final.name[:_NAME_KEEP]}{kind}"


def _lock(folder: Path) -> int | None:
    """An exclusive lock on ``folder`` held by this process (None where there is no flock)."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def remove_leftovers(final: Path, staging_dir: Path | None = None) -> int:
    """Remove the staging and old folders of ``final`` that no live run holds; return how many
    staging folders (unfinished results) were removed."""
    parent = staging_dir if staging_dir is not None else final.parent
    if not parent.is_dir():
        return 0
    prefixes = (_hidden(final, _STAGING), _hidden(final, _OLD))
    n = 0
    try:
        names = [e for e in os.listdir(parent) if e.startswith(prefixes)]
    except OSError:
        return 0
    for name in names:
        path = parent / name
        try:
            fd = _lock(path)
        except OSError:  # held by a live run (or gone)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            _unlock(fd)
        n += name.startswith(prefixes[0])
    if n:
        log.info(f"{final}: removed {n} unfinished result(s) left by an interrupted run")
    return n


# ---- the swap -------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_EXCHANGE = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Atomically exchange the folders at ``a`` and ``b`` (both exist). False where the system
    or the file system cannot (the caller then falls back to two renames)."""
    if _EXCHANGE is None:
        return False
    rc = _EXCHANGE(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def swap_in(stage: Path, final: Path) -> Path | None:
    """Put the folder ``stage`` at ``final`` with one rename. At every instant ``final`` is the
    whole old folder or the whole new one (or, without an atomic exchange, absent for a moment
    between two renames). Returns where the earlier folder at ``final`` now is (for the caller
    to remove), or None."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.is_dir() and not final.is_symlink():
        if exchange(stage, final):
            old = stage  # the exchange left the earlier result at the staging name
        else:
            old = stage.parent / f"{_hidden(final, _OLD)}{uuid.uuid4().hex[:12]}"
            os.replace(final, old)  # a name no one uses: a plain rename everywhere
            os.replace(stage, final)
    else:
        os.replace(stage, final)
    _fsync_dir(final.parent)
    return old


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (main thread only), so that what the
    command line says after an interrupt matches what the swap did."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum, frame):
        pending.append(signum)

    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            saved[sig] = signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if pending:
            os.kill(os.getpid(), pending[0])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def staged_result(
    out: str | os.PathLike,
    extra: dict | None = None,
    staging_dir: str | os.PathLike | None = None,
) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends normally write its manifest.json
    (with ``extra``) and swap it in at ``out`` (see the module's text). After an exception
    (or an interrupt) the staging folder is removed and ``out`` is as it was; an OSError of the
    block (a full disk, a folder that cannot be written) becomes an InputError naming ``out``.

    staging_dir: where the staging folder goes (default: beside ``out``; it must be on the
    same file system as ``out``).
    """
    final = Path(out)
    parent = Path(staging_dir) if staging_dir is not None else final.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=_hidden(final, _STAGING), dir=parent))
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private; a result is not
    except OSError as e:
        raise InputError(f"{final}: cannot write the result ({e.strerror or e})") from None
    try:
        fd = _lock(stage)
    except OSError:
        fd = None
    old, done = None, False
    try:
        try:
            yield stage
            write_manifest(stage, extra=extra)
            with _signals_deferred():
                old = swap_in(stage, final)
                _events.append(("finished", final))
                done = True
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            raise InputError(
                f"{final}: cannot write the result: {e.strerror or e}{where}; "
                f"{final} is left as it was"
            ) from None
    finally:
        with _signals_deferred():  # an interrupt now waits until nothing is left behind
            _unlock(fd)
            if not done:
                _events.append(("dropped", final))
            for leftover in (stage, old):
                if leftover is not None and leftover.exists():
                    shutil.rmtree(leftover, ignore_errors=True)


def record_finished(folder: str | os.PathLike) -> None:
    """Count a result another process finished (a batch's Ray worker) in `interrupt_note`."""
    event = ("finished", Path(folder))
    if event not in _events:
        _events.append(event)


def forget_events() -> None:
    """Start a new account of finished and dropped results (one per command)."""
    _events.clear()


def interrupt_note() -> str:
    """What an interrupt left, for the command line's last line: true whenever it is said."""
    finished = [p for kind, p in _events if kind == "finished"]
    whole = f"{len(finished)} result(s) finished before it are whole" if finished else ""
    if _events and _events[-1][0] == "dropped":
        where = _events[-1][1]
        return f"the result being written was dropped, {where} is as it was" + (
            f"; {whole}" if whole else ""
        )
    return whole or "no result was written"
