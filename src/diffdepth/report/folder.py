"""What a result folder holds, read back from its files.

The report is made from the files present, not from the run's objects in memory, so that any
result folder (a light field run, a multi-view run, a task of a batch, an old result) gets the
same page, and a new output slots in by its file name:

| role          | light field                         | multi-view                      |
|---------------|-------------------------------------|---------------------------------|
| result        | disparity.npy / .pfm                | depth.npy / .pfm                |
| plain         | disparity_plain.npy / .pfm          | depth_plain.npy / .pfm          |
| ground truth  | gt.pfm / gt.npy                     | gt.pfm / gt.npy (depth)         |
| reference     | reference.png                       | reference.png                   |
| points        | points_initial.csv (disparity)      | points_initial.csv (inverse depth) |
| confidence    | confidence.npy / .pfm (0 to 1)      | the same                        |
| mask          | mask.png / mask.npy (valid pixels)  | the same                        |
| loss          | loss.csv, loss.png                  | the same                        |
| metrics, run  | metrics.json, config.json           | the same                        |
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diffdepth import viz
from diffdepth.io.errors import InputError

KINDS = {
    "lightfield": ("disparity", viz.DISPARITY_LABEL, viz.DISPARITY_CMAP),
    "multiview": ("depth", viz.DEPTH_LABEL, viz.DEPTH_CMAP),
}


def scene_name(source: str) -> str:
    """A short name of a scene from where it was read: the folder of a COLMAP model
    (``scene/sparse/0`` -> ``scene``) or of a camera file, or the name itself."""
    p = Path(source)
    if p.name.isdigit() and p.parent.name == "sparse":
        p = p.parent
    if p.name == "sparse" or p.suffix.lower() == ".txt":
        p = p.parent
    return p.name or source


def result_kind(folder: str | Path) -> str | None:
    """'lightfield' or 'multiview' by the map the folder holds; None when it holds neither."""
    folder = Path(folder)
    for kind, (quantity, _, _) in KINDS.items():
        if any((folder / f"{quantity}{ext}").is_file() for ext in (".npy", ".pfm")):
            return kind
    return None


def _read_map(folder: Path, *stems: str) -> np.ndarray | None:
    """The first of ``stem.npy`` / ``stem.pfm`` that exists, as float32 [H, W]."""
    from diffdepth.io import read_pfm

    for stem in stems:
        npy, pfm = folder / f"{stem}.npy", folder / f"{stem}.pfm"
        if npy.is_file():
            try:
                return np.asarray(np.load(npy, allow_pickle=False), dtype=np.float32)
            except (OSError, ValueError) as e:
                raise InputError(f"{npy}: expected a NumPy array file ({e})") from None
        if pfm.is_file():
            return read_pfm(pfm)
    return None


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: expected JSON ({e})") from None
    return data if isinstance(data, dict) else {}


def _read_mask(folder: Path) -> np.ndarray | None:
    if (folder / "mask.npy").is_file():
        return np.load(folder / "mask.npy", allow_pickle=False).astype(bool)
    if (folder / "mask.png").is_file():
        from PIL import Image

        with Image.open(folder / "mask.png") as img:
            return np.asarray(img.convert("L")) > 127
    return None


def read_loss_csv(path: Path) -> dict | None:
    """{'loss': float [n], 'group': [n] str} from a loss.csv; None without rows."""
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    return {
        "loss": np.array([float(r["loss"]) for r in rows]),
        "group": [r.get("group", "") for r in rows],
    }


@dataclass
class ResultFolder:
    """The contents of one result folder (see the module docstring); absent parts are None."""

    path: Path
    kind: str  # 'lightfield' or 'multiview'
    result: np.ndarray  # float32 [H, W], disparity (px per view step) or depth (scene units)
    plain: np.ndarray | None = None  # the plain diffusion, same quantity
    gt: np.ndarray | None = None  # ground truth, same quantity
    reference: np.ndarray | None = None  # float [H, W, 3] in 0..1
    points_xy: np.ndarray | None = None  # float [N, 2] (x = col, y = row)
    points_value: np.ndarray | None = None  # float [N], same quantity as the map
    confidence: np.ndarray | None = None  # float [H, W] in 0..1
    mask: np.ndarray | None = None  # bool [H, W], True = valid
    loss: dict | None = None  # see read_loss_csv
    metrics: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)  # config.json: config, timings, versions, ...

    @property
    def quantity(self) -> str:
        return KINDS[self.kind][0]

    @property
    def label(self) -> str:
        return KINDS[self.kind][1]

    @property
    def cmap(self) -> str:
        return KINDS[self.kind][2]

    @property
    def title(self) -> str:
        """The scene (and the reference image of a multi-view run)."""
        scene = scene_name(str(self.config.get("scene") or self.path.name))
        ref = self.config.get("reference")
        return f"{scene}: {ref}" if ref else scene

    def display_range(self) -> tuple[float, float]:
        """The one colour scale of the result, the plain diffusion, the ground truth and the
        points: the scene's disparity range when config.json records it, else the 1st to 99th
        percentile of the result and the ground truth."""
        known = self.config.get("disp_range")
        if known and len(known) == 2 and known[1] > known[0]:
            return float(known[0]), float(known[1])
        return viz.map_range(self.result, self.gt)


def read_result_folder(folder: str | Path) -> ResultFolder:
    """Read a result folder written by a light-field or multi-view run (InputError when it holds
    neither map)."""
    from diffdepth.io.images import read_image
    from diffdepth.io.points_csv import read_points_csv

    folder = Path(folder)
    kind = result_kind(folder)
    if kind is None:
        raise InputError(
            f"{folder}: expected a result folder (disparity.pfm or depth.pfm), found neither"
        )
    quantity = KINDS[kind][0]
    res = ResultFolder(path=folder, kind=kind, result=_read_map(folder, quantity))
    res.plain = _read_map(folder, f"{quantity}_plain")
    res.gt = _read_map(folder, "gt", f"{quantity}_gt")
    if (folder / "reference.png").is_file():
        res.reference = read_image(folder / "reference.png")
    if (folder / "points_initial.csv").is_file():
        try:
            pts = read_points_csv(folder / "points_initial.csv")
        except InputError:  # an empty point set: nothing to draw
            pts = None
        if pts is not None:
            value = pts.value.astype(np.float64)
            if kind == "multiview":  # the points carry inverse depth
                with np.errstate(divide="ignore"):
                    value = np.where(value > 0, 1.0 / value, np.nan)
            res.points_xy, res.points_value = pts.xy, value
    conf = _read_map(folder, "confidence")
    res.confidence = conf
    res.mask = _read_mask(folder)
    res.loss = read_loss_csv(folder / "loss.csv")
    res.metrics = _read_json(folder / "metrics.json")
    res.config = _read_json(folder / "config.json")
    return res
