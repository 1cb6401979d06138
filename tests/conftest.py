"""Shared fixtures: the real scenes in ../shared/data (tests skip with a reason when absent)."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
