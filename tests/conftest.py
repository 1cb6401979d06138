"""Shared fixtures: the real scenes in ../shared/data (tests skip with a reason when absent).

Every test that takes a real scene is marked ``slow`` here, so none can forget it: ``pytest -m
"not slow"`` runs the synthetic tests alone, a plain ``pytest`` (and ``.ci/run``) runs them all.
"""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: the fixtures below: a test that takes one of them runs on a real scene
REAL_SCENES = ("antinous", "lytro_2067", "tsukuba", "temple")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if set(REAL_SCENES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def shared_scene(*parts: str) -> Path:
    """Path of a real scene under ../shared/data, or skip the test with a clear reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real scene {path} is absent (../shared/data is not beside this checkout)")
    return path


@pytest.fixture
def antinous() -> Path:
    return shared_scene("hci", "antinous")


@pytest.fixture
def lytro_2067() -> Path:
    return shared_scene("lytro", "2067")


@pytest.fixture
def tsukuba() -> Path:
    return shared_scene("middlebury", "tsukuba")


@pytest.fixture
def temple() -> Path:
    return shared_scene("mvs", "templeSparseRing")


@pytest.fixture(scope="session")
def write_tiny_hci():
    """write(folder, height=40, width=56, grid=(3, 3), seed=0): an HCI-style light field folder
    (with ground truth) from the synthetic generator; returns (folder, the LightField)."""
    import numpy as np
    from PIL import Image

    from diffdepth.io import write_pfm
    from diffdepth.synth import make_lightfield

    def write(folder, height=40, width=56, grid=(3, 3), seed=0):
        lf = make_lightfield(height=height, width=width, grid=grid, seed=seed)
        folder.mkdir(parents=True)
        for r in range(grid[0]):
            for c in range(grid[1]):
                img = (lf.views[r, c] * 255).round().astype(np.uint8)
                Image.fromarray(img).save(folder / f"input_Cam{r * grid[1] + c:03d}.png")
        write_pfm(folder / "gt_disp_lowres.pfm", lf.gt)
        return folder, lf

    return write


@pytest.fixture
def tiny_hci(tmp_path, write_tiny_hci):
    """A 3x3 HCI-style light field folder from the synthetic generator (with ground truth)."""
    return write_tiny_hci(tmp_path / "scene")


@pytest.fixture
def points_csv():
    """write(path, lf, n=60, seed=0): n points at random positions carrying the ground truth of
    the light field ``lf`` there, as a points CSV; returns the path."""
    import numpy as np

    def write(path, lf, n=60, seed=0):
        rng = np.random.default_rng(seed)
        h, w = lf.gt.shape
        x, y = rng.uniform(0, w - 1, n), rng.uniform(0, h - 1, n)
        d = lf.gt[np.round(y).astype(int), np.round(x).astype(int)]
        lines = ["x,y,disparity"] + [f"{a:.3f},{b:.3f},{c:.4f}" for a, b, c in zip(x, y, d)]
        path.write_text("\n".join(lines) + "\n")
        return path

    return write


@pytest.fixture
def write_colmap_scene():
    """write(folder, scene, binary=True): a multi-view scene as a COLMAP folder (images/ and a
    sparse/ model, with the scene's sparse points when it has any); returns the folder."""
    import numpy as np
    from PIL import Image

    from diffdepth.io.colmap import write_colmap_model

    def write(folder, scene, binary=True):
        (folder / "images").mkdir(parents=True)
        for name, img in zip(scene.names, scene.images):
            Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / "images" / name)
        write_colmap_model(folder / "sparse", scene, binary=binary)
        return folder

    return write
