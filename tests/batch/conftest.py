"""Small synthetic scenes on disk for the batch tests."""

from pathlib import Path

import numpy as np
import pytest


def write_lightfield(folder: Path, height=40, width=56, grid=(3, 3), seed=0) -> Path:
    """A synthetic HCI-style light field folder (views and ground truth)."""
    from PIL import Image

    from diffdepth.io import write_pfm
    from diffdepth.synth import make_lightfield

    lf = make_lightfield(height=height, width=width, grid=grid, seed=seed)
    folder.mkdir(parents=True)
    for r in range(grid[0]):
        for c in range(grid[1]):
            img = (lf.views[r, c] * 255).round().astype(np.uint8)
            Image.fromarray(img).save(folder / f"input_Cam{r * grid[1] + c:03d}.png")
    write_pfm(folder / "gt_disp_lowres.pfm", lf.gt)
    return folder


def break_scene(folder: Path) -> Path:
    """Replace one view by bytes that are no image."""
    (folder / "input_Cam004.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    return folder


@pytest.fixture
def three_scenes(tmp_path):
    """scenes/a and scenes/c are whole light fields, scenes/b has a broken view."""
    root = tmp_path / "scenes"
    write_lightfield(root / "a", seed=0)
    break_scene(write_lightfield(root / "b", seed=1))
    write_lightfield(root / "c", seed=2)
    return root
