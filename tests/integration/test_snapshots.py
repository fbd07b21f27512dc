"""Snapshots, templates and clones (docs/snapshots.md): real Arrows restored from real
snapshots inside the helper VM."""
import errno
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import time

import pytest

from conftest import ARROW, BUSYBOX, arrow, arrowh_pids, guest, http_get

N_CLONES = int(os.environ.get("ARROW_TEST_CLONES", "50"))


FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10


def file_flags(path):
    """The inode flags (chattr), or None where the file system has none (ENOTTY: tmpfs
    without CONFIG_TMPFS_XATTR, as in the helper VM's kernel)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        return struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0]
    except OSError as e:
        if e.errno in (errno.ENOTTY, errno.EOPNOTSUPP):
            return None
        raise
    finally:
        os.close(fd)


def unseal(path):
    """chattr -i: clear the immutable flag arrow sets on a snapshot's memory file."""
    flags = file_flags(path)
    if flags and flags & FS_IMMUTABLE_FL:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags & ~FS_IMMUTABLE_FL))
        finally:
            os.close(fd)


@pytest.fixture(autouse=True)
def snapshots(tmp_path, monkeypatch):
    """Each test gets its own snapshot store (its sealed memory files unsealed afterwards,
    so that the test's directory can be removed)."""
    store = str(tmp_path / "snapshots")
    monkeypatch.setenv("ARROW_SNAPSHOTS", store)
    yield store
    for d, _, files in os.walk(store):
        for f in files:
            try:
                unseal(os.path.join(d, f))
            except OSError:
                pass


def ok(r):
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    return r.stdout.decode()


# What a clone reports about itself: address, hostname, MAC, 16 random bytes, the time,
# and whether it sees a file another clone wrote (it must not: memory is copy-on-write).
REPORT = ("ip -o -4 addr show eth0 | awk '{print \"ip \" $4}'; echo host $(hostname); "
          "echo mac $(cat /sys/class/net/eth0/address); "
          "echo rand $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'); "
          "echo time $(date +%s); test -e /tmp/mark && echo SEEN; echo x > /tmp/mark; "
          "while [ ! -e /tmp/go ]; do sleep 0.1; done")


def facts(text):
    return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)


def test_template_clones_are_independent(stop_all, snapshots):
    ok(arrow("template", "create", "rep", BUSYBOX, "sh", "-c", REPORT))
    assert os.path.exists(os.path.join(snapshots, "rep", "state"))
    listing = ok(arrow("template", "ls"))
    assert re.search(r"^rep\s+template\s", listing, re.M), listing
    # two clones at once: each must differ in every identity item
    ids = [ok(arrow("run", "-d", "--from", "rep", "--name", f"c{i}")).strip() for i in (1, 2)]
    seen = []
    for i, id_ in enumerate(ids, 1):
        deadline = time.time() + 120
        while True:
            out = ok(arrow("logs", id_))
            if "time " in out or time.time() > deadline:
                break
            time.sleep(0.5)
        f = facts(out)
        assert f.get("host") == f"c{i}", out
        assert "SEEN" not in out, "a clone saw a file another clone wrote: " + out
        assert abs(int(f["time"]) - time.time()) < 60, "the clone's clock was not set: " + out
        inspect = json.loads(ok(arrow("inspect", id_)))[0]
        assert f["ip"].split("/")[0] == inspect["NetworkSettings"]["ip"], out
        assert f["mac"] == inspect["NetworkSettings"]["mac"], out
        seen.append(f)
    assert seen[0]["ip"] != seen[1]["ip"]
    assert seen[0]["mac"] != seen[1]["mac"]
    assert seen[0]["rand"] != seen[1]["rand"], "two clones produced the same random bytes"


def test_snapshot_of_a_running_server_and_its_clone(stop_all):
    orig = ok(arrow("run", "-d", "--name", "orig", "-p", "8091:80", BUSYBOX, "httpd", "-f",
                    "-p", "80", "-h", "/etc")).strip()
    r = http_get("http://127.0.0.1:8091/hosts")
    assert r.returncode == 0 and b"\torig\n" in r.stdout, r.stderr.decode()
    assert ok(arrow("snapshot", "orig", "web")).strip() == "web"
    assert re.search(r"^web\s+snapshot\s+orig\s", ok(arrow("snapshot", "ls")), re.M)
    # the original runs on after its snapshot
    r = http_get("http://127.0.0.1:8091/hosts", timeout=30)
    assert r.returncode == 0 and b"\torig\n" in r.stdout
    ok(arrow("run", "-d", "--from", "web", "--name", "copy", "-p", "8092:80"))
    r = http_get("http://127.0.0.1:8092/hosts")
    assert r.returncode == 0, r.stderr.decode()
    assert b"\tcopy\n" in r.stdout, r.stdout  # the clone took its own name and address
    ok(arrow("stop", "copy"))
    r = http_get("http://127.0.0.1:8091/hosts", timeout=30)
    assert r.returncode == 0 and b"\torig\n" in r.stdout
    assert ok(arrow("snapshot", "rm", "web")).strip() == "web"
    assert "web" not in ok(arrow("snapshot", "ls"))
    ok(arrow("rm", "-f", orig))


def test_template_of_an_http_server_answers_on_its_own_port(stop_all):
    ok(arrow("template", "create", "httpd", BUSYBOX, "httpd", "-f", "-p", "80", "-h", "/etc"))
    for port, name in ((8093, "w1"), (8094, "w2")):
        ok(arrow("run", "-d", "--template", "httpd", "--name", name, "-p", f"{port}:80"))
    for port, name in ((8093, "w1"), (8094, "w2")):
        r = http_get(f"http://127.0.0.1:{port}/hosts")
        assert r.returncode == 0, r.stderr.decode()
        assert f"\t{name}\n".encode() in r.stdout


def smaps(pid):
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                values[parts[0].rstrip(":")] = int(parts[1])
    return values


def test_many_clones_share_their_memory(stop_all):
    ok(arrow("template", "create", "idle", "--network", "none", BUSYBOX, "sleep", "100000"))
    before = set(arrowh_pids())
    for i in range(N_CLONES):
        ok(arrow("run", "-d", "--from", "idle", "--network", "none", "--name", f"idle{i}"))
    running = ok(arrow("ps", "-q")).split()
    assert len(running) == N_CLONES
    procs = set(arrowh_pids()) - before
    # a jailed clone is two processes, its supervisor and its VMM (docs/security.md)
    ppid = {p: int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) for p in procs}
    supervisors = [p for p in procs if ppid[p] not in procs]
    assert len(supervisors) == N_CLONES
    pids = [[p] + [c for c in procs if ppid[c] == p] for p in supervisors]
    time.sleep(2)
    private = [sum(smaps(q)["Private_Clean"] + smaps(q)["Private_Dirty"] for q in g) for g in pids]
    rss = [sum(smaps(q)["Rss"] for q in g) for g in pids]
    avg_private = sum(private) / len(private)
    print(f"\n{N_CLONES} idle clones: private memory per clone (arrowh + what the guest wrote) "
          f"avg {avg_private:.0f} KiB, max {max(private)} KiB; RSS avg {sum(rss) / len(rss):.0f} KiB")
    # A cold-booted idle Arrow holds ~13 MiB of its own (docs/performance.md): clones share
    # everything they do not write, so each holds a small fraction of its 128 MiB guest.
    assert avg_private < 8 * 1024, f"clones do not share their memory: {avg_private} KiB each"


def read_state(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def test_damaged_snapshots_are_refused_clearly(snapshots):
    ok(arrow("template", "create", "h", "--network", "none", guest("hello")))
    assert b"hello from an Arrow" in arrow("run", "--rm", "--from", "h").stdout
    state = os.path.join(snapshots, "h", "state")
    memory = os.path.join(snapshots, "h", "memory")
    good = read_state(state)

    def refused(words):
        r = arrow("run", "--rm", "--from", "h")
        assert r.returncode == 125, r
        assert words in r.stderr, r.stderr
        assert b"hello" not in r.stdout

    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xff
    open(state, "wb").write(bad)
    refused(b"checksum mismatch")
    open(state, "wb").write(good[: len(good) - 100])
    refused(b"truncated")
    bad = bytearray(good)
    struct.pack_into("<I", bad, 8, 99)
    open(state, "wb").write(bad)
    refused(b"format version")
    open(state, "wb").write(good)
    size = os.path.getsize(memory)
    unseal(memory)  # sealed when the template was made (test_memory_file_... below)
    os.truncate(memory, size - 4096)
    refused(b"not the size")
    os.truncate(memory, size)
    # the intact one still runs
    assert b"hello from an Arrow" in arrow("run", "--rm", "--from", "h").stdout
    # it has no NIC: its clones cannot publish ports or join a network
    r = arrow("run", "--rm", "--from", "h", "-p", "8099:80")
    assert r.returncode == 125 and b"has no network device" in r.stderr
    r = arrow("run", "--rm", "--from", "h", "--network", "arrow")
    assert r.returncode == 125 and b"has no network device" in r.stderr


def test_clone_errors():
    r = arrow("run", "--from", "nosuch")
    assert r.returncode == 125 and b"no snapshot or template named 'nosuch'" in r.stderr
    r = arrow("run", "--from", "x", "-m", "256")
    assert r.returncode == 125 and b"--memory cannot change a clone" in r.stderr
    r = arrow("run", "--from", "x", "/bin/true")
    assert r.returncode == 125 and b"cannot follow --from" in r.stderr
    r = arrow("snapshot", "nosuch-arrow", "s1")
    assert r.returncode == 125
    r = arrow("template", "create", "bad/name", "/bin/true")
    assert r.returncode == 125 and b"invalid name" in r.stderr


def test_memory_file_is_sealed_and_a_change_under_a_clone_stops_it_cleanly(snapshots):
    """Clones map the template's memory file: it is sealed (0400, immutable) so that nobody
    changes it under them; should root unseal and truncate it anyway, the clone ends with
    status 125 and a message naming the file, not with SIGBUS (docs/snapshots.md)."""
    ok(arrow("template", "create", "g", "--network", "none", BUSYBOX, "sh", "-c",
             "echo ready; while :; do cat /proc/meminfo /proc/self/maps >/dev/null; "
             "echo tick; sleep 0.2; done"))
    memory = os.path.join(snapshots, "g", "memory")
    st = os.stat(memory)
    assert st.st_mode & 0o7777 == 0o400, oct(st.st_mode)
    flags = file_flags(memory)
    # where the file system has the flag, arrow (as root) sets it; where it has none, the file
    # is only read-only, which does not stop root: the EPERM checks need the flag
    immutable = flags is not None and os.geteuid() == 0
    if immutable:
        assert flags & FS_IMMUTABLE_FL, "the memory file is not immutable"
    else:
        print(f"\n{memory}: no immutable flag on this file system; EPERM checks skipped")

    p = subprocess.Popen([ARROW, "run", "--rm", "--from", "g", "--network", "none"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out = b""
        deadline = time.time() + 120
        while b"tick" not in out and time.time() < deadline and p.poll() is None:
            if select.select([p.stdout], [], [], 1)[0]:
                out += os.read(p.stdout.fileno(), 4096)
        assert b"ready" in out and b"tick" in out, (out, p.poll())

        # while the clone runs, not even root may change the file
        for change in () if not immutable else (lambda: open(memory, "r+b"), lambda: os.truncate(memory, 0),
                       lambda: os.unlink(memory), lambda: os.rename(memory, memory + ".x")):
            with pytest.raises(PermissionError) as e:
                change()
            assert e.value.errno == errno.EPERM
        assert os.path.getsize(memory) == st.st_size
        assert p.poll() is None, "the clone stopped while its memory file was intact"

        # bypassed: root clears the flag and truncates the file; the clone's guest touches
        # memory it never wrote (its kernel's text) within its next tick
        unseal(memory)
        os.truncate(memory, 0)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    text = err.decode(errors="replace")
    print("\nthe clone's stderr:\n" + text)
    assert p.returncode == 125, (p.returncode, text)
    assert re.search(r"arrowh: snapshot memory file \S*/g/memory changed under this clone", text), text
    assert "Bus error" not in text and "core dumped" not in text, text
    # removal unseals what is sealed (sealed again here, as chattr +i would)
    if immutable:
        fd = os.open(memory, os.O_RDONLY)
        try:
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags | FS_IMMUTABLE_FL))
        finally:
            os.close(fd)
        with pytest.raises(PermissionError):
            os.unlink(memory)
    assert ok(arrow("template", "rm", "g")).strip() == "g"
    assert not os.path.exists(os.path.join(snapshots, "g"))


def test_pause_unpause_and_a_snapshot_of_a_paused_arrow(stop_all):
    """arrow pause stops the vCPUs until unpause; a snapshot taken meanwhile leaves the
    Arrow paused; kill still ends a paused Arrow (docs/lifecycle.md, HOSTCTL_PAUSE)."""
    ok(arrow("run", "-d", "--name", "ticker", BUSYBOX, "sh", "-c",
             "i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done"))

    def lines():
        return len(ok(arrow("logs", "ticker")).splitlines())

    def wait_lines_above(n):
        deadline = time.time() + 120
        while lines() <= n:
            assert time.time() < deadline, f"the log stayed at {lines()} lines"
            time.sleep(0.2)

    wait_lines_above(0)
    assert ok(arrow("pause", "ticker")).strip() == "ticker"
    assert "(Paused)" in ok(arrow("ps"))
    info = json.loads(ok(arrow("inspect", "ticker")))[0]
    assert info["State"]["Status"] == "paused"
    before = lines()
    assert ok(arrow("snapshot", "ticker", "frozen")).strip() == "frozen"
    # still paused after the snapshot: no output for 2 s (it prints every 0.1 s running)
    time.sleep(2)
    assert lines() == before
    assert "(Paused)" in ok(arrow("ps"))
    assert ok(arrow("pause", "ticker")).strip() == "ticker"  # already paused: fine
    assert ok(arrow("unpause", "ticker")).strip() == "ticker"
    wait_lines_above(before)
    assert "(Paused)" not in ok(arrow("ps"))
    # kill of a paused Arrow ends it
    ok(arrow("pause", "ticker"))
    ok(arrow("kill", "ticker"))
    assert ok(arrow("wait", "ticker")).strip() == "137"
    r = arrow("pause", "ticker")
    assert r.returncode == 125 and b"not running" in r.stderr
    r = arrow("unpause", "nosuch")
    assert r.returncode == 125
