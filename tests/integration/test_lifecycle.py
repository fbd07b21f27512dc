"""Managed Arrows: run -d, ps, logs, stop, kill, rm, wait, inspect (docs/lifecycle.md)."""
import concurrent.futures
import hashlib
import json
import os
import re
import signal
import time

from conftest import ARROW, BUSYBOX, arrow, arrowh_pids, detached_reports, open_files_under

LOOP = "while true; do sleep 1; done"


def run_d(*args):
    r = arrow("run", "-d", *args)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", out), out
    return out


def ok(*args, **kw):
    r = arrow(*args, **kw)
    if r.returncode != 0:
        # what the Arrows' arrowh said (an Arrow that ended early says why there)
        raise AssertionError(f"arrow {' '.join(args)}: {r.stderr.decode(errors='replace')}"
                             + detached_reports())
    return r.stdout.decode()


def inspect(ref):
    return json.loads(ok("inspect", ref))[0]


def wait_for_log(ref, text, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in ok("logs", ref):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared in the log of {ref}")


def test_detached_arrow_survives_the_cli_and_is_reported_before_and_after_exit(state_root):
    id_ = run_d("--name", "svc", BUSYBOX, "sh", "-c",
                "echo started; echo warn >&2; read x < /dev/null; sleep 3; echo bye; exit 7")
    info = inspect("svc")
    assert info["Id"] == id_ and info["Name"] == "svc"
    assert info["State"]["Running"] is True and info["State"]["Status"] == "running"
    assert info["State"]["Pid"] in arrowh_pids()    # arrowh outlives the CLI
    ps = ok("ps")
    assert id_[:12] in ps and "svc" in ps and "Up " in ps
    assert ok("ps", "-q").split() == [id_[:12]]
    assert ok("ps", "-q", "--no-trunc").split() == [id_]
    wait_for_log("svc", "started")

    assert ok("wait", id_[:8]).strip() == "7"      # a unique id prefix resolves
    info = inspect(id_)
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 7
    assert info["State"]["FinishedAt"] > info["State"]["StartedAt"]
    assert ok("ps", "-q") == ""                     # not running any more
    assert re.search(r"Exited \(7\) .* ago", ok("ps", "-a"))
    row = json.loads(ok("ps", "-a", "--format", "json").splitlines()[0])
    assert row["State"] == "exited" and row["ExitCode"] == 7 and row["Names"] == "svc"
    r = arrow("logs", "svc")                        # logs survive the exit, streams apart
    assert r.stdout == b"started\nbye\n" and r.stderr == b"warn\n"
    assert ok("rm", "svc").strip() == "svc"
    assert os.listdir(state_root) == [".lock"]


def test_inspect_shows_config_and_resources():
    run_d("--name", "res", "--memory", "96m", "--cpus", "2", "-e", "A=1", "-w", "/tmp",
          "--hostname", "h1", "-u", "1000:1001", BUSYBOX, "sh", "-c",
          "id; nproc; hostname; pwd; echo $A")
    assert ok("wait", "res").strip() == "0"
    out = ok("logs", "res").splitlines()
    assert out[0].startswith("uid=1000 gid=1001") and out[1:] == ["2", "h1", "/tmp", "1"]
    info = inspect("res")
    assert info["HostConfig"]["MemoryMiB"] == 96 and info["HostConfig"]["Cpus"] == 2
    assert info["Config"]["Hostname"] == "h1" and info["Config"]["User"] == "1000:1001"
    assert info["Config"]["Env"] == ["A=1"] and info["Config"]["WorkingDir"] == "/tmp"
    assert info["Path"] == BUSYBOX and info["Args"][0] == "sh"


def test_stop_lets_an_app_that_handles_sigterm_finish_cleanly():
    run_d("--name", "polite", BUSYBOX, "sh", "-c",
          f"trap 'echo cleaning up; exit 3' TERM; echo ready; {LOOP}")
    wait_for_log("polite", "ready")
    t = time.time()
    assert ok("stop", "polite").strip() == "polite"
    assert time.time() - t < 10                     # well before the grace period ends
    assert "cleaning up" in ok("logs", "polite")
    assert inspect("polite")["State"]["ExitCode"] == 3
    assert ok("wait", "polite").strip() == "3"


def test_stop_hard_stops_an_app_that_ignores_sigterm_after_the_grace_period():
    run_d("--name", "stubborn", BUSYBOX, "sh", "-c", f"trap '' TERM; echo ready; {LOOP}")
    wait_for_log("stubborn", "ready")
    t = time.time()
    assert ok("stop", "-t", "2", "stubborn").strip() == "stubborn"
    took = time.time() - t
    assert took >= 2, took
    info = inspect("stubborn")
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 137


def test_kill_sends_signals_and_kill_alone_stops_at_once():
    run_d("--name", "k", BUSYBOX, "sh", "-c", f"trap 'echo usr1' USR1; echo ready; {LOOP}")
    wait_for_log("k", "ready")
    assert ok("kill", "-s", "USR1", "k").strip() == "k"
    wait_for_log("k", "usr1")
    assert ok("kill", "-s", "SIGUSR1", "k").strip() == "k"
    assert ok("kill", "k").strip() == "k"
    assert inspect("k")["State"]["ExitCode"] == 137
    r = arrow("kill", "-s", "NOPE", "k")
    assert r.returncode == 125 and b"invalid signal 'NOPE'" in r.stderr


def test_kill_9_of_arrowh_is_seen_as_exited_137_and_rm_cleans_up(state_root):
    id_ = run_d("--name", "victim", BUSYBOX, "sh", "-c", f"echo ready; {LOOP}")
    wait_for_log("victim", "ready")
    os.kill(inspect("victim")["State"]["Pid"], signal.SIGKILL)
    deadline = time.time() + 10
    while "Exited (137)" not in ok("ps", "-a") and time.time() < deadline:
        time.sleep(0.1)
    assert "Exited (137)" in ok("ps", "-a")
    assert inspect("victim")["State"]["ExitCode"] == 137
    assert ok("logs", "victim") == "ready\n"
    ok("rm", "victim")
    assert not os.path.exists(os.path.join(state_root, id_))
    assert open_files_under(state_root) == []


def test_rm_of_a_running_arrow_needs_force():
    run_d("--name", "busy", BUSYBOX, "sh", "-c", LOOP)
    r = arrow("rm", "busy")
    assert r.returncode == 125 and b"busy is running" in r.stderr
    assert ok("rm", "-f", "busy").strip() == "busy"
    assert ok("ps", "-aq") == ""


def test_run_rm_removes_the_arrow_when_it_exits(state_root):
    r = arrow("run", "--rm", BUSYBOX, "echo", "gone")
    assert r.returncode == 0 and r.stdout == b"gone\n"
    run_d("--rm", "--name", "tmp", BUSYBOX, "sh", "-c", "exit 5")
    # wait works for --rm Arrows too: the exit status comes over the control socket,
    # unless the Arrow was already gone
    r = arrow("wait", "tmp")
    assert (r.returncode, r.stdout) == (0, b"5\n") or b"no such Arrow" in r.stderr
    deadline = time.time() + 30
    while ok("ps", "-aq") and time.time() < deadline:
        time.sleep(0.1)
    assert ok("ps", "-aq") == ""
    assert os.listdir(state_root) == [".lock"]


def test_foreground_runs_are_listed_too():
    r = arrow("run", "--name", "fg", BUSYBOX, "sh", "-c", "echo hi; exit 4")
    assert r.returncode == 4 and r.stdout == b"hi\n"
    assert re.search(r"fg .*Exited \(4\)", ok("ps", "-a"))
    assert ok("logs", "fg") == "hi\n"


def test_twenty_concurrent_detached_runs_give_twenty_distinct_running_arrows(state_root):
    def start(i):
        return run_d("--name", f"c{i}", "--memory", "64m", BUSYBOX, "sh", "-c", LOOP)

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(start, range(20)))
    assert len(set(ids)) == 20
    rows = [json.loads(l) for l in ok("ps", "-a", "--format", "json").splitlines()]
    assert sorted(r["ID"] for r in rows) == sorted(ids)
    assert all(r["State"] == "running" for r in rows), ok("ps", "-a") + "".join(
        arrow("logs", r["ID"]).stderr.decode() + open(os.path.join(
            state_root, r["ID"], "arrowh.log")).read() for r in rows if r["State"] != "running")
    assert sorted(r["Names"] for r in rows) == sorted(f"c{i}" for i in range(20))
    assert all(r["State"] == "running" for r in rows)
    assert len({r["Pid"] for r in rows}) == 20
    ok("rm", "-f", *ids)
    assert os.listdir(state_root) == [".lock"]


def test_run_stop_rm_cycles_leave_nothing_behind(state_root):
    cycles = int(os.environ.get("ARROW_TEST_CYCLES", "200"))
    fds_before = len(os.listdir("/proc/self/fd"))
    for i in range(cycles):
        run_d("--name", f"cycle{i}", "--memory", "64m", BUSYBOX, "sh", "-c", f"echo up; {LOOP}")
        if i % 50 == 0:  # now and then one whose app is up, not just its VM
            wait_for_log(f"cycle{i}", "up")
        ok("stop", "-t", "0", f"cycle{i}")
        ok("rm", f"cycle{i}")
    assert arrowh_pids() == []
    assert os.listdir(state_root) == [".lock"]
    assert open_files_under(state_root) == []
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_a_10mib_log_is_byte_exact():
    # The app writes 10 MiB of random bytes and their SHA-256 on stderr.
    run_d("--name", "big", "--memory", "256m", BUSYBOX, "sh", "-c",
          "head -c 10485760 /dev/urandom > /tmp/d && cat /tmp/d && sha256sum /tmp/d >&2")
    assert ok("wait", "big").strip() == "0"
    r = arrow("logs", "big")
    assert len(r.stdout) == 10 * 1024 * 1024
    assert r.stderr.decode().split()[0] == hashlib.sha256(r.stdout).hexdigest()


def test_logs_rotate_and_stay_capped(state_root):
    id_ = run_d("--name", "chatty", "--log-opt", "max-size=64k", "--log-opt", "max-file=2",
                BUSYBOX, "sh", "-c", "seq 1 200000")
    assert ok("wait", "chatty").strip() == "0"
    files = sorted(f for f in os.listdir(os.path.join(state_root, id_)) if f.startswith("log"))
    assert files == ["log", "log.1"]
    for f in files:
        assert os.path.getsize(os.path.join(state_root, id_, f)) <= 64 * 1024
    out = ok("logs", "chatty").splitlines()[1:]  # the oldest record may start mid-line
    assert out[-1] == "200000"
    assert [int(x) for x in out] == list(range(int(out[0]), 200001))  # a contiguous tail
    assert len(out) > 5000


def test_logs_tail_follow_and_timestamps():
    run_d("--name", "tl", BUSYBOX, "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; "
          "sleep 2; echo late")
    r = arrow("logs", "-f", "tl")          # follows until the Arrow exits
    assert r.stdout == b"line1\nline2\nline3\nline4\nline5\nlate\n"
    assert ok("logs", "--tail", "2", "tl") == "line5\nlate\n"
    assert ok("logs", "-n", "0", "tl") == ""
    stamped = ok("logs", "-t", "tl").splitlines()
    assert len(stamped) == 6
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line", l) for l in stamped[:5])


def test_clear_errors_for_bad_references_names_and_flags(state_root):
    r = arrow("logs", "nothere")
    assert r.returncode == 125 and r.stderr == b"arrow logs: no such Arrow: nothere\n"
    # two Arrows whose ids share a prefix
    for suffix in "12":
        d = os.path.join(state_root, "ab" * 31 + "0" + suffix)
        os.mkdir(d)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"name": "n" + suffix, "created_ns": 1, "program": "/x", "args": []}, f)
    r = arrow("inspect", "abab")
    assert r.returncode == 125 and b"matches more than one Arrow" in r.stderr
    assert inspect("ab" * 31 + "01")["Name"] == "n1"
    r = arrow("stop", "n1")
    assert r.returncode == 125 and r.stderr == b"arrow stop: n1 is not running\n"
    r = arrow("run", "-d", "--name", "n1", BUSYBOX, "true")
    assert r.returncode == 125 and b"name 'n1' is already in use" in r.stderr
    r = arrow("run", "--name", "bad/name", BUSYBOX, "true")
    assert r.returncode == 125 and b"invalid --name" in r.stderr
    r = arrow("ps", "--bogus")
    assert r.returncode == 125 and b"unknown or incomplete option '--bogus'" in r.stderr
    r = arrow("stop", "-t", "soon", "n1")
    assert r.returncode == 125 and b"invalid --time 'soon'" in r.stderr
    r = arrow("run", "-u", "alice", BUSYBOX, "true")
    assert r.returncode == 125 and b"invalid --user 'alice'" in r.stderr


def test_an_arrow_that_cannot_start_leaves_nothing_behind(state_root):
    # 32 MiB is refused by arrowh before boot (kernel + initramfs need more)
    r = arrow("run", "--memory", "32m", BUSYBOX, "true")
    assert r.returncode == 125 and b"too little" in r.stderr
    r = arrow("run", "-d", "--name", "small", "--memory", "32m", BUSYBOX, "true")
    assert r.returncode == 125
    assert b"too little" in r.stderr and b"did not start" in r.stderr
    assert r.stdout == b""
    assert ok("ps", "-aq") == ""
    assert os.listdir(state_root) == [".lock"]


def kernel_mapping(pid):
    """Rss, Pss, Shared_Clean and Private_Dirty (KiB) of arrowh's mappings of the kernel
    file, and the file's size in KiB."""
    totals = {"Rss": 0, "Pss": 0, "Shared_Clean": 0, "Private_Dirty": 0, "file_kib": 0}
    inside = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                inside = len(parts) >= 6 and os.path.basename(parts[5]).startswith("vmlinux")
                if inside:
                    totals["file_kib"] = os.path.getsize(parts[5]) // 1024
            elif inside and parts[0][:-1] in totals:
                totals[parts[0][:-1]] += int(parts[1])
    return totals


def test_arrows_share_the_kernel_pages_they_do_not_write(state_root):
    """Cold boots map the kernel copy-on-write from its file instead of copying it: pages the
    guest never touches cost nothing, and pages two running Arrows only read are the same
    page-cache pages in both (Shared_Clean)."""
    ids = [run_d("--network", "none", BUSYBOX, "sh", "-c", "echo up; " + LOOP) for _ in range(2)]
    for i in ids:
        wait_for_log(i, "up")
    # the jailed VMM holds guest memory, not the supervisor (docs/security.md)
    maps = [kernel_mapping(inspect(i)["Sandbox"]["VmmPid"]) for i in ids]
    for m in maps:
        assert m["file_kib"] > 0, maps            # the kernel file is mapped...
        assert m["Rss"] < m["file_kib"] // 2, maps  # ...not copied in whole
        assert m["Shared_Clean"] >= 256, maps     # read-only pages shared by both Arrows
        assert m["Pss"] < m["Rss"], maps
    ok("rm", "-f", *ids)
