"""Rootless Arrows (docs/rootless.md): an unprivileged user with access to /dev/kvm runs,
manages, snapshots and networks Arrows with no root and no setuid helper; networking goes
through passt.

The test runs as root inside the helper VM and drops to an unprivileged user for every
`arrow` command (setpriv). The helper has no kvm group and no network: the fixture gives
/dev/kvm to the user's group (restored afterwards) and, for passt, which copies the host's
default route, adds an interface with a TEST-NET-2 address and a default route through
it (an empty bridge: the helper's kernel has no dummy interfaces). Nothing leaves the
helper: the empty bridge drops whatever is routed to it; the guest reaches
the helper's loopback through passt's gateway mapping.
"""
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import ARROW, BUSYBOX, TIMEOUT, guest, http_get

HOST_IP, PREFIX, GATEWAY = "198.51.100.2", 24, "198.51.100.1"
DUMMY = "arrowrl0"


def _pick_user():
    try:
        pw = pwd.getpwuid(1000)
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return 4711, 4711


@pytest.fixture(scope="module")
def user():
    if os.geteuid() != 0:
        pytest.skip("needs root to make an unprivileged user's environment (run in the helper VM)")
    uid, gid = _pick_user()
    kvm = os.stat("/dev/kvm")
    xdg = tempfile.mkdtemp(prefix="rlx", dir="/tmp")
    home = tempfile.mkdtemp(prefix="rlh", dir="/tmp")
    for d in (xdg, home):
        os.chown(d, uid, gid)
        os.chmod(d, 0o700)
    # /dev/kvm for the user's group, as the kvm group would have it
    os.chown("/dev/kvm", 0, gid)
    os.chmod("/dev/kvm", 0o660)
    env = {k: v for k, v in os.environ.items()
           if k not in ("ARROW_ROOT", "ARROW_CACHE", "ARROW_SNAPSHOTS", "ARROW_IMAGES",
                        "XDG_DATA_HOME", "XDG_CACHE_HOME", "ARROW_CGROUP_PARENT")}
    env.update(XDG_RUNTIME_DIR=xdg, HOME=home, USER="rootless", LOGNAME="rootless")
    info = dict(uid=uid, gid=gid, xdg=xdg, home=home, env=env)
    yield info
    # whatever a failed test left running
    ids = run_as(info, "ps", "-a", "-q", "--no-trunc").stdout.split()
    if ids:
        run_as(info, "rm", "-f", *[i.decode() for i in ids])
    os.chown("/dev/kvm", kvm.st_uid, kvm.st_gid)
    os.chmod("/dev/kvm", stat.S_IMODE(kvm.st_mode))
    shutil.rmtree(xdg, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def route():
    """A default route for passt to copy (the helper has none), on an empty bridge."""
    cmds = [["ip", "link", "add", DUMMY, "type", "bridge"],  # the helper kernel has no dummy
            ["ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", DUMMY],
            ["ip", "link", "set", DUMMY, "up"],
            ["ip", "route", "add", "default", "via", GATEWAY, "dev", DUMMY, "onlink"]]
    had_default = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True,
                                 text=True).stdout.strip()
    if had_default:
        cmds = []  # a real default route: passt copies it, the test uses its addresses
    for c in cmds:
        subprocess.run(c, check=True)
    yield
    if cmds:
        subprocess.run(["ip", "link", "del", DUMMY])


def run_as(u, *args, input=None, timeout=TIMEOUT):
    """arrow ARGS as the unprivileged user; stopped with three SIGINTs on a timeout."""
    p = subprocess.Popen(["setpriv", f"--reuid={u['uid']}", f"--regid={u['gid']}",
                          "--clear-groups", ARROW, *args], env=u["env"], cwd=u["home"],
                         stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        for _ in range(3):
            p.send_signal(signal.SIGINT)
            time.sleep(0.5)
        out, err = p.communicate(timeout=30)
        pytest.fail(f"arrow {' '.join(args)} did not finish in {timeout}s: "
                    f"{err.decode(errors='replace')}")
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def passt_ok(r):
    """passt sandboxes itself in a user namespace; where it cannot, the test cannot run."""
    if r.returncode == 125 and b"Couldn't create user namespace" in r.stderr:
        pytest.skip("passt cannot create its user namespace here: "
                    + r.stderr.decode(errors="replace").strip())
    return r


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout[-2000:], r.stderr[-3000:])
    return r.stdout.decode(errors="replace")


def inspect(u, id_):
    return json.loads(ok(run_as(u, "inspect", id_)))[0]


def proc_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def wait_gone(pid, timeout=60):
    deadline = time.time() + timeout
    while alive(pid) and time.time() < deadline:
        time.sleep(0.2)
    return not alive(pid)


def test_foreground_run_as_a_user(user):
    r = run_as(user, "run", "--rm", "--network", "none", guest("hello"), "a b")
    assert ok(r) == "hello from an Arrow\narg: a b\n"
    err = r.stderr.decode()
    assert "error" not in err.lower(), err
    # exit codes come through; the state root is the user's own
    assert run_as(user, "run", "--rm", "--network", "none", guest("hello"), "--exit", "7"
                  ).returncode == 7
    st = os.stat(os.path.join(user["xdg"], "arrow"))
    assert st.st_uid == user["uid"]


def test_network_defaults_and_refusals(user):
    # as root's bridges need CAP_NET_ADMIN, asking for them is a clear error
    r = run_as(user, "run", "--rm", "--network", "arrow", guest("hello"))
    assert r.returncode == 125
    assert b"needs root" in r.stderr and b"passt" in r.stderr
    r = run_as(user, "run", "--rm", "--network", "passt", "--ip", "10.0.0.5", guest("hello"))
    assert r.returncode == 125 and b"--ip" in r.stderr
    # --network none: no NIC, no IP stack
    r = run_as(user, "run", "--rm", "--network", "none", BUSYBOX, "sh", "-c",
               "ls /sys/class/net; cat /proc/net/dev 2>&1 | grep -c eth0 || true")
    out = ok(r)
    assert "eth0" not in out.split("\n")[0]


def test_detached_ps_logs_stop_rm(user):
    id_ = ok(run_as(user, "run", "-d", "--network", "none", "--name", "rl-d", BUSYBOX, "sh",
                    "-c", "echo started; trap 'echo bye; exit 3' TERM; while :; do sleep 1; done"
                    )).strip()
    assert len(id_) == 64
    ps = ok(run_as(user, "ps"))
    assert "rl-d" in ps and "Up" in ps
    info = inspect(user, "rl-d")
    assert proc_uid(info["State"]["Pid"]) == user["uid"]
    deadline = time.time() + 120
    while "started" not in ok(run_as(user, "logs", "rl-d")) and time.time() < deadline:
        time.sleep(0.5)
    assert "started" in ok(run_as(user, "logs", "rl-d"))
    ok(run_as(user, "stop", "-t", "60", "rl-d"))
    assert "bye" in ok(run_as(user, "logs", "rl-d"))
    assert "Exited (3)" in ok(run_as(user, "ps", "-a"))
    ok(run_as(user, "rm", "rl-d"))
    assert "rl-d" not in ok(run_as(user, "ps", "-a"))
    assert not os.path.exists(os.path.join(user["xdg"], "arrow", id_))


def test_volume_the_user_owns(user):
    vol = tempfile.mkdtemp(prefix="rlv", dir="/tmp")
    try:
        os.chown(vol, user["uid"], user["gid"])
        with open(os.path.join(vol, "in"), "w") as f:
            f.write("from the host\n")
        os.chown(os.path.join(vol, "in"), user["uid"], user["gid"])
        out = ok(run_as(user, "run", "--rm", "--network", "none", "-v", f"{vol}:/data",
                        BUSYBOX, "sh", "-c", "cat /data/in; echo from the guest > /data/out"))
        assert "from the host" in out
        with open(os.path.join(vol, "out")) as f:
            assert f.read() == "from the guest\n"
        assert os.stat(os.path.join(vol, "out")).st_uid == user["uid"]
    finally:
        shutil.rmtree(vol, ignore_errors=True)


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def test_the_rootless_vmm_is_jailed(user):
    """Rootless, the VMM is jailed too: a user namespace mapping only the caller, its own
    PID, mount, network, IPC and UTS namespaces, an empty root, no capabilities,
    no_new_privs and the seccomp filter (docs/security.md); volumes keep working."""
    vol = tempfile.mkdtemp(prefix="rlj", dir="/tmp")
    os.chown(vol, user["uid"], user["gid"])
    try:
        ok(run_as(user, "run", "-d", "--network", "none", "--name", "rl-jail", "-v",
                  f"{vol}:/v", BUSYBOX, "sh", "-c",
                  "echo in > /v/made && echo ready && sleep 600"))
        deadline = time.time() + 180
        while "ready" not in ok(run_as(user, "logs", "rl-jail")) and time.time() < deadline:
            time.sleep(0.5)
        info = inspect(user, "rl-jail")
        with open(os.path.join(info["StateDir"], "state.json")) as f:
            st = json.load(f)
        vmm, sup = st["vmm_pid"], st["pid"]
        assert vmm != sup
        s = _status(vmm)
        assert set(s["Uid"].split()) == {str(user["uid"])}, s["Uid"]
        assert set(s["Gid"].split()) == {str(user["gid"])}, s["Gid"]
        for cap in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
            assert int(s[cap], 16) == 0, (cap, s[cap])
        assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2", s
        assert s["PPid"] == str(sup)
        # the supervisor keeps none of its user namespace's capabilities either
        assert int(_status(sup)["CapEff"], 16) == 0
        for ns in ("user", "mnt", "net", "pid", "ipc", "uts"):
            assert os.readlink(f"/proc/{vmm}/ns/{ns}") != os.readlink(f"/proc/1/ns/{ns}"), ns
        assert sorted(os.listdir(f"/proc/{vmm}/root")) == ["proc"]
        # the user namespace maps the caller's ids and nothing else
        with open(f"/proc/{vmm}/uid_map") as f:
            assert f.read().split() == [str(user["uid"]), str(user["uid"]), "1"]
        with open(os.path.join(vol, "made")) as f:
            assert f.read() == "in\n"
        assert os.stat(os.path.join(vol, "made")).st_uid == user["uid"]
        sb = info["Sandbox"]
        assert sb["Jailed"] is True and sb["Seccomp"] == "2" and sb["VmmPid"] == vmm
        ok(run_as(user, "stop", "-t", "60", "rl-jail"))
        ok(run_as(user, "rm", "rl-jail"))
    finally:
        shutil.rmtree(vol, ignore_errors=True)


def test_template_and_clone(user):
    ok(run_as(user, "template", "create", "rl-tpl", "--network", "none", BUSYBOX, "sh", "-c",
              "echo clone says hello; hostname"))
    snaps = os.path.join(user["home"], ".local", "share", "arrow", "snapshots")
    assert os.path.isdir(snaps) and os.stat(snaps).st_uid == user["uid"]
    out = ok(run_as(user, "run", "--rm", "--from", "rl-tpl", "--name", "rl-clone"))
    assert "clone says hello" in out and "rl-clone" in out, out
    ok(run_as(user, "template", "rm", "rl-tpl"))


class _Server(threading.Thread):
    """A TCP server on the helper's loopback: greets, then echoes one line back upper-cased."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.got = b""

    def run(self):
        c, _ = self.sock.accept()
        c.settimeout(60)
        c.sendall(b"hello-from-the-helper\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = c.recv(100)
            if not chunk:
                break
            data += chunk
        self.got = data
        c.sendall(data.upper())
        c.close()


def test_passt_outbound_tcp_and_passt_ends_with_the_arrow(user, route):
    srv = _Server()
    srv.start()
    r = run_as(user, "run", "--name", "rl-out", "--network", "passt", BUSYBOX, "sh", "-c",
               f"ip -4 addr show eth0; ip route; (echo ping-from-guest; sleep 5) | "
               f"nc {GATEWAY} {srv.port}")
    out = ok(passt_ok(r))
    assert HOST_IP in out and f"default via {GATEWAY}" in out, out
    assert "hello-from-the-helper" in out and "PING-FROM-GUEST" in out, out
    assert srv.got == b"ping-from-guest\n"
    net = inspect(user, "rl-out")["NetworkSettings"]
    assert net["name"] == "passt" and net["ip"] == HOST_IP and net["gateway"] == GATEWAY, net
    assert wait_gone(net["passt_pid"]), "passt outlived its Arrow"
    ok(run_as(user, "rm", "rl-out"))


class _Dns(threading.Thread):
    """A DNS responder on the helper's 127.0.0.1:53: any A question -> 203.0.113.7."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(1)
        self.asked = []
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                q, peer = self.sock.recvfrom(512)
            except socket.timeout:
                continue
            if len(q) < 12:
                continue
            # question: after the header, labels then type and class
            i = 12
            labels = []
            while i < len(q) and q[i]:
                labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace"))
                i += 1 + q[i]
            qend = i + 5
            self.asked.append(".".join(labels))
            qtype = int.from_bytes(q[i + 1:i + 3], "big")
            header = q[:2] + b"\x81\x80" + q[4:6] + (b"\x00\x01" if qtype == 1 else b"\x00\x00") \
                + b"\x00\x00\x00\x00"
            ans = b""
            if qtype == 1:
                ans = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([203, 0, 113, 7])
            self.sock.sendto(header + q[12:qend] + ans, peer)


def test_passt_dns(user, route):
    try:
        dns = _Dns()
    except OSError as e:
        pytest.skip(f"127.0.0.1:53 is taken in the helper ({e})")
    dns.start()
    try:
        # the guest's resolver is passt's gateway address, which passt maps to the helper's
        # loopback; the default (--dns-forward to the host's first nameserver) cannot be
        # tested here: the helper's resolv.conf names a server it cannot reach
        out = ok(passt_ok(run_as(user, "run", "--rm", "--network", "passt", "--dns", GATEWAY,
                                 BUSYBOX, "sh", "-c",
                                 "cat /etc/resolv.conf; nslookup rootless.example")))
    finally:
        dns.stop = True
    assert f"nameserver {GATEWAY}" in out
    assert "203.0.113.7" in out, out
    assert "rootless.example" in dns.asked


def test_passt_published_port(user, route):
    """-p with passt: a connection to the host's port reaches the guest's server. It used to
    time out: passt sent the SYN to the broadcast MAC until the guest had sent a frame, and
    the guest's TCP drops those; ainit now announces eth0 (a gratuitous ARP) as it comes up."""
    port = _free_port()
    name = "rl-pub"
    r = run_as(user, "run", "-d", "--name", name, "--network", "passt", "-p", f"{port}:80",
               BUSYBOX, "sh", "-c",
               "mkdir -p /srv && echo published-from-the-guest > /srv/index.html && "
               "echo ready && exec httpd -f -p 80 -h /srv")
    ok(passt_ok(r))
    try:
        deadline = time.time() + 180
        while "ready" not in ok(run_as(user, "logs", name)) and time.time() < deadline:
            time.sleep(0.5)
        body = b""
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=20) as c:
                    c.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
                    while True:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        body += chunk
                if body:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert b"200" in body.split(b"\r\n")[0] and b"published-from-the-guest" in body, body
        assert f"{port}" in json.dumps(inspect(user, name)["NetworkSettings"]["ports"])
    finally:
        run_as(user, "rm", "-f", name)


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
