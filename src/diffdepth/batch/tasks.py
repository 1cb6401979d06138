"""The tasks of a batch: which scenes (and which images of multi-view sets) get a result.

An input is one of:
- a scene folder (a light field, or a multi-view scene: a COLMAP model or a Middlebury
  ``*_par.txt``), or a ``*_par.txt`` file;
- a folder of scene folders (every sub-folder that holds images or a multi-view scene;
  others are left out and named);
- a glob such as ``'data/hci/*'`` (quoted, or expanded by the shell: each match is a scene);
- a list file (``.txt``/``.lst``/``.list``): one scene or glob a line, relative to the file's
  folder; blank lines and lines starting with ``#`` are ignored.

A light field is one task. A multi-view scene is one task per image (that image as the
reference). Each task has a result folder named after its scene (and image), made safe for a
file name and unique within the batch.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from diffdepth.io.errors import InputError
from diffdepth.io.images import IMAGE_SUFFIXES
from diffdepth.io.mvs import is_multiview
from diffdepth.io.results import UniqueNames, image_result_names

LIST_SUFFIXES = (".txt", ".lst", ".list")


@dataclass(frozen=True)
class Task:
    """One result of a batch.

    name:  result folder, relative to the batch's output folder ('scene' or 'scene/image')
    kind:  'lightfield' or 'multiview'
    scene: the scene's path (folder, or a *_par.txt file)
    image: multi-view: the reference image's name in the scene; None for a light field
    error: set when the scene could not be read while planning (the task then fails at once)
    """

    name: str
    kind: str
    scene: str
    image: str | None = None
    error: str | None = None


def _has_images(folder: Path) -> bool:
    try:
        return any(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in folder.iterdir())
    except OSError:
        return False


def is_scene(path: Path) -> bool:
    """A light-field folder (it holds images) or a multi-view scene."""
    try:
        if path.is_file():
            return path.name.endswith("_par.txt")
        return path.is_dir() and (is_multiview(path) or _has_images(path))
    except OSError:
        return False


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _expand_glob(pattern: str, where: str) -> list[Path]:
    matches = sorted(Path(p) for p in glob.glob(pattern))
    scenes = [p for p in matches if p.is_dir() or p.name.endswith("_par.txt")]
    if not scenes:
        raise InputError(f"{where}: the pattern {pattern!r} matches no folder")
    return scenes


def _read_list(path: Path) -> list[Path]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the list of scenes ({e})") from None
    scenes: list[Path] = []
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = Path(line).expanduser()
        if not entry.is_absolute():
            entry = path.parent / entry
        if _is_glob(line):
            scenes += _expand_glob(str(entry), f"{path}:{lineno}")
        elif entry.exists():
            scenes.append(entry)
        else:
            raise InputError(f"{path}:{lineno}: expected a scene folder, {entry} does not exist")
    if not scenes:
        raise InputError(f"{path}: the list names no scene")
    return scenes


def scene_paths(inputs: list[str], log=print) -> list[Path]:
    """The scene paths the inputs name, in order (see the module's text)."""
    if not inputs:
        raise InputError("batch: name at least one scene, folder of scenes, glob or list file")
    scenes: list[Path] = []
    for text in inputs:
        path = Path(text).expanduser()
        if not path.exists() and _is_glob(text):
            scenes += _expand_glob(str(path), text)
        elif not path.exists():
            raise InputError(
                f"{text}: expected a scene folder, a folder of scenes, a glob or a "
                "list file; found nothing there"
            )
        elif path.is_file() and not path.name.endswith("_par.txt"):
            if path.suffix.lower() not in LIST_SUFFIXES:
                raise InputError(
                    f"{path}: expected a list of scenes ({', '.join(LIST_SUFFIXES)}), a scene "
                    "folder or a *_par.txt file"
                )
            scenes += _read_list(path)
        elif is_scene(path):
            scenes.append(path)
        else:
            try:
                subs = sorted(
                    p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")
                )
            except OSError as e:
                raise InputError(f"{path}: cannot list the folder ({e.strerror or e})") from None
            found = [p for p in subs if is_scene(p)]
            left = [p.name for p in subs if p not in found]
            if not found:
                raise InputError(
                    f"{path}: expected scene folders in it (images or a "
                    "multi-view scene), found none"
                )
            if left:
                log(f"{path}: left out {len(left)} folder(s) without images: {', '.join(left)}")
            scenes += found
    return scenes


def _scene_label(path: Path) -> str:
    return path.parent.name if path.is_file() else path.resolve().name


def plan_tasks(inputs: list[str], log=print) -> tuple[list[Task], dict]:
    """The tasks of a batch and the multi-view scenes already read ({scene path: scene}).

    A multi-view scene that cannot be read becomes one task carrying the error."""
    from diffdepth.io.mvs import read_multiview

    tasks: list[Task] = []
    scenes: dict = {}
    names = UniqueNames()
    seen = set()
    for path in scene_paths(inputs, log=log):
        key = str(path.resolve())
        if key in seen:
            continue
        seen.add(key)
        label = names.take(_scene_label(path), "scene")
        if not is_multiview(path):
            tasks.append(Task(label, "lightfield", str(path)))
            continue
        try:
            scene = read_multiview(path)
        except InputError as e:
            tasks.append(Task(label, "multiview", str(path), error=str(e)))
            continue
        scenes[str(path)] = scene
        for image, folder in image_result_names(scene.names).items():
            tasks.append(Task(f"{label}/{folder}", "multiview", str(path), image))
    return tasks, scenes
