"""The one error type a user sees for bad input, and how its messages name parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class InputError(Exception):
    """Bad user input: the message names the file, what was expected and what was found.

    The command line prints it on one line (no traceback) and exits with status 2.
    """


# A message that tells the user to set a parameter names it the way the user set it: as the
# library's keyword argument from Python, as the flag from the command line (which enters
# `flag_wording` around its work).
_FLAG_WORDING: ContextVar[bool] = ContextVar("diffdepth_flag_wording", default=False)

_Wording = Callable[[object], str]

# name -> (library wording, command-line wording), each a function of the value (None: the
# parameter in general, as in "pass grid=(rows, cols)").
_PARAMETERS: dict[str, tuple[_Wording, _Wording]] = {
    "grid": (
        lambda v: "grid=(rows, cols)" if v is None else f"grid={tuple(v)}",
        lambda v: "--grid ROWSxCOLS" if v is None else f"--grid {v[0]}x{v[1]}",
    ),
    "device": (
        lambda v: "device=..." if v is None else f"device={v!r}",
        lambda v: "--device" if v is None else f"--device {v}",
    ),
    "supervised": (lambda v: "supervised=True", lambda v: "--supervised"),
    "optimize": (lambda v: "optimize=False", lambda v: "--no-optimize"),
    "gt": (
        lambda v: "gt=..." if v is None else f"gt={str(v)!r}",
        lambda v: "--gt FILE" if v is None else f"--gt {v}",
    ),
    "points": (
        lambda v: "points=..." if v is None else f"points={v!r}",
        lambda v: "--points FILE" if v is None else f"--points {v}",
    ),
}


def parameter(name: str, value: object = None) -> str:
    """How an error message names the parameter ``name`` (set to ``value``, if given): the
    keyword argument (``grid=(rows, cols)``), or the flag (``--grid ROWSxCOLS``) inside
    `flag_wording`."""
    library, flag = _PARAMETERS[name]
    return (flag if _FLAG_WORDING.get() else library)(value)


@contextmanager
def flag_wording() -> Iterator[None]:
    """Within this block, `parameter` names parameters as command-line flags."""
    token = _FLAG_WORDING.set(True)
    try:
        yield
    finally:
        _FLAG_WORDING.reset(token)
