"""Result manifests: a folder verifies only when it holds exactly the files it lists, unaltered."""

import json

import pytest

import diffdepth
from diffdepth.io.manifest import MANIFEST, read_manifest, verify_manifest, write_manifest


@pytest.fixture
def result(tmp_path):
    folder = tmp_path / "r"
    (folder / "sub").mkdir(parents=True)
    (folder / "disparity.npy").write_bytes(bytes(range(256)) * 8)
    (folder / "metrics.json").write_text('{"mse_x100": 1.5}')
    (folder / "sub" / "loss.csv").write_text("iteration,loss\n1,0.5\n")
    (folder / ".probe-tmp").write_text("hidden temporaries are not part of a result")
    write_manifest(folder, extra={"fingerprint": "abc"})
    return folder


def test_manifest_lists_every_file_with_size_and_sha256(result):
    m = read_manifest(result)
    assert sorted(m["files"]) == ["disparity.npy", "metrics.json", "sub/loss.csv"]
    assert m["files"]["disparity.npy"]["size"] == 2048
    import hashlib

    digest = hashlib.sha256((result / "metrics.json").read_bytes()).hexdigest()
    assert m["files"]["metrics.json"]["sha256"] == digest
    assert m["diffdepth_version"] == diffdepth.__version__
    assert m["extra"] == {"fingerprint": "abc"}
    assert verify_manifest(result) == []


def test_altered_bytes_of_the_same_size_fail_the_hash_check_only(result):
    data = bytearray((result / "disparity.npy").read_bytes())
    data[100] ^= 0xFF
    (result / "disparity.npy").write_bytes(bytes(data))
    problems = verify_manifest(result)
    assert len(problems) == 1 and "disparity.npy" in problems[0] and "SHA-256" in problems[0]
    assert verify_manifest(result, check_hashes=False) == []


@pytest.mark.parametrize("damage", ["truncate", "delete", "extra", "no_manifest", "bad_json"])
def test_damaged_results_do_not_verify(result, damage):
    if damage == "truncate":
        (result / "sub" / "loss.csv").write_text("iteration")
        expect = "sub/loss.csv"
    elif damage == "delete":
        (result / "metrics.json").unlink()
        expect = "metrics.json is missing"
    elif damage == "extra":
        (result / "gt.png").write_bytes(b"left from an earlier run")
        expect = "gt.png is not in the manifest"
    elif damage == "no_manifest":
        (result / MANIFEST).unlink()
        expect = "missing or unreadable"
    else:
        (result / MANIFEST).write_text('{"files": ')
        expect = "missing or unreadable"
    problems = verify_manifest(result)
    assert problems and any(expect in p for p in problems), problems


def test_a_manifest_of_another_format_does_not_verify(result):
    m = json.loads((result / MANIFEST).read_text())
    m["format"] = 99
    (result / MANIFEST).write_text(json.dumps(m))
    assert any("format" in p for p in verify_manifest(result))


def test_not_a_folder(tmp_path):
    assert verify_manifest(tmp_path / "absent") == [f"{tmp_path / 'absent'} is not a folder"]
