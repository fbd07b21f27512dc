"""cgroup v2 per Arrow (docs/cgroups.md): arrowh in its own cgroup with limits from --memory
and --cpus, removed when the Arrow ends or is removed; a memory-hungry guest bounded by its
cgroup; usage in ps and inspect; --cgroup-parent, ARROW_CGROUP_PARENT, --cgroup none; errors."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from conftest import BUSYBOX, TIMEOUT, arrow, detached_reports, guest

CG = "/sys/fs/cgroup"
LOOP = "while true; do sleep 1; done"


def controllers():
    try:
        with open(f"{CG}/cgroup.controllers") as f:
            return f.read().split()
    except OSError:
        return []


pytestmark = pytest.mark.skipif(not {"memory", "cpu", "pids"} <= set(controllers()),
                                reason="no cgroup v2 with memory, cpu and pids at /sys/fs/cgroup")


def ok(*args, **kw):
    r = arrow(*args, **kw)
    if r.returncode != 0:
        raise AssertionError(f"arrow {' '.join(args)}: {r.stderr.decode(errors='replace')}"
                             + detached_reports())
    return r.stdout.decode()


def run_d(*args):
    out = ok("run", "-d", *args).strip()
    assert re.fullmatch(r"[0-9a-f]{64}", out), out
    return out


def read(path):
    with open(path) as f:
        return f.read().strip()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def children(d):
    return sorted(e for e in os.listdir(d) if os.path.isdir(os.path.join(d, e)))


def expected_memory_max(mib, cpus):
    # docs/cgroups.md: guest RAM + 32 MiB + 1 MiB per vCPU + 1/128 of guest RAM
    return (mib << 20) + (32 << 20) + cpus * (1 << 20) + (mib << 20) // 128


@pytest.fixture
def parent():
    """A cgroup parent of the test's own, below the cgroup2 root; removed afterwards."""
    name = f"arrowtest-{uuid.uuid4().hex[:8]}"
    yield name
    for d, subdirs, _ in sorted(os.walk(f"{CG}/{name}"), key=lambda t: -len(t[0])):
        try:
            os.rmdir(d)
        except OSError:
            pass


def test_arrowh_runs_in_its_cgroup_with_the_limits(parent, stop_all):
    id_ = run_d("--cgroup-parent", parent, "--network", "none", "-m", "96", "--cpus", "2",
                BUSYBOX, "sh", "-c", LOOP)
    cg = f"{CG}/{parent}/{id_}"
    info = json.loads(ok("inspect", id_))[0]
    pid = info["State"]["Pid"]
    assert info["Cgroup"]["Path"] == cg
    # arrowh, or the VMM child of a jailed arrowh (the one that maps guest memory), is inside
    members = [int(m) for m in read(f"{cg}/cgroup.procs").split()]
    assert members and all(read(f"/proc/{m}/comm") == "arrowh" for m in members)
    assert any(m == pid or f"PPid:\t{pid}" in read(f"/proc/{m}/status") for m in members)
    assert read(f"/proc/{members[0]}/cgroup") == f"0::/{parent}/{id_}"
    assert int(read(f"{cg}/memory.max")) == expected_memory_max(96, 2)
    assert read(f"{cg}/cpu.max") == "200000 100000"
    assert int(read(f"{cg}/pids.max")) == 3 + 2 + 16
    assert read(f"{cg}/memory.oom.group") == "1"
    if os.path.exists(f"{cg}/memory.swap.max"):
        assert read(f"{cg}/memory.swap.max") == "0"
    for d in (CG, f"{CG}/{parent}"):    # the controllers enabled down the ancestors
        assert {"memory", "cpu", "pids"} <= set(read(f"{d}/cgroup.subtree_control").split())

    # usage: inspect, ps --format json, the ps table
    time.sleep(1)
    use = json.loads(ok("inspect", id_))[0]["Cgroup"]
    assert use["MemoryCurrent"] > 4 << 20 and use["MemoryMax"] == expected_memory_max(96, 2)
    assert use["CpuUsageUsec"] > 0 and use["PidsCurrent"] >= 3 and use["OomKills"] == 0
    row = json.loads(ok("ps", "--format", "json").splitlines()[0])
    assert row["Cgroup"] == cg and row["MemoryUsage"] > 4 << 20
    assert row["MemoryLimit"] == expected_memory_max(96, 2) and row["CpuUsageUsec"] > 0
    table = ok("ps")
    assert "MEM USAGE / LIMIT" in table.splitlines()[0]
    assert re.search(r"\d+\.\dMiB / %.1fMiB +\d+\.\d\ds" % (expected_memory_max(96, 2) / 2**20),
                     table), table

    # stopped: arrowh left its cgroup and removed it before its state lock was released
    ok("stop", "-t", "0", id_)
    assert not os.path.exists(cg)
    assert json.loads(ok("inspect", id_))[0]["Cgroup"] == {"Path": cg}
    assert "MemoryUsage" not in json.loads(ok("ps", "-a", "--format", "json").splitlines()[0])
    ok("rm", id_)
    assert children(f"{CG}/{parent}") == []


def test_cgroup_gone_after_exit_and_after_rm_of_a_killed_arrowh(parent):
    r = arrow("run", "--rm", "--cgroup-parent", parent, "--network", "none", guest("hello"))
    assert r.returncode == 0, r.stderr
    assert b"hello from an Arrow" in r.stdout
    assert children(f"{CG}/{parent}") == []

    # kill -9 of arrowh: nobody removed the cgroup, it is empty; rm removes it
    id_ = run_d("--cgroup-parent", parent, "--network", "none", BUSYBOX, "sh", "-c", LOOP)
    cg = f"{CG}/{parent}/{id_}"
    pid = json.loads(ok("inspect", id_))[0]["State"]["Pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 30
    while read(f"{cg}/cgroup.procs") and time.time() < deadline:
        time.sleep(0.2)
    assert read(f"{cg}/cgroup.procs") == ""
    assert "Exited (137)" in ok("ps", "-a")
    ok("rm", id_)
    assert not os.path.exists(cg)


def test_memory_hungry_guest_is_killed_inside_its_cgroup(parent, stop_all):
    """The parent allows less memory than the guest has: the OOM kill lands on the Arrow,
    counted in its cgroup, and a process outside it (in a cgroup of its own, outside the
    parent) lives. (Not a sibling under the same parent: docs/cgroups.md, the OOM reaper.)"""
    write(f"{CG}/cgroup.subtree_control", "+memory +cpu +pids")
    p = f"{CG}/{parent}"
    os.mkdir(p)
    write(f"{p}/memory.max", str(160 << 20))
    if os.path.exists(f"{p}/memory.swap.max"):
        write(f"{p}/memory.swap.max", "0")
    out = f"{p}-outside"
    os.mkdir(out)
    bystander = subprocess.Popen(
        ["sh", "-c", f"echo $$ > {out}/cgroup.procs && exec python3 -c "
         "\"import time; x = b'y' * (16 << 20); print('ready', flush=True); time.sleep(600)\""],
        stdout=subprocess.PIPE)
    try:
        assert bystander.stdout.readline() == b"ready\n"
        id_ = run_d("--cgroup-parent", parent, "--network", "none", "-m", "512",
                    guest("memhog"))
        cg = f"{p}/{id_}"
        # watch the Arrow's own memory.events until the kill (a jailed arrowh's supervisor
        # outlives its VMM child and removes the cgroup right after)
        events, deadline = {}, time.time() + TIMEOUT
        while time.time() < deadline:
            try:
                events = dict(l.split() for l in read(f"{cg}/memory.events").splitlines())
            except OSError:
                break
            if int(events["oom_kill"]) >= 1:
                break
            time.sleep(0.05)
        assert int(events.get("oom_kill", 0)) >= 1, events
        status = ok("wait", id_).strip()
        assert status != "0", status
        outside = dict(l.split() for l in read(f"{out}/memory.events").splitlines())
        assert int(outside["oom_kill"]) == 0, outside
        assert bystander.poll() is None               # the process outside lives on
        log = ok("logs", id_)
        assert "memhog: 32 MiB" in log and "touched" not in log, log
        ok("rm", id_)
        assert not os.path.exists(cg)
    finally:
        bystander.kill()
        bystander.wait()
        time.sleep(0.5)
        os.rmdir(out)


def test_parent_from_the_environment_and_opting_out(parent, stop_all, monkeypatch):
    monkeypatch.setenv("ARROW_CGROUP_PARENT", f"{parent}/env")
    id_ = run_d("--network", "none", BUSYBOX, "sh", "-c", LOOP)
    assert json.loads(ok("inspect", id_))[0]["Cgroup"]["Path"] == f"{CG}/{parent}/env/{id_}"
    assert os.path.isdir(f"{CG}/{parent}/env/{id_}")
    r = arrow("run", "-d", "--cgroup", "none", "--network", "none", BUSYBOX, "sh", "-c", LOOP)
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    none_id = r.stdout.decode().strip()
    info = json.loads(ok("inspect", none_id))[0]
    assert info["Cgroup"] is None
    pid = info["State"]["Pid"]
    assert read(f"/proc/{pid}/cgroup") == read(f"/proc/{os.getpid()}/cgroup")


def test_bad_parents_are_clear_errors(parent, state_root):
    # a parent with processes of its own cannot give its controllers to children
    write(f"{CG}/cgroup.subtree_control", "+memory +cpu +pids")
    busy = f"{CG}/{parent}"
    os.mkdir(busy)
    sleeper = subprocess.Popen(["sh", "-c", f"echo $$ > {busy}/cgroup.procs && exec sleep 600"])
    try:
        deadline = time.time() + 10
        while not read(f"{busy}/cgroup.procs") and time.time() < deadline:
            time.sleep(0.1)
        r = arrow("run", "--cgroup-parent", parent, "--network", "none", guest("hello"))
        assert r.returncode == 125
        assert r.stderr.count(b"\n") == 1, r.stderr
        assert b"processes of its own" in r.stderr and parent.encode() in r.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    assert os.listdir(state_root) in ([], [".lock"])   # the Arrow that could not start is gone

    r = arrow("run", "--cgroup-parent", "a/../b", guest("hello"))
    assert r.returncode == 125 and b"invalid --cgroup-parent 'a/../b'" in r.stderr
    r = arrow("run", "--cgroup", "none", "--cgroup-parent", parent, guest("hello"))
    assert r.returncode == 125 and b"contradict" in r.stderr
    r = arrow("run", "--network", "none", guest("hello"),
              env={**os.environ, "ARROW_CGROUP_PARENT": "../up"})
    assert r.returncode == 125 and b"ARROW_CGROUP_PARENT" in r.stderr


def test_without_cgroup_v2_a_warning_or_an_error(tmp_path, parent):
    """A root that is no cgroup2 mount (as on a cgroup v1 host): one warning and the Arrow
    runs; asked for explicitly, a cgroup that cannot be had is an error."""
    fake = tmp_path / "v1"
    fake.mkdir()
    env = {**os.environ, "ARROW_CGROUP_ROOT": str(fake)}
    r = arrow("run", "--rm", "--network", "none", guest("hello"), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count(b"\n") == 1 and b"warning" in r.stderr, r.stderr
    assert b"not a cgroup v2 mount" in r.stderr and b"hello from an Arrow" in r.stdout
    r = arrow("run", "--rm", "--network", "none", "--cgroup-parent", parent, guest("hello"),
              env=env)
    assert r.returncode == 125 and b"not a cgroup v2 mount" in r.stderr, r.stderr
    assert b"warning" not in r.stderr
    r = arrow("run", "--rm", "--network", "none", "--cgroup", "none", guest("hello"), env=env)
    assert r.returncode == 0 and r.stderr == b"", r.stderr


def test_no_sandbox_is_passed_on_with_a_loud_warning():
    r = arrow("run", "--rm", "--no-sandbox", "--network", "none", guest("hello"))
    assert r.returncode == 0, r.stderr
    assert (b"arrow: warning: --no-sandbox: arrowh runs without its jail and seccomp filter "
            b"(debugging only)\n") in r.stderr
