"""Where numba keeps diffdepth's compiled kernels, and a word when it compiles them.

The kernels are compiled the first time they run (about 20 s) and cached on disk, so later
runs load them in a moment. The cache goes to the first place this process can write:

1. ``NUMBA_CACHE_DIR`` when the user set it to a writable folder;
2. beside the package (numba's own ``__pycache__`` folders), when every folder of the package
   is writable (a development checkout, a user's virtual environment);
3. ``$XDG_CACHE_HOME/diffdepth/numba``, else ``~/.cache/diffdepth/numba``;
4. ``diffdepth-numba-<uid>`` in the system temp folder (only a folder this user owns and no one
   else may write: a cache is code that will be run);
5. nowhere: the kernels compile in every run, which is slow but works.

A read-only installation, a read-only HOME or a full disk therefore never stops a run.
The first time a kernel compiles in a process (an empty or outdated cache), one line says so.

matplotlib (the pictures) keeps its font cache in its config folder; where that folder cannot
be written (a read-only HOME) and ``MPLCONFIGDIR`` is not set, it goes to the private
``diffdepth-mpl-<uid>`` of the system temp folder instead of a new temporary folder (and a
warning) in every run. So a run writes nowhere but its output folder and the temp folder.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

#: where the cache went: 'NUMBA_CACHE_DIR', 'package', 'user', 'temp' or 'none'
_state = {"where": None, "folder": None, "notice_shown": False, "uncached": False}


def _can_write(folder: Path) -> bool:
    """The folder exists or can be made, and a file can be created in it (the check numba
    makes itself; os.access is not enough on read-only mounts or for root)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def _package_writable(package_dir: Path) -> bool:
    """numba caches a module's kernels in the __pycache__ folder beside it: every folder of the
    package must take one."""
    folders = [package_dir] + [p for p in package_dir.iterdir() if (p / "__init__.py").exists()]
    return all(_can_write(f / "__pycache__") for f in folders)


def _private(folder: Path) -> bool:
    """The folder is this user's and no one else may write into it."""
    try:
        st = folder.stat()
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        return False
    return stat.S_ISDIR(st.st_mode) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _temp_folder(kind: str = "numba") -> Path | None:
    try:
        tmp = Path(tempfile.gettempdir())
    except (FileNotFoundError, OSError):  # no usable temp folder at all
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folder = tmp / f"diffdepth-{kind}-{uid}"
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700)
    if not _private(folder):
        return None
    return folder


def user_cache_folder() -> Path | None:
    """$XDG_CACHE_HOME/diffdepth/numba, else ~/.cache/diffdepth/numba (None without a home)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "diffdepth" / "numba"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        return None
    return home / ".cache" / "diffdepth" / "numba"


def choose_cache(package_dir: Path = PACKAGE_DIR) -> tuple[str, Path | None]:
    """(where, folder) of the first writable place in the chain (see the module's text);
    folder is None for 'package' (numba's own __pycache__ folders) and 'none'."""
    given = os.environ.get("NUMBA_CACHE_DIR", "").strip()
    if given and _can_write(Path(given)):
        return "NUMBA_CACHE_DIR", Path(given)
    if _package_writable(package_dir):
        return "package", None
    user = user_cache_folder()
    if user is not None and _can_write(user):
        return "user", user
    tmp = _temp_folder()
    if tmp is not None and _can_write(tmp):
        return "temp", tmp
    return "none", None


def configure(package_dir: Path = PACKAGE_DIR) -> str:
    """Point numba's cache at the first writable place (before the kernels are defined), make a
    cache that cannot be used fall back to compiling, and install the compile notice.
    Returns where the cache went ('NUMBA_CACHE_DIR', 'package', 'user', 'temp', 'none')."""
    where, folder = choose_cache(package_dir)
    if folder is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(folder)
    else:
        os.environ.pop("NUMBA_CACHE_DIR", None)
    _state.update(where=where, folder=folder)
    import numba

    numba.config.CACHE_DIR = str(folder) if folder is not None else ""
    _guard_cache()
    _install_notice()
    configure_matplotlib()
    return where


def matplotlib_config_folder() -> Path:
    """Where matplotlib keeps its config and font cache by default (without MPLCONFIGDIR)."""
    if sys.platform.startswith(("linux", "freebsd")):
        xdg = os.environ.get("XDG_CONFIG_HOME", "").strip()
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
        return base / "matplotlib"
    return Path.home() / ".matplotlib"


def configure_matplotlib() -> str | None:
    """Point MPLCONFIGDIR at a private temp folder when matplotlib's own cannot be written
    (before matplotlib is imported). Returns the folder chosen, or None when left alone."""
    if os.environ.get("MPLCONFIGDIR", "").strip():
        return None
    try:
        default = matplotlib_config_folder()
    except (RuntimeError, KeyError):  # no home
        default = None
    if default is not None and _can_write(default):
        return None
    folder = _temp_folder("mpl")
    if folder is None:
        return None  # matplotlib makes a temporary folder itself
    os.environ["MPLCONFIGDIR"] = str(folder)
    return str(folder)


def cache_location() -> tuple[str | None, Path | None]:
    """(where, folder) chosen by :func:`configure` (folder None: beside the package, or none)."""
    return _state["where"], _state["folder"]


def _guard_cache() -> None:
    """A function whose cache cannot be placed compiles uncached instead of failing at import
    ('cannot cache function ...: no locator available'), and a cache that cannot be written
    (disk full, folder gone) is dropped for that function instead of failing the run."""
    from numba.core import caching, dispatcher

    if getattr(dispatcher.Dispatcher.enable_caching, "_diffdepth_guard", False):
        return
    enable = dispatcher.Dispatcher.enable_caching
    save = caching.Cache.save_overload

    def enable_caching(self):
        try:
            enable(self)
        except RuntimeError:  # no cache locator: leave the dispatcher's null cache
            _state["uncached"] = True

    def save_overload(self, sig, data):
        try:
            save(self, sig, data)
        except OSError:
            _state["uncached"] = True
            self.disable()

    enable_caching._diffdepth_guard = True
    dispatcher.Dispatcher.enable_caching = enable_caching
    caching.Cache.save_overload = save_overload


def notice_text() -> str:
    if _state["where"] == "none" or _state["uncached"]:
        return (
            "diffdepth: compiling kernels (~20 s; no writable cache folder, so every run "
            "compiles them: set NUMBA_CACHE_DIR to a writable folder)"
        )
    return "diffdepth: compiling kernels, once; ~20 s"


def _install_notice() -> None:
    """One line on stderr the first time one of diffdepth's kernels compiles in this process
    (numba raises 'numba:compile' only on a cache miss, not when it loads a cached kernel)."""
    from numba.core import event

    class _Notice(event.Listener):
        def on_start(self, ev):
            disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
            module = getattr(getattr(disp, "py_func", None), "__module__", "") or ""
            if _state["notice_shown"] or not module.startswith("diffdepth."):
                return
            _state["notice_shown"] = True
            import logging

            log = logging.getLogger("diffdepth")
            if log.handlers and not log.isEnabledFor(logging.INFO):
                return  # the command line's --quiet
            try:
                from tqdm import tqdm

                tqdm.write(notice_text(), file=sys.stderr)
            except ImportError:
                print(notice_text(), file=sys.stderr)

        def on_end(self, ev):
            pass

    if not _state.get("notice_installed"):
        event.register("numba:compile", _Notice())
        _state["notice_installed"] = True
