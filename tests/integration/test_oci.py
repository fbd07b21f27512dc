"""arrow-oci, the OCI runtime (docs/oci.md), driven as runc's callers (conmon, containerd's
runc shim) drive runc: create with --bundle/--pid-file/--console-socket, state, start, the
exit status from waiting on the pid (this process is a subreaper, as they are), kill,
delete. Each container boots a real Arrow from a busybox rootfs."""
import ctypes
import fcntl
import glob
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import termios
import time

import pytest

from conftest import BUILD, BUSYBOX, TIMEOUT
from podmanutil import podman_with_image

OCI = os.path.join(BUILD, "bin", "arrow-oci")
PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(autouse=True)
def subreaper():
    """Like conmon and the shims: orphaned container processes become our children."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    # reap what came to us: a killed arrowh's jailed VMM ends after its parent
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.1)


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "oci-root"
    yield str(r)
    # whatever a failed test left: the runtime removes it
    if r.exists():
        for cid in os.listdir(r):
            oci(str(r), "delete", "--force", cid)


def oci(root, *args, **kw):
    return subprocess.run([OCI, "--root", root, *args], capture_output=True, timeout=120, **kw)


def make_bundle(path, args, terminal=False, mounts=(), env=("PATH=/bin",), extra=None):
    rootfs = path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", rootfs / "bin" / a)
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "os-release").write_text("NAME=oci-test\n")
    config = {
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": list(args), "env": list(env), "cwd": "/", "terminal": terminal,
                    "user": {"uid": 0, "gid": 0}},
        "hostname": "ocibox",
        # what podman and containerd always send: satisfied by the VM, or ignored
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
                   {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                    "options": ["nosuid", "ro"]}, *mounts],
        "linux": {"namespaces": [{"type": t} for t in
                                 ("pid", "network", "ipc", "uts", "mount")]},
    }
    if extra:
        config.update(extra)
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def state(root, cid):
    r = oci(root, "state", cid)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_pid(pid, timeout=TIMEOUT):
    """The container process's exit status, as its subreaper sees it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"container process {pid} did not end in {timeout}s")


def create(root, cid, bundle, tmp_path, console=None):
    """arrow-oci create as conmon calls it; the container's stdio are files here."""
    out = open(tmp_path / f"{cid}.out", "wb")
    err = open(tmp_path / f"{cid}.err", "wb")
    pid_file = tmp_path / f"{cid}.pid"
    args = ["create", "--bundle", bundle, "--pid-file", str(pid_file)]
    if console:
        args += ["--console-socket", console]
    r = subprocess.run([OCI, "--root", root, "--log", str(tmp_path / "oci.log"), "--log-format",
                        "json", *args, cid], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                       timeout=120)
    out.close()
    err.close()
    log = (tmp_path / "oci.log").read_text() if (tmp_path / "oci.log").exists() else ""
    assert r.returncode == 0, log
    pid = int(pid_file.read_text())
    return pid


def test_create_start_wait_delete(tmp_path, root):
    data = tmp_path / "data"
    data.mkdir()
    (data / "from-host").write_text("host dir\n")
    (tmp_path / "motd").write_text("host file\n")
    bundle = make_bundle(
        tmp_path / "b1",
        ["sh", "-c", "echo out-$(cat /etc/os-release); echo err >&2; cat /data/from-host "
         "/etc/motd; hostname; id -u; pwd; exit 7"],
        mounts=[{"destination": "/data", "type": "bind", "source": str(data),
                 "options": ["rbind", "ro"]},
                {"destination": "/etc/motd", "type": "bind", "source": str(tmp_path / "motd"),
                 "options": ["bind"]}])
    pid = create(root, "c1", bundle, tmp_path)
    st = state(root, "c1")
    assert st["status"] == "created" and st["pid"] == pid and st["id"] == "c1"
    assert st["bundle"] == bundle and st["ociVersion"].startswith("1.")
    # created: nothing has run yet, the process waits
    time.sleep(1)
    assert state(root, "c1")["status"] == "created"
    assert (tmp_path / "c1.out").read_bytes() == b""
    r = oci(root, "list", "--format", "json")
    assert [c["id"] for c in json.loads(r.stdout)] == ["c1"]

    r = oci(root, "start", "c1")
    assert r.returncode == 0, r.stderr
    assert state(root, "c1")["status"] in ("running", "stopped")
    assert wait_pid(pid) == 7, (tmp_path / "c1.err").read_text()
    out = (tmp_path / "c1.out").read_text()
    assert out == ("out-NAME=oci-test\nhost dir\nhost file\nocibox\n0\n/\n"), \
        (out, (tmp_path / "c1.err").read_text())
    assert "err\n" in (tmp_path / "c1.err").read_text()
    st = state(root, "c1")
    assert st["status"] == "stopped" and st["pid"] == 0
    # a stopped container cannot start again; delete removes it
    assert oci(root, "start", "c1").returncode == 1
    r = oci(root, "delete", "c1")
    assert r.returncode == 0, r.stderr
    r = oci(root, "state", "c1")
    assert r.returncode == 1 and b"does not exist" in r.stderr
    assert os.listdir(root) == []


def test_kill_running_container(tmp_path, root):
    bundle = make_bundle(tmp_path / "b2", ["sh", "-c", "trap 'echo got-term; exit 42' TERM; "
                                           "echo ready; while :; do sleep 1; done"])
    pid = create(root, "k1", bundle, tmp_path)
    assert oci(root, "start", "k1").returncode == 0
    deadline = time.time() + TIMEOUT
    while b"ready" not in (tmp_path / "k1.out").read_bytes():
        assert time.time() < deadline, "the app did not start"
        time.sleep(0.2)
    assert state(root, "k1")["status"] == "running"
    # a running container cannot be deleted without --force
    r = oci(root, "delete", "k1")
    assert r.returncode == 1 and b"not stopped" in r.stderr
    r = oci(root, "kill", "k1", "TERM")
    assert r.returncode == 0, r.stderr
    assert wait_pid(pid) == 42
    assert b"got-term" in (tmp_path / "k1.out").read_bytes()
    assert state(root, "k1")["status"] == "stopped"
    r = oci(root, "kill", "k1", "KILL")
    assert r.returncode == 1 and b"not running" in r.stderr
    assert oci(root, "delete", "k1").returncode == 0

    # delete --force of a running one; kill --all KILL of another
    pid = create(root, "k2", bundle, tmp_path)
    assert oci(root, "start", "k2").returncode == 0
    deadline = time.time() + TIMEOUT
    while b"ready" not in (tmp_path / "k2.out").read_bytes():
        assert time.time() < deadline, "the app did not start"
        time.sleep(0.2)
    r = oci(root, "delete", "--force", "k2")
    assert r.returncode == 0, r.stderr
    assert wait_pid(pid, 30) in (137, -9)
    assert os.listdir(root) == []


def test_kill_and_delete_a_created_container(tmp_path, root):
    bundle = make_bundle(tmp_path / "b3", ["true"])
    pid = create(root, "w1", bundle, tmp_path)
    assert oci(root, "kill", "w1", "KILL").returncode == 0
    assert wait_pid(pid, 30) in (137, -9)
    assert state(root, "w1")["status"] == "stopped"
    assert oci(root, "delete", "w1").returncode == 0
    # delete of a created one kills it first (as runc does)
    pid = create(root, "w2", bundle, tmp_path)
    assert oci(root, "delete", "w2").returncode == 0
    assert wait_pid(pid, 30) == -9
    assert os.listdir(root) == []


def descends_from(pid, ancestor):
    while pid > 1:
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
        if pid == ancestor:
            return True
    return False


def test_create_boots_and_start_only_runs_the_process(tmp_path, root):
    """create boots the Arrow up to its process (in its cgroup, its guest memory touched);
    start runs the process and nothing else; a terminating signal before start ends the
    container as it would have ended the process."""
    rel = f"arrow-oci-test-{os.getpid()}/g1"
    bundle = make_bundle(tmp_path / "bg", ["sh", "-c", "echo started >/started; echo go"],
                         extra={"linux": {"cgroupsPath": "/" + rel,
                                          "resources": {"memory": {"limit": 128 << 20}}}})
    pid = create(root, "g1", bundle, tmp_path)
    try:
        assert state(root, "g1")["status"] == "created"
        # the booted guest: arrowh's VMM and rootfs sidecar (descendants of the container
        # process, arrowh's supervisor) in the container's cgroup, with the memory a booted kernel has touched (a process
        # merely waiting to boot has a few hundred KiB)
        procs = cgroup_file(rel, "cgroup.procs").split()
        assert procs and all(descends_from(int(p), pid) for p in procs), (pid, procs)
        assert int(cgroup_file(rel, "memory.current")) > 8 << 20
        # but the process has not run
        assert not os.path.exists(os.path.join(bundle, "rootfs", "started"))
        assert (tmp_path / "g1.out").read_bytes() == b""
        r = oci(root, "start", "g1")
        assert r.returncode == 0, r.stderr
        assert wait_pid(pid) == 0, (tmp_path / "g1.err").read_text()
        assert (tmp_path / "g1.out").read_bytes() == b"go\n"
        with open(os.path.join(bundle, "rootfs", "started")) as f:
            assert f.read() == "started\n"
        # a second start of a started one is refused
        r = oci(root, "start", "g1")
        assert r.returncode == 1 and b"not created" in r.stderr
    finally:
        oci(root, "delete", "--force", "g1")
        for d in (rel, os.path.dirname(rel)):
            if os.path.isdir(os.path.join("/sys/fs/cgroup", d)):
                os.rmdir(os.path.join("/sys/fs/cgroup", d))
    # TERM before start: 128 + 15, and the process never ran
    os.unlink(os.path.join(bundle, "rootfs", "started"))
    pid = create(root, "g2", bundle, tmp_path)
    assert oci(root, "kill", "g2", "TERM").returncode == 0
    assert wait_pid(pid) == 143
    assert not os.path.exists(os.path.join(bundle, "rootfs", "started"))
    assert state(root, "g2")["status"] == "stopped"
    assert oci(root, "delete", "g2").returncode == 0


def test_a_create_killed_while_booting_stops_the_arrow(tmp_path, root):
    """containerd kills `runc create` when its context ends: the Arrow booting for it must
    not live on unstarted, and delete --force must find what to clean up."""
    rel = f"arrow-oci-test-{os.getpid()}/kb"
    bundle = make_bundle(tmp_path / "bk", ["sh", "-c", "echo started >/started"],
                         extra={"linux": {"cgroupsPath": "/" + rel}})
    p = subprocess.Popen([OCI, "--root", root, "create", "--bundle", bundle, "kb"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=open(tmp_path / "kb.err", "wb"))
    record = os.path.join(root, "kb", "oci.json")
    deadline = time.time() + 60
    while not os.path.exists(record):
        assert p.poll() is None and time.time() < deadline, "create ended or never recorded"
        time.sleep(0.05)
    st = state(root, "kb")
    assert st["status"] == "creating", st  # recorded, still booting
    pid = json.load(open(record))["pid"]
    p.kill()
    p.wait()
    # arrowh sees its caller gone and stops the Arrow (we are its subreaper now)
    assert wait_pid(pid) == 125
    assert b"went away" in (tmp_path / "kb.err").read_bytes()
    assert not os.path.exists(os.path.join(bundle, "rootfs", "started"))
    r = oci(root, "delete", "--force", "kb")
    assert r.returncode == 0, r.stderr
    assert os.listdir(root) == []
    assert not os.path.isdir(os.path.join("/sys/fs/cgroup", rel))
    os.rmdir(os.path.join("/sys/fs/cgroup", os.path.dirname(rel)))


def test_terminal_through_console_socket(tmp_path, root):
    bundle = make_bundle(tmp_path / "b4", ["sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo is-a-tty; "
                                           "read line; echo got-$line; exit 3"],
                         terminal=True, env=("PATH=/bin", "TERM=xterm"))
    sock_path = str(tmp_path / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    listener.settimeout(120)
    pid = create(root, "t1", bundle, tmp_path, console=sock_path)
    conn, _ = listener.accept()
    # the pty master arrives with SCM_RIGHTS, as from runc
    msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    conn.close()
    listener.close()
    assert len(fds) == 1 and msg.startswith(b"/dev/pts/")
    master = fds[0]
    assert os.isatty(master)
    assert oci(root, "start", "t1").returncode == 0
    output = b""
    sent = False
    deadline = time.time() + TIMEOUT
    os.set_blocking(master, False)
    while time.time() < deadline:
        try:
            chunk = os.read(master, 4096)
        except BlockingIOError:
            chunk = None
        except OSError:  # EIO: the last holder of the terminal's other side is gone
            break
        if chunk:
            output += chunk
        if b"is-a-tty" in output and not sent:
            os.write(master, b"hello\r")
            sent = True
        if b"got-hello" in output:
            break
        if not chunk:
            time.sleep(0.1)
    os.close(master)
    assert b"is-a-tty" in output and b"got-hello" in output, output
    assert wait_pid(pid) == 3
    assert oci(root, "delete", "t1").returncode == 0


def test_errors(tmp_path, root):
    # unknown ids
    for cmd in (["state"], ["start"], ["kill"], ["delete"]):
        r = oci(root, *cmd, "nosuch")
        assert r.returncode == 1 and b"does not exist" in r.stderr, (cmd, r.stderr)
    r = oci(root, "state", "../etc")
    assert r.returncode == 1 and b"invalid container id" in r.stderr
    # a bundle without config.json, with a bad one, with a refused field
    empty = tmp_path / "empty"
    empty.mkdir()
    r = oci(root, "create", "--bundle", str(empty), "e1")
    assert r.returncode == 1 and b"config.json" in r.stderr
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    r = oci(root, "create", "--bundle", str(bad), "e2")
    assert r.returncode == 1 and b"config.json" in r.stderr
    bundle = make_bundle(tmp_path / "b5", ["true"],
                         extra={"hooks": {"prestart": [{"path": "bin/true"}]}})
    r = oci(root, "create", "--bundle", bundle, "e3")
    assert r.returncode == 1 and b"hooks.prestart[0].path" in r.stderr
    bundle = make_bundle(tmp_path / "b6", ["true"], terminal=True)
    r = oci(root, "create", "--bundle", bundle, "e4")
    assert r.returncode == 1 and b"--console-socket" in r.stderr
    assert not os.path.exists(root) or os.listdir(root) == []
    # a duplicate id; the first stays usable
    bundle = make_bundle(tmp_path / "b7", ["true"])
    pid = create(root, "d1", bundle, tmp_path)
    r = oci(root, "create", "--bundle", bundle, "d1")
    assert r.returncode == 1 and b"already exists" in r.stderr
    assert state(root, "d1")["status"] == "created"
    assert oci(root, "start", "d1").returncode == 0
    assert wait_pid(pid) == 0
    assert oci(root, "delete", "d1").returncode == 0
    # the log of a failing command, in runc's JSON form
    log = tmp_path / "err.log"
    r = oci(root, "--log", str(log), "--log-format", "json", "state", "nosuch")
    assert r.returncode == 1 and r.stderr == b""
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "does not exist" in entry["msg"] and entry["time"]


def wait_output(path, text, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while text not in path.read_bytes():
        assert time.time() < deadline, f"{text!r} never appeared in {path}: {path.read_bytes()!r}"
        time.sleep(0.2)


def running_container(root, cid, tmp_path, args=("sh", "-c", "echo ready; while :; do sleep 1; "
                                                  "done"), **kw):
    bundle = make_bundle(tmp_path / f"b-{cid}", list(args), **kw)
    pid = create(root, cid, bundle, tmp_path)
    assert oci(root, "start", cid).returncode == 0
    wait_output(tmp_path / f"{cid}.out", b"ready")
    return pid


def test_exec(tmp_path, root):
    pid = running_container(root, "x1", tmp_path)
    # output, stderr apart, the exit status is the process's
    r = oci(root, "exec", "x1", "sh", "-c", "echo hi; echo err >&2; exit 3")
    assert (r.returncode, r.stdout) == (3, b"hi\n") and b"err\n" in r.stderr, r.stderr
    # options before the id, the command's own after it; stdin reaches the process
    r = oci(root, "exec", "--env", "FOO=bar", "-e", "X=1", "--cwd", "/etc", "--user", "1000:1001",
            "x1", "sh", "-c", "read l; echo $l $FOO $X; pwd; id -u; id -g", input=b"line\n")
    assert (r.returncode, r.stdout) == (0, b"line bar 1\n/etc\n1000\n1001\n"), r.stderr
    # not found, not executable: 127 and 126 with runc's words (podman matches them)
    r = oci(root, "exec", "x1", "nosuch")
    assert r.returncode == 127 and b"executable file not found" in r.stderr, r.stderr
    r = oci(root, "exec", "x1", "/etc/os-release")
    assert r.returncode == 126 and b"permission denied" in r.stderr, r.stderr
    # --process: an OCI process object, checked as config.json's
    proc = tmp_path / "proc.json"
    proc.write_text(json.dumps({"args": ["sh", "-c", "echo $FOO; pwd; id -u; exit 9"],
                                "env": ["PATH=/bin", "FOO=from-json"], "cwd": "/bin",
                                "user": {"uid": 7, "gid": 7}, "terminal": False}))
    r = oci(root, "exec", "--process", str(proc), "x1")
    assert (r.returncode, r.stdout) == (9, b"from-json\n/bin\n7\n"), r.stderr
    for bad, why in (({"args": [], "cwd": "/"}, b"process.args"),
                     ({"args": ["sh"], "cwd": "rel"}, b"process.cwd"),
                     ({"args": ["sh"], "cwd": "/", "env": ["NOEQUALS"]}, b"process.env")):
        proc.write_text(json.dumps(bad))
        r = oci(root, "exec", "--process", str(proc), "x1")
        assert r.returncode == 1 and why in r.stderr, (bad, r.stderr)
    r = oci(root, "exec", "--preserve-fds", "2", "x1", "true")
    assert r.returncode == 1 and b"preserve-fds" in r.stderr
    # --detach --pid-file: the pid is a host process whose exit status is the program's
    # and which relays the stdio it was given (as conmon waits on runc's)
    out = open(tmp_path / "detached.out", "wb")
    p = subprocess.Popen([OCI, "--root", root, "exec", "--detach", "--pid-file",
                          str(tmp_path / "exec.pid"), "x1", "sh", "-c",
                          "echo started; read l; echo got-$l; exit 4"],
                         stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
    assert p.wait(timeout=120) == 0, p.stderr.read()
    out.close()
    relay = int((tmp_path / "exec.pid").read_text())
    assert relay != p.pid
    wait_output(tmp_path / "detached.out", b"started")
    p.stdin.write(b"abc\n")
    p.stdin.close()
    assert wait_pid(relay) == 4
    assert (tmp_path / "detached.out").read_bytes() == b"started\ngot-abc\n"
    # the app is untouched by all of that
    assert state(root, "x1")["status"] == "running"
    assert oci(root, "kill", "x1", "KILL").returncode == 0
    assert wait_pid(pid) == 137
    # into a stopped container, and a created one: one clear error, status 1
    r = oci(root, "exec", "x1", "true")
    assert r.returncode == 1 and b"not running" in r.stderr, r.stderr
    assert oci(root, "delete", "x1").returncode == 0
    create(root, "x2", make_bundle(tmp_path / "bx2", ["true"]), tmp_path)
    r = oci(root, "exec", "x2", "true")
    assert r.returncode == 1 and b"not running" in r.stderr, r.stderr
    r = oci(root, "exec", "nosuch", "true")
    assert r.returncode == 1 and b"does not exist" in r.stderr
    assert oci(root, "delete", "x2").returncode == 0



def tree(rootfs):
    """Every entry of a rootfs: path -> (mode, uid, gid, size, mtime_ns, link target)."""
    out = {}
    for d, dirs, files in os.walk(rootfs):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out[os.path.relpath(p, rootfs)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                               st.st_mtime_ns,
                                               os.readlink(p) if os.path.islink(p) else None)
    return out


def test_rootfs_is_shared_live(tmp_path, root):
    """root.path is the container's root over 9P: its writes land in the bundle, the host's
    are seen inside, files are the guest's ids, and no setuid file or device node is made."""
    pid = running_container(root, "rs", tmp_path)
    rootfs = tmp_path / "b-rs" / "rootfs"
    # written inside: on the host at once, root's as in the guest
    r = oci(root, "exec", "rs", "sh", "-c",
            "echo hello >/from-guest && echo more >>/etc/os-release && mkdir -p /made/d && "
            "chmod 1777 /made")
    assert r.returncode == 0, r.stderr
    assert (rootfs / "from-guest").read_text() == "hello\n"
    assert (rootfs / "etc" / "os-release").read_text() == "NAME=oci-test\nmore\n"
    st = os.stat(rootfs / "from-guest")
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert (rootfs / "made" / "d").is_dir()
    # written on the host: seen inside
    (rootfs / "from-host").write_text("live\n")
    r = oci(root, "exec", "rs", "cat", "/from-host")
    assert (r.returncode, r.stdout) == (0, b"live\n"), r.stderr
    # a guest user's files are that user's on the host
    r = oci(root, "exec", "--user", "1000:1001", "rs", "sh", "-c",
            "echo mine >/made/by-1000 && mkdir /made/dir-1000 && id -u")
    assert (r.returncode, r.stdout) == (0, b"1000\n"), r.stderr
    for n in ("by-1000", "dir-1000"):
        st = os.lstat(rootfs / "made" / n)
        assert (st.st_uid, st.st_gid) == (1000, 1001), n
    # chown inside the container's tree: to any id
    r = oci(root, "exec", "rs", "chown", "1234:4321", "/from-guest")
    assert r.returncode == 0, r.stderr
    st = os.stat(rootfs / "from-guest")
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    # setuid/setgid asked for: never on the host; a device node: refused
    r = oci(root, "exec", "rs", "sh", "-c",
            "cp /bin/busybox /made/suid && chmod 6755 /made/suid; mknod /made/null c 1 3; "
            "echo mknod=$?")
    assert b"mknod=0" not in r.stdout, (r.stdout, r.stderr)
    assert os.stat(rootfs / "made" / "suid").st_mode & 0o7777 == 0o755
    assert not os.path.lexists(rootfs / "made" / "null")
    r = oci(root, "exec", "rs", "sh", "-c", "ls -l /made/suid")
    assert r.returncode == 0 and r.stdout.startswith(b"-rwxr-xr-x"), (r.stdout, r.stderr)
    assert oci(root, "kill", "rs", "KILL").returncode == 0
    assert wait_pid(pid) == 137
    assert oci(root, "delete", "rs").returncode == 0


def test_rootfs_keeps_image_setuid(tmp_path, root):
    """An image's setuid program keeps its bit, seen inside as on the host."""
    bundle = make_bundle(tmp_path / "bsu", ["sh", "-c", "ls -l /usr/bin/true; /usr/bin/true"
                                            " && echo ran"])
    tool = tmp_path / "bsu" / "rootfs" / "usr" / "bin" / "true"
    tool.parent.mkdir(parents=True)
    shutil.copy(BUSYBOX, tool)
    os.chmod(tool, 0o4755)
    pid = create(root, "su", bundle, tmp_path)
    assert oci(root, "start", "su").returncode == 0
    assert wait_pid(pid) == 0, (tmp_path / "su.err").read_text()
    out = (tmp_path / "su.out").read_text()
    assert out.startswith("-rwsr-xr-x") and out.endswith("ran\n"), out
    assert os.stat(tool).st_mode & 0o7777 == 0o4755
    assert oci(root, "delete", "su").returncode == 0


def test_rootfs_readonly(tmp_path, root):
    """root.readonly: every write fails with EROFS inside, and the bundle stays as it was."""
    bundle = make_bundle(tmp_path / "bro", [
        "sh", "-c", "echo x >/new 2>&1 || echo fail-new; echo y >>/etc/os-release || "
        "echo fail-append; mkdir /d || echo fail-mkdir; rm /bin/cat || echo fail-rm; "
        "touch /tmp/ok && echo tmp-ok; cat /etc/os-release"],
        extra={"root": {"path": "rootfs", "readonly": True}})
    pid = create(root, "ro", bundle, tmp_path)
    rootfs = tmp_path / "bro" / "rootfs"
    before = tree(rootfs)  # after create: its mount points (runc makes them too) are there
    assert oci(root, "start", "ro").returncode == 0
    assert wait_pid(pid) == 0, (tmp_path / "ro.err").read_text()
    out = (tmp_path / "ro.out").read_text()
    err = (tmp_path / "ro.err").read_text()
    assert out.count("Read-only file system") + err.count("Read-only file system") >= 3, \
        (out, err)
    for what in ("fail-new", "fail-append", "fail-mkdir", "fail-rm", "tmp-ok",
                 "NAME=oci-test"):
        assert what in out, (what, out, err)
    assert tree(rootfs) == before
    assert oci(root, "delete", "ro").returncode == 0

def test_exec_tty_through_console_socket(tmp_path, root):
    pid = running_container(root, "xt", tmp_path)
    sock_path = str(tmp_path / "exec-console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    listener.settimeout(120)
    p = subprocess.Popen([OCI, "--root", root, "exec", "-t", "--console-socket", sock_path,
                          "xt", "sh", "-c",
                          "[ -t 0 ] && echo is-a-tty; echo ready-$TERM; read l; stty size; "
                          "exit 5"], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    conn, _ = listener.accept()
    msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
    conn.close()
    listener.close()
    assert len(fds) == 1 and msg.startswith(b"/dev/pts/")
    master = fds[0]
    output = b""
    sent = False
    deadline = time.time() + TIMEOUT
    os.set_blocking(master, False)
    while time.time() < deadline and b"33 101" not in output:
        try:
            chunk = os.read(master, 4096)
        except BlockingIOError:
            chunk = None
        except OSError:  # EIO: the relay closed its side
            break
        if chunk:
            output += chunk
        if b"ready" in output and not sent:
            # a resize of the master reaches the program's terminal before the line does
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
            os.write(master, b"go\r")
            sent = True
        if not chunk:
            time.sleep(0.1)
    assert p.wait(timeout=TIMEOUT) == 5, p.stderr.read()
    os.close(master)
    assert b"is-a-tty" in output and b"33 101" in output, output
    assert oci(root, "delete", "--force", "xt").returncode == 0
    wait_pid(pid, 30)


def test_exec_with_a_deep_root(tmp_path):
    """A state root too deep for arrowh's unix socket: the socket lives in a private
    directory under /tmp, linked from ROOT/ID/arrow/vsock.sock; delete removes both."""
    root = str(tmp_path / ("r" * 60))
    before = set(glob.glob("/tmp/arrow-oci-*"))
    assert len(os.path.join(root, "deep", "arrow", "vsock.sock")) > 96
    try:
        pid = running_container(root, "deep", tmp_path)
        link = os.path.join(root, "deep", "arrow", "vsock.sock")
        made = set(glob.glob("/tmp/arrow-oci-*")) - before
        assert len(made) == 1 and os.readlink(link) == made.pop() + "/vsock.sock"
        r = oci(root, "exec", "deep", "echo", "deep-ok")
        assert (r.returncode, r.stdout) == (0, b"deep-ok\n"), r.stderr
    finally:
        oci(root, "delete", "--force", "deep")
    wait_pid(pid, 30)
    assert set(glob.glob("/tmp/arrow-oci-*")) == before
    assert os.listdir(root) == []


def test_pause_resume(tmp_path, root):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)  # arrowh's 9p server writes as its jail user
    counter = data / "count"
    pid = running_container(
        root, "p1", tmp_path,
        args=("sh", "-c", "i=0; echo ready; while :; do i=$((i+1)); echo $i >/data/count; "
              "sleep 0.1; done"),
        mounts=[{"destination": "/data", "type": "bind", "source": str(data),
                 "options": ["rbind"]}])

    def count():
        text = counter.read_text() if counter.exists() else ""
        return int(text) if text.strip() else 0

    def wait_count_above(n):
        deadline = time.time() + TIMEOUT
        while count() <= n:
            assert time.time() < deadline, f"the counter stayed at {count()}"
            time.sleep(0.2)

    wait_count_above(0)
    r = oci(root, "pause", "p1")
    assert r.returncode == 0, r.stderr
    st = state(root, "p1")
    assert st["status"] == "paused" and st["pid"] == pid
    # paused: no progress at all (the counter is written every 0.1 s while it runs)
    before = count()
    time.sleep(2)
    assert count() == before
    r = oci(root, "exec", "p1", "true")
    assert r.returncode == 1 and b"paused" in r.stderr, r.stderr
    r = oci(root, "pause", "p1")
    assert r.returncode == 1 and b"paused" in r.stderr
    r = oci(root, "delete", "p1")
    assert r.returncode == 1 and b"paused" in r.stderr
    r = oci(root, "list", "--format", "json")
    assert [c["status"] for c in json.loads(r.stdout)] == ["paused"]
    r = oci(root, "resume", "p1")
    assert r.returncode == 0, r.stderr
    assert state(root, "p1")["status"] == "running"
    wait_count_above(before)
    r = oci(root, "resume", "p1")
    assert r.returncode == 1 and b"running" in r.stderr
    # exec works again; a kill while paused still ends it
    r = oci(root, "exec", "p1", "cat", "/data/count")
    assert r.returncode == 0 and int(r.stdout) > before
    assert oci(root, "pause", "p1").returncode == 0
    r = oci(root, "kill", "p1", "KILL")
    assert r.returncode == 0, r.stderr
    assert wait_pid(pid) == 137
    assert state(root, "p1")["status"] == "stopped"
    assert oci(root, "delete", "p1").returncode == 0
    # delete --force of a paused one
    create(root, "p2", make_bundle(tmp_path / "bp2", ["sh", "-c", "echo ready; sleep 1000"]),
           tmp_path)
    r = oci(root, "pause", "p2")
    assert r.returncode == 1 and b"created" in r.stderr
    assert oci(root, "start", "p2").returncode == 0
    wait_output(tmp_path / "p2.out", b"ready")
    assert oci(root, "pause", "p2").returncode == 0
    assert oci(root, "delete", "--force", "p2").returncode == 0
    assert os.listdir(root) == []


def test_run(tmp_path, root):
    # foreground: the app's output and status; the container is deleted afterwards (runc)
    bundle = make_bundle(tmp_path / "br", ["sh", "-c", "echo run-out; echo run-err >&2; exit 6"])
    r = oci(root, "run", "--bundle", bundle, "r1")
    assert (r.returncode, r.stdout) == (6, b"run-out\n") and b"run-err" in r.stderr, r.stderr
    assert oci(root, "state", "r1").returncode == 1
    assert not os.path.exists(root) or os.listdir(root) == []
    # --keep leaves it stopped
    r = oci(root, "run", "--keep", "--bundle", bundle, "r2")
    assert r.returncode == 6, r.stderr
    assert state(root, "r2")["status"] == "stopped"
    assert oci(root, "delete", "r2").returncode == 0
    # signals sent to a foreground run reach the app
    bundle = make_bundle(tmp_path / "bs", ["sh", "-c", "trap 'echo got-term; exit 42' TERM; "
                                           "echo ready; while :; do sleep 1; done"])
    out = open(tmp_path / "r3.out", "wb")
    p = subprocess.Popen([OCI, "--root", root, "run", "--bundle", bundle, "r3"],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE)
    wait_output(tmp_path / "r3.out", b"ready")
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=TIMEOUT) == 42, p.stderr.read()
    out.close()
    assert b"got-term" in (tmp_path / "r3.out").read_bytes()
    assert oci(root, "state", "r3").returncode == 1
    # --detach: returns once it runs; the caller waits on the pid and deletes (the
    # container keeps the stdio it was given: files here, a pipe would never end)
    out = open(tmp_path / "r4.out", "wb")
    err = open(tmp_path / "r4.err", "wb")
    r = subprocess.run([OCI, "--root", root, "run", "--detach", "--pid-file",
                        str(tmp_path / "r4.pid"), "--bundle", bundle, "r4"],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=120)
    out.close()
    err.close()
    assert r.returncode == 0, (tmp_path / "r4.err").read_text()
    pid = int((tmp_path / "r4.pid").read_text())
    wait_output(tmp_path / "r4.out", b"ready")
    assert state(root, "r4")["status"] == "running"
    assert oci(root, "kill", "r4", "TERM").returncode == 0
    assert wait_pid(pid) == 42
    assert oci(root, "delete", "r4").returncode == 0
    # a bundle that cannot be created: status 1, nothing left
    r = oci(root, "run", "--bundle", str(tmp_path), "r5")
    assert r.returncode == 1 and b"config.json" in r.stderr
    assert os.listdir(root) == []


def cgroup_file(rel, name):
    with open(os.path.join("/sys/fs/cgroup", rel, name)) as f:
        return f.read().strip()


def test_update_cpu_max(tmp_path, root):
    rel = f"arrow-oci-test-{os.getpid()}/u1"
    pid = running_container(
        root, "u1", tmp_path,
        extra={"linux": {"cgroupsPath": "/" + rel,
                         "resources": {"memory": {"limit": 128 << 20},
                                       "cpu": {"quota": 100000, "period": 100000}}}})
    try:
        assert cgroup_file(rel, "cpu.max") == "100000 100000"
        r = oci(root, "update", "--cpu-quota", "50000", "--cpu-period", "200000", "u1")
        assert r.returncode == 0, r.stderr
        assert cgroup_file(rel, "cpu.max") == "50000 200000"
        # --resources from stdin, as runc's callers send it: the period stays
        r = oci(root, "update", "--resources", "-", "u1",
                input=json.dumps({"cpu": {"quota": -1}, "pids": {"limit": 10}}).encode())
        assert r.returncode == 0, r.stderr
        assert b"pids ignored" in r.stderr
        assert cgroup_file(rel, "cpu.max") == "max 200000"
        res = tmp_path / "res.json"
        res.write_text(json.dumps({"cpu": {"quota": 30000}}))
        r = oci(root, "update", "--resources", str(res), "u1")
        assert r.returncode == 0, r.stderr
        assert cgroup_file(rel, "cpu.max") == "30000 200000"
        # memory is the VM's RAM: only the current value is accepted
        r = oci(root, "update", "--memory", "256m", "u1")
        assert r.returncode == 1 and b"memory" in r.stderr and b"128 MiB" in r.stderr
        assert oci(root, "update", "--memory", "128m", "u1").returncode == 0
        for bad in (["--cpu-quota", "5"], ["--cpu-period", "x"], ["--memory", "lots"]):
            r = oci(root, "update", *bad, "u1")
            assert r.returncode == 1, bad
        r = oci(root, "update", "--resources", "-", "u1", input=b"{not json")
        assert r.returncode == 1 and b"resources" in r.stderr
        assert cgroup_file(rel, "cpu.max") == "30000 200000"
        # the app still runs through all of it
        r = oci(root, "exec", "u1", "echo", "alive")
        assert r.stdout == b"alive\n", r.stderr
    finally:
        oci(root, "delete", "--force", "u1")
        wait_pid(pid, 30)
        for d in (rel, os.path.dirname(rel)):
            if os.path.isdir(os.path.join("/sys/fs/cgroup", d)):
                os.rmdir(os.path.join("/sys/fs/cgroup", d))
    # a container without a cgroup, and a stopped one
    pid = running_container(root, "u2", tmp_path)
    r = oci(root, "update", "--cpu-quota", "50000", "u2")
    assert r.returncode == 1 and b"no cgroup" in r.stderr
    assert oci(root, "kill", "u2", "KILL").returncode == 0
    wait_pid(pid)
    r = oci(root, "update", "--cpu-quota", "50000", "u2")
    assert r.returncode == 1 and b"stopped" in r.stderr
    assert oci(root, "delete", "u2").returncode == 0


def hook(log, kind, code=0):
    """A hook that appends its kind and the state it was given to log."""
    return {"path": "/bin/sh",
            "args": ["sh", "-c", f'state=$(cat); echo "{kind} $state" >>{log}; '
                     f'[ {code} = 0 ] || echo "{kind} says no"; exit {code}'],
            "env": ["PATH=/bin:/usr/bin"], "timeout": 60}


def test_hooks(tmp_path, root):
    log = tmp_path / "hooks.log"
    hooks = {"prestart": [hook(log, "prestart")], "createRuntime": [hook(log, "createRuntime")],
             "poststart": [hook(log, "poststart"), hook(log, "poststart-fails", 2)],
             "poststop": [hook(log, "poststop")]}
    bundle = make_bundle(tmp_path / "bh", ["sh", "-c", "echo app; exit 0"],
                         extra={"hooks": hooks, "annotations": {"who": "test"}})
    pid = create(root, "h1", bundle, tmp_path)

    def entries():
        return [(line.split(" ", 1)[0], json.loads(line.split(" ", 1)[1]))
                for line in log.read_text().splitlines()]

    got = entries()
    assert [k for k, _ in got] == ["prestart", "createRuntime"]
    for _, st in got:
        assert st["id"] == "h1" and st["status"] == "creating" and st["pid"] == pid
        assert st["bundle"] == bundle and st["annotations"] == {"who": "test"}
    r = oci(root, "start", "h1")
    assert r.returncode == 0, r.stderr
    assert b"poststart-fails says no" in r.stderr  # a warning, not a failure
    got = entries()
    assert [k for k, _ in got] == ["prestart", "createRuntime", "poststart", "poststart-fails"]
    assert got[2][1]["status"] in ("running", "stopped")
    assert wait_pid(pid) == 0
    assert oci(root, "delete", "h1").returncode == 0
    got = entries()
    assert [k for k, _ in got][-1] == "poststop" and len(got) == 5
    assert got[4][1]["status"] == "stopped" and got[4][1]["id"] == "h1"
    # a failing prestart makes create fail and leaves nothing behind
    log.unlink()
    bundle = make_bundle(tmp_path / "bh2", ["true"],
                         extra={"hooks": {"prestart": [hook(log, "prestart", 1)],
                                          "createRuntime": [hook(log, "createRuntime")]}})
    r = oci(root, "create", "--bundle", bundle, "--pid-file", str(tmp_path / "h2.pid"), "h2")
    assert r.returncode == 1 and b"hooks.prestart[0]" in r.stderr and b"says no" in r.stderr
    assert [k for k, _ in entries()] == ["prestart"]
    assert os.listdir(root) == [] and not (tmp_path / "h2.pid").exists()
    assert oci(root, "state", "h2").returncode == 1
    # hooks that cannot be honoured are refused at create
    bundle = make_bundle(tmp_path / "bh3", ["true"],
                         extra={"hooks": {"createContainer": [{"path": "/bin/true"}]}})
    r = oci(root, "create", "--bundle", bundle, "h3")
    assert r.returncode == 1 and b"createContainer" in r.stderr
    assert os.listdir(root) == []


@pytest.mark.host_only
def test_version_and_features():
    r = subprocess.run([OCI, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "arrow-oci version" in r.stdout and "spec: 1." in r.stdout
    r = subprocess.run([OCI, "features"], capture_output=True, text=True)
    f = json.loads(r.stdout)
    assert f["ociVersionMin"] == "1.0.0"
    assert f["hooks"] == ["prestart", "createRuntime", "poststart", "poststop"]
    assert "network" in f["linux"]["namespaces"]
    # crun's --cgroup-manager, as podman passes it for --cgroups=disabled
    for v in ("cgroupfs", "systemd", "disabled"):
        r = subprocess.run([OCI, "--cgroup-manager", v, "--root", "/nonexistent/x", "list"],
                           capture_output=True, text=True)
        assert r.returncode == 0, (v, r.stderr)
    r = subprocess.run([OCI, "--cgroup-manager=bogus", "list"], capture_output=True, text=True)
    assert r.returncode == 1 and "takes cgroupfs, systemd or disabled" in r.stderr


def test_podman_runs_a_container_as_an_arrow(tmp_path, request):
    """The gold standard: podman and conmon drive arrow-oci as they drive runc
    (rootful, vfs storage on the test's tmpfs, cgroupfs, no network: the Arrow has no NIC)."""
    pm = podman_with_image(tmp_path, request, "localhost/bb", ("sh", "echo", "cat"))
    r = pm("run", "--rm", "--network", "none", "localhost/bb", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, b"hi\n"), r.stderr
    r = pm("run", "--rm", "--network", "none", "localhost/bb", "sh", "-c",
           "cat /etc/hostname >/dev/null && echo from-sh; exit 5")
    assert (r.returncode, r.stdout) == (5, b"from-sh\n"), r.stderr
    # a program that is not there: podman's 127, from runc's message
    r = pm("run", "--rm", "--network", "none", "localhost/bb", "nosuch")
    assert r.returncode == 127 and b"not found" in r.stderr, r.stderr
    # podman exec and pause/unpause into a running container (conmon runs exec --detach
    # --pid-file --process and waits on the pid)
    r = pm("run", "-d", "--name", "long", "--network", "none", "localhost/bb",
           "sh", "-c", "echo up; while :; do sleep 1; done")
    assert r.returncode == 0, r.stderr
    try:
        r = pm("exec", "long", "echo", "hi")
        assert (r.returncode, r.stdout) == (0, b"hi\n"), r.stderr
        r = pm("exec", "long", "sh", "-c", "exit 3")
        assert r.returncode == 3, r.stderr
        r = pm("exec", "-i", "long", "cat", input=b"through stdin\n")
        assert (r.returncode, r.stdout) == (0, b"through stdin\n"), r.stderr
        r = pm("exec", "long", "nosuch")
        assert r.returncode == 127, r.stderr
        r = pm("pause", "long")
        assert r.returncode == 0, r.stderr
        r = pm("inspect", "--format", "{{.State.Status}}", "long")
        assert r.stdout.strip() == b"paused", (r.stdout, r.stderr)
        r = pm("unpause", "long")
        assert r.returncode == 0, r.stderr
        r = pm("exec", "long", "echo", "after")
        assert (r.returncode, r.stdout) == (0, b"after\n"), r.stderr
        # a terminal: conmon's console socket gets the master of exec's pty
        r = pm("exec", "-t", "long", "sh", "-c",
               "[ -t 0 ] && [ -t 1 ] && echo on-a-tty; exit 4")
        assert r.returncode == 4 and b"on-a-tty" in r.stdout, (r.stdout, r.stderr)
        # rm -f of a paused container (below) still ends it
        r = pm("pause", "long")
        assert r.returncode == 0, r.stderr
    finally:
        r = pm("rm", "-f", "long")
    assert r.returncode == 0, r.stderr
    # each container had its cgroup (podman's cgroupsPath); none is left behind
    parent = "/sys/fs/cgroup/libpod_parent"
    left = [d for d in os.listdir(parent) if d.startswith("libpod-")] \
        if os.path.isdir(parent) else []
    assert left == []


def test_podman_sees_container_writes(tmp_path, request):
    """podman diff, cp and commit see what the container wrote: its rootfs is shared live."""
    # podman commit copies through /var/tmp whatever TMPDIR says: read-only in the helper
    # VM (the host's tree), so the test gives the helper a tmpfs there, as test_oci_net does
    # for /var/lib/cni
    probe = "/var/tmp/.arrow-write-test"
    try:
        open(probe, "w").close()
        os.unlink(probe)
    except OSError:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "arrow-vartmp", "/var/tmp"],
                       check=True)
        request.addfinalizer(lambda: subprocess.run(["umount", "/var/tmp"]))
    pm = podman_with_image(tmp_path, request, "localhost/bbw", ("sh", "echo", "cat"),
                           files={"etc/motd": "image\n"})
    r = pm("run", "--name", "w", "--network", "none", "localhost/bbw", "sh", "-c",
           "echo added >/added-file; echo changed >/etc/motd")
    assert r.returncode == 0, r.stderr
    try:
        r = pm("diff", "w")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.decode().splitlines()
        assert "A /added-file" in lines and "C /etc/motd" in lines, lines
        r = pm("cp", "w:/added-file", str(tmp_path / "copied"))
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "copied").read_text() == "added\n"
        r = pm("commit", "w", "localhost/bbw-committed")
        assert r.returncode == 0, r.stderr
        r = pm("run", "--rm", "--network", "none", "localhost/bbw-committed", "cat",
               "/added-file", "/etc/motd")
        assert (r.returncode, r.stdout) == (0, b"added\nchanged\n"), r.stderr
    finally:
        pm("rm", "-f", "w")
