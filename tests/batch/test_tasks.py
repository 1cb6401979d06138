"""Which tasks a batch's inputs name, and the result folders they get."""

import pytest
from PIL import Image

from diffdepth.batch.tasks import plan_tasks, scene_paths
from diffdepth.io.errors import InputError
from diffdepth.io.results import image_result_names, safe_name


def _images(folder, n=2):
    folder.mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (8, 6)).save(folder / f"v{i}.png")
    return folder


def test_a_folder_of_scenes_leaves_out_folders_without_images(tmp_path):
    root = tmp_path / "data"
    for name in ("b", "a"):
        _images(root / name)
    (root / "docs").mkdir()
    (root / "docs" / "notes.txt").write_text("not a scene")
    (root / ".hidden").mkdir()
    said = []
    assert scene_paths([str(root)], log=said.append) == [root / "a", root / "b"]
    assert len(said) == 1 and "docs" in said[0]


def test_a_scene_folder_is_one_scene(tmp_path):
    scene = _images(tmp_path / "scene")
    assert scene_paths([str(scene)]) == [scene]


def test_globs_and_list_files(tmp_path):
    for name in ("s1", "s2", "t1"):
        _images(tmp_path / "data" / name)
    (tmp_path / "data" / "readme.md").write_text("a file, not a scene")
    assert scene_paths([str(tmp_path / "data" / "s*")]) == [
        tmp_path / "data" / "s1",
        tmp_path / "data" / "s2",
    ]
    listing = tmp_path / "scenes.txt"
    listing.write_text("# the scenes\n\ndata/t1\n  data/s*  \n")
    assert scene_paths([str(listing)]) == [
        tmp_path / "data" / "t1",
        tmp_path / "data" / "s1",
        tmp_path / "data" / "s2",
    ]


@pytest.mark.parametrize(
    "case, expect",
    [
        ("missing", "found nothing there"),
        ("no_match", "matches no folder"),
        ("list_missing", "scenes.txt:2: expected a scene folder"),
        ("empty_list", "names no scene"),
        ("other_file", "expected a list of scenes"),
        ("no_scenes", "found none"),
        ("nothing", "name at least one"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path, case, expect):
    listing = tmp_path / "scenes.txt"
    inputs = {
        "missing": [str(tmp_path / "nope")],
        "no_match": [str(tmp_path / "x*")],
        "list_missing": [str(listing)],
        "empty_list": [str(listing)],
        "other_file": [str(tmp_path / "photo.jpg")],
        "no_scenes": [str(tmp_path / "empty")],
        "nothing": [],
    }[case]
    _images(tmp_path / "ok")
    listing.write_text("ok\nnot-there\n" if case == "list_missing" else "# nothing\n")
    (tmp_path / "photo.jpg").write_bytes(b"")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InputError) as err:
        scene_paths(inputs)
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_safe_names():
    assert safe_name("..", "scene") == "scene"
    assert safe_name("../../etc") == "etc"
    assert safe_name("my scene (1)") == "my_scene_1"
    assert safe_name(".hidden") == "hidden"
    assert safe_name("x" * 300) == "x" * 120


def test_image_result_names_keep_sub_folders_apart_and_never_climb():
    names = ["sub1/a.png", "sub2/a.png", "a.png", "A.jpg", "...png", "../../x.png", "/abs/y.png"]
    got = image_result_names(names)
    assert got == {
        "sub1/a.png": "sub1_a",
        "sub2/a.png": "sub2_a",
        "a.png": "a",
        "A.jpg": "A-2",  # one folder per image also where names differ only in case
        "...png": "image",
        "../../x.png": "x",
        "/abs/y.png": "abs_y",
    }
    assert all("/" not in v and not v.startswith(".") for v in got.values())


def test_task_names_are_unique_safe_and_avoid_the_index_files(tmp_path):
    for parent in ("x", "y"):
        _images(tmp_path / parent / "scene")
    _images(tmp_path / "z" / "Scene")
    _images(tmp_path / "w" / "index.html")
    inputs = [str(tmp_path / p) for p in ("x/scene", "y/scene", "z/Scene", "w/index.html")]
    tasks, _ = plan_tasks(inputs + [str(tmp_path / "x" / "scene")])  # the repeat is dropped
    assert [t.name for t in tasks] == ["scene", "scene-2", "Scene-3", "index.html-2"]
    assert all(t.kind == "lightfield" and t.image is None for t in tasks)


def test_a_multiview_scene_is_a_task_per_image(tmp_path, write_colmap_scene):
    from diffdepth.synth import make_multiview

    scene, _ = make_multiview(n_views=3, height=24, width=32, seed=0)
    folder = write_colmap_scene(tmp_path / "temple", scene)
    bad = tmp_path / "broken"
    (bad / "sparse").mkdir(parents=True)
    (bad / "sparse" / "cameras.txt").write_text("garbage\n")
    tasks, scenes = plan_tasks([str(folder), str(bad)])
    stems = [n.rsplit(".", 1)[0] for n in scene.names]
    assert [t.name for t in tasks[:3]] == [f"temple/{s}" for s in stems]
    assert [t.image for t in tasks[:3]] == scene.names
    assert list(scenes) == [str(folder)]
    # an unreadable multi-view scene is one task that carries its error
    assert tasks[3].name == "broken" and tasks[3].error and tasks[3].image is None
