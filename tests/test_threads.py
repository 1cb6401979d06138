"""Thread counts from the affinity mask and the cgroup quota; passive waiting reaches the pools."""

import json
import os
import subprocess
import sys

import numba
import pytest
import torch

from diffdepth import threads
from diffdepth.cli import main


def _cgroup(tmp_path, proc_text, files):
    proc = tmp_path / "proc_cgroup"
    tmp_path.mkdir(parents=True, exist_ok=True)
    proc.write_text(proc_text)
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    v1 = (tmp_path / "v1cpu",)
    return threads.cgroup_cpu_limit(proc, tmp_path / "v2", v1)


def test_cgroup_v2_quota_is_the_tightest_on_the_path(tmp_path):
    files = {
        "v2/cpu.max": "max 100000\n",
        "v2/a/cpu.max": "300000 100000\n",
        "v2/a/b/cpu.max": "150000 100000\n",
    }
    assert _cgroup(tmp_path, "0::/a/b\n", files) == pytest.approx(1.5)
    # a container that sees its own cgroup as the root
    assert _cgroup(tmp_path, "0::/\n", {"v2/cpu.max": "200000 100000\n"}) == pytest.approx(2.0)


def test_cgroup_v1_quota_and_no_quota(tmp_path):
    text = "4:memory:/x\n3:cpu,cpuacct:/job\n"
    files = {"v1cpu/job/cpu.cfs_quota_us": "50000\n", "v1cpu/job/cpu.cfs_period_us": "100000\n"}
    assert _cgroup(tmp_path, text, files) == pytest.approx(0.5)
    unlimited = {"v1cpu/cpu.cfs_quota_us": "-1\n", "v1cpu/cpu.cfs_period_us": "100000\n"}
    assert _cgroup(tmp_path / "u", "3:cpu:/\n", unlimited) is None
    assert _cgroup(tmp_path / "m", "0::/\n", {"v2/cpu.max": "max 100000\n"}) is None
    assert threads.cgroup_cpu_limit(tmp_path / "absent") is None


def test_available_cores_is_the_affinity_capped_by_the_quota(monkeypatch):
    monkeypatch.setattr(threads, "_affinity_cores", lambda: 8)
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: 2.5)
    assert threads.available_cores() == 3  # 2.5 CPUs keep 3 threads busy part of the time
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: 0.2)
    assert threads.available_cores() == 1
    monkeypatch.setattr(threads, "cgroup_cpu_limit", lambda: None)
    assert threads.available_cores() == 8
    monkeypatch.setenv("DIFFDEPTH_THREADS", "3")
    assert threads.default_threads() == 3
    monkeypatch.setenv("DIFFDEPTH_THREADS", "zero")
    assert threads.default_threads() == 8


def test_set_threads_sets_torch_and_numba(tmp_path, capsys):
    before = (torch.get_num_threads(), numba.get_num_threads())
    try:
        assert threads.set_threads(1) == 1
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
        threads.set_threads(before[0])
        gt = tmp_path / "gt.npy"
        import numpy as np

        np.save(gt, np.zeros((40, 40), np.float32))
        assert main(["score", str(gt), str(gt), "--json", "--threads", "1"]) == 0
        assert (torch.get_num_threads(), numba.get_num_threads()) == (1, 1)
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
    with pytest.raises(ValueError):
        threads.set_threads(0)


_PROBE = r"""
import json, os, resource, sys, time
import diffdepth
import numba, numpy as np, torch

@numba.njit(parallel=True)
def work(a):
    s = 0.0
    for i in numba.prange(a.size):
        s += np.sqrt(a[i])
    return s

x = torch.rand(4_000_000)
for _ in range(5):
    torch.exp(x).sum()
    work(x.numpy())
def cpu():
    return sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
c0, t0 = cpu(), time.perf_counter()
time.sleep(1.0)  # idle: pool threads that spin burn CPU now
print(json.dumps({
    "idle_cpu_s": cpu() - c0,
    "wait": os.environ.get("OMP_WAIT_POLICY"),
    "blocktime": os.environ.get("KMP_BLOCKTIME"),
    "torch": torch.get_num_threads(),
    "numba": numba.get_num_threads(),
    "layer": numba.threading_layer(),
}))
"""


def _probe(**env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in set(threads.thread_env(1)) | {"NUMBA_THREADING_LAYER"}
    }
    clean.update(env)
    res = subprocess.run(
        [sys.executable, "-c", _PROBE], env=clean, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_import_sets_passive_waiting_and_the_counts_before_the_pools_start():
    one = _probe(DIFFDEPTH_THREADS="1")
    assert (one["wait"], one["blocktime"]) == ("PASSIVE", "0")
    assert (one["torch"], one["numba"]) == (1, 1)
    assert one["layer"] in ("omp", "workqueue")
    if threads.available_cores() < 2:
        pytest.skip("one core: no pool threads to wait")
    passive = _probe()
    assert passive["torch"] == threads.available_cores()
    assert passive["idle_cpu_s"] < 0.05, passive
    # the user's own setting wins, and it reaches the pool: spinning threads burn CPU while idle
    active = _probe(OMP_WAIT_POLICY="ACTIVE")
    assert active["wait"] == "ACTIVE"
    assert active["idle_cpu_s"] > 0.05, active
