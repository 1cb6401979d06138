"""Small synthetic scenes on disk for the batch tests."""

import pytest


@pytest.fixture
def break_scene():
    """break(folder): replace one view of a light-field folder by bytes that are no image."""

    def break_(folder):
        (folder / "input_Cam004.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        return folder

    return break_


@pytest.fixture
def three_scenes(tmp_path, write_tiny_hci, break_scene):
    """scenes/a and scenes/c are whole light fields, scenes/b has a broken view."""
    root = tmp_path / "scenes"
    write_tiny_hci(root / "a", seed=0)
    break_scene(write_tiny_hci(root / "b", seed=1)[0])
    write_tiny_hci(root / "c", seed=2)
    return root
