#!/usr/bin/python3
"""`arrow exec` latency and vsock stream throughput against their peers, in one run.

Exec: how long `arrow exec A /app/busybox true` takes, A a running Arrow (static busybox
`sleep`), against `podman exec` (conmon, then crun or runc) into a running container,
`crun exec` and `runc exec` straight into a container they run, and `nsenter -a` into a
native process in its own namespaces (`unshare`). Every peer runs the same program,
busybox's `true` applet, by absolute path, and every sample is the same event: from this
script's fork of the command until the command has exited (waitpid) with status 0. Its
stdout and stderr go to files, so nothing that outlives the command can hold the clock.
One warm-up per peer (not kept), then the peers take turns, one sample each per round,
each round starting one peer later.

A peer that cannot run here is kept in the result with the exact error of each way tried
(inside the helper VM: its kernel has no BPF syscall, which crun and runc need for a
cgroup v2 device controller; podman is then also tried with `--cgroups=disabled`, crun
with `--cgroup-manager=disabled`, and what was measured says so).

Streams: N bytes (BENCH_STREAM_MIB, default 64 MiB) host→guest and guest→host over
virtio-vsock (the Arrow's vsock.sock, docs/vsock.md) and over the Arrow network (TCP to
the Arrow's bridge address, tap + virtio-net), to and from one Arrow running
tests/guest/streambench, which serves both transports with the same code. Each transfer
is timed on the host, connection already open, from sending the request line until:
host→guest, the guest's "OK N" reply (all N bytes read by the guest); guest→host, the end
of file after N bytes. Guest→host is also measured with the connection opened by the
guest (vsock: the host listens on vsock.sock_<port>; TCP: on the bridge's host address),
timed from the request until the end of file on the guest's connection (its connect
included). The six kinds take turns the same way; one 1 MiB warm-up each.

A failed or timed-out sample is counted and kept with what was seen, never retried in
its place; a broken Arrow (not running, or silent) is stopped hard (arrowh then logs where
its vCPUs were), its log tail kept, and a fresh one started for the next sample.

    bench/exec.py ENVIRONMENT-NAME OUTPUT.json
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from boot import ARROW, BUILD, ROOT, tail, write_result

BUSYBOX = "/bin/busybox"
STREAMBENCH = os.path.join(BUILD, "tests/guest/streambench")
EXEC_RUNS = int(os.environ.get("BENCH_EXEC_RUNS", "50"))
STREAM_RUNS = int(os.environ.get("BENCH_STREAM_RUNS", "15"))
STREAM_MIB = int(os.environ.get("BENCH_STREAM_MIB", "64"))
EXEC_TIMEOUT = 60          # one exec sample
STREAM_TIMEOUT = 600       # one transfer, overall
SILENCE = 120              # one transfer: no byte moved for this long
VPORT, TPORT, BACKPORT = 5201, 5201, 5202
MIB = 1 << 20
TMP_NAMES = {}             # temporary paths → what the report shows instead


def log(msg):
    print(f"bench: exec: {msg}", file=sys.stderr, flush=True)


def spread(samples, scale=1.0, digits=1):
    """Median, quartiles (inclusive method), min/max, σ and count of samples × scale."""
    s = sorted(x * scale for x in samples)
    if not s:
        return None
    q = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else [s[0]] * 3
    r = lambda x: round(x, digits)
    return {"median": r(statistics.median(s)), "q1": r(q[0]), "q3": r(q[2]), "min": r(s[0]),
            "max": r(s[-1]), "stdev": r(statistics.pstdev(s)), "n": len(s)}


def run_files(cmd, tmp, env=None, timeout=EXEC_TIMEOUT, stdin=subprocess.DEVNULL):
    """Run cmd with stdout and stderr in files; (seconds to its exit, status or None on a
    timeout, stdout, stderr). The clock stops at waitpid."""
    out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=err, env=env)
        try:
            status = p.wait(timeout=timeout)
            dt = time.perf_counter() - t
        except subprocess.TimeoutExpired:
            dt = time.perf_counter() - t
            p.kill()
            p.wait()
            status = None
    return dt, status, open(out_path, "rb").read(), open(err_path, "rb").read()


def sh(cmd, env=None, timeout=300, **kw):
    return subprocess.run(cmd, capture_output=True, env=env, timeout=timeout, **kw)


def text(r):
    return (r.stderr or r.stdout or b"").decode(errors="replace").strip()


def sample_rounds(peers, runs, one, key, samples, failures, detail, after_round=None, say=None):
    """The round-robin every comparison here samples by: `runs` rounds, each starting one peer
    further on, so that every peer takes every position (first after the others, last before
    a pause) equally often. one(peer, label) gives (value, None) or (None, evidence of a
    failure); values go to samples[key(peer)], failures to failures[key(peer)] and to the log
    as "KEY round N: detail(evidence)" (say: the caller's log); after_round(i) runs after
    each round."""
    for i in range(runs):
        k = i % len(peers)
        for p in peers[k:] + peers[:k]:
            v, ev = one(p, f"round {i + 1}")
            if ev is None:
                samples[key(p)].append(v)
            else:
                failures[key(p)].append(ev)
                (say or log)(f"{key(p)} round {i + 1}: {detail(ev)}")
        if after_round:
            after_round(i)


def version(cmd):
    try:
        r = sh(cmd, timeout=60)
        return r.stdout.decode(errors="replace").splitlines()[0].strip() if r.stdout else text(r)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable: {e}"


def busybox_rootfs(path):
    """A rootfs with static busybox and the applets the peers run."""
    os.makedirs(os.path.join(path, "bin"))
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for a in ("sh", "true", "sleep"):
        os.symlink("busybox", os.path.join(path, "bin", a))


# ---- exec peers -----------------------------------------------------------------------------

class Peer:
    """One way of running `true` in a running workload: setup, the command, teardown."""

    def __init__(self, name, event):
        self.name, self.event = name, event
        self.cmd, self.env = None, None
        self.shown = None       # the command as the report shows it (no temporary paths)
        self.attempts = []      # setup attempts: command, exit status, exact error
        self.notes = []
        self.ok = False
        self.teardown = []

    def attempt(self, cmd, r, what):
        shown = " ".join(cmd)
        for path, name in TMP_NAMES.items():
            shown = shown.replace(path, name)
        self.attempts.append({"what": what, "command": shown,
                              "exit_status": r.returncode if r else None,
                              "error": text(r) if r and r.returncode else None})


class ArrowPeer(Peer):
    def __init__(self):
        super().__init__("arrow exec", "`arrow exec` exits 0: ainit's session sent EXIT 0 "
                         "over vsock after busybox true ended in the guest")
        self.env = dict(os.environ, ARROW_ROOT=arrow_root())
        self.replaced = []

    def start(self):
        cmd = [ARROW, "run", "-d", "--name", "bench-exec", "--network", "none", "--memory",
               "128m", BUSYBOX, "sleep", "1000000"]
        r = sh(cmd, env=self.env)
        self.attempt(cmd, r, "arrow run -d (the Arrow exec'd into)")
        self.ok = r.returncode == 0
        self.cmd = [ARROW, "exec", "bench-exec", "/app/busybox", "true"]
        self.shown = "arrow exec A /app/busybox true"
        self.teardown = [[ARROW, "rm", "-f", "bench-exec"]]
        return self.ok

    def replace(self, why):
        """The Arrow broke: stop it hard (arrowh logs its vCPUs), keep the evidence, restart."""
        self.replaced.append(arrow_evidence("bench-exec", self.env, why))
        sh([ARROW, "rm", "-f", "bench-exec"], env=self.env)
        self.start()

    def healthy(self):
        return arrow_running("bench-exec", self.env)


ROOTS = []


def arrow_root():
    """A state root of its own, short: `<root>/<64-hex id>/vsock.sock_<port>` must fit the
    107 bytes of a unix socket path, or the Arrow has no vsock (docs/vsock.md)."""
    ROOTS.append(tempfile.mkdtemp(prefix="ax", dir="/tmp"))
    return ROOTS[-1]


def arrow_running(name, env):
    r = sh([ARROW, "inspect", name], env=env, timeout=60)
    try:
        return json.loads(r.stdout)[0]["State"]["Running"]
    except (ValueError, KeyError, IndexError):
        return False


def arrow_evidence(name, env, why):
    """State, output and arrowh.log of an Arrow that broke; a running one is first killed
    so that arrowh writes where its vCPUs were."""
    ev = {"arrow": name, "why_replaced": why}
    r = sh([ARROW, "inspect", name], env=env, timeout=60)
    try:
        info = json.loads(r.stdout)[0]
    except (ValueError, IndexError):
        ev["inspect"] = text(r)
        return ev
    ev["state"] = {k: info["State"].get(k) for k in ("Status", "Running", "ExitCode")}
    if info["State"].get("Running"):
        sh([ARROW, "kill", name], env=env, timeout=60)
        time.sleep(3)
    logpath = os.path.join(info.get("StateDir", ""), "arrowh.log")
    if os.path.exists(logpath):
        ev["arrowh_log_tail"] = tail(open(logpath, "rb").read(), 20)
    ev["output_tail"] = tail(sh([ARROW, "logs", name], env=env, timeout=60).stdout, 6)
    return ev


def podman_peer(tmp, runtime):
    """podman exec into a running container, podman's conmon driving `runtime`."""
    p = Peer(f"podman exec ({runtime})",
             "`podman exec` exits 0: conmon saw the runtime's exec'd busybox true exit 0 and "
             "podman read that exit status back")
    podman = shutil.which("podman")
    if not podman or not shutil.which(runtime) or not shutil.which("conmon"):
        p.attempts.append({"what": "find podman, conmon and the runtime",
                           "error": f"not installed: podman {podman}, {runtime} "
                                    f"{shutil.which(runtime)}, conmon {shutil.which('conmon')}"})
        return p
    home = os.path.join(tmp, f"podman-{runtime}")
    os.makedirs(os.path.join(home, "tmp"))
    busybox_rootfs(os.path.join(home, "rootfs"))
    sh(["tar", "-C", os.path.join(home, "rootfs"), "-cf", os.path.join(home, "rootfs.tar"), "."])
    runroot = tempfile.mkdtemp(prefix="pr-", dir="/tmp")  # podman takes 50 bytes at most
    p.env = dict(os.environ, TMPDIR=os.path.join(home, "tmp"))
    base = [podman, "--root", os.path.join(home, "storage"), "--runroot", runroot,
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend",
            "file", "--runtime", runtime]
    r = sh([*base, "import", os.path.join(home, "rootfs.tar"), "localhost/bb"], env=p.env)
    p.attempt(base[-2:] + ["import"], r, "podman import of the busybox rootfs")
    if r.returncode:
        return p
    for extra in ([], ["--cgroups=disabled"]):
        cmd = [*base, "run", "-d", "--name", "c1", "--network", "none", *extra, "localhost/bb",
               "sleep", "1000000"]
        r = sh(cmd, env=p.env, stdin=subprocess.DEVNULL)
        p.attempt(["podman", "--runtime", runtime, "run", "-d", "--network", "none", *extra,
                   "localhost/bb", "sleep", "1000000"], r, "podman run -d (the container)")
        if r.returncode == 0:
            p.ok = True
            if extra:
                p.name += ", --cgroups=disabled"
                p.notes.append("the container runs without a cgroup (`podman run "
                               "--cgroups=disabled`): with one, the runtime failed as shown")
            break
        sh([*base, "rm", "-f", "-t", "0", "c1"], env=p.env)
    p.cmd = [*base, "exec", "c1", "/bin/true"]
    p.shown = (f"podman --storage-driver vfs --cgroup-manager cgroupfs --runtime {runtime} "
               "exec C /bin/true")
    p.teardown = [[*base, "rm", "-f", "-t", "0", "c1"], ["rm", "-rf", runroot]]
    return p


def runtime_peer(tmp, runtime):
    """`crun exec` / `runc exec` straight into a container the same runtime runs."""
    p = Peer(f"{runtime} exec", f"`{runtime} exec` exits 0: it waited for busybox true, "
             "started in the container's namespaces, to exit 0")
    if not shutil.which(runtime):
        p.attempts.append({"what": f"find {runtime}", "error": f"{runtime} is not installed"})
        return p
    bundle = os.path.join(tmp, f"bundle-{runtime}")
    busybox_rootfs(os.path.join(bundle, "rootfs"))
    r = sh([runtime, "spec"], cwd=bundle)
    p.attempt([runtime, "spec"], r, "the default config")
    if r.returncode:
        return p
    cfg = os.path.join(bundle, "config.json")
    c = json.load(open(cfg))
    c["process"]["args"], c["process"]["terminal"] = ["/bin/sleep", "1000000"], False
    c["root"]["readonly"] = True
    json.dump(c, open(cfg, "w"))
    state_root = os.path.join(tmp, f"state-{runtime}")
    variants = [[]]
    if runtime == "crun":
        variants.append(["--cgroup-manager=disabled"])
    for extra in variants:
        top = [runtime, "--root", state_root, *extra]
        cid = f"bench-{runtime}"
        # detached: the container keeps our stdio, so it gets /dev/null, errors a file
        errf = os.path.join(tmp, f"{runtime}-run.err")
        with open(errf, "wb") as err:
            rc = subprocess.run([*top, "run", "-d", "--bundle", bundle, cid],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, timeout=300).returncode
        r = subprocess.CompletedProcess([], rc, b"", open(errf, "rb").read())
        p.attempt([*top, "run", "-d", "--bundle", "BUNDLE", cid], r, f"{runtime} run -d")
        if rc == 0:
            p.ok = True
            if extra:
                p.name += f" ({extra[0]})"
                p.notes.append(f"the container runs without a cgroup (`{runtime} "
                               f"{extra[0]}`): with one, {runtime} failed as shown")
            p.cmd = [*top, "exec", cid, "/bin/true"]
            p.shown = " ".join([runtime, *extra, "exec", "C", "/bin/true"])
            p.teardown = [[*top, "delete", "-f", cid]]
            break
        sh([*top, "delete", "-f", cid])
    return p


def children(pid):
    """Pids whose parent is pid (from /proc/*/stat: no CONFIG_PROC_CHILDREN needed)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d))
    return out


def nsenter_container_peer(crun):
    """nsenter -a into the process of the container that `crun exec` enters."""
    p = Peer("nsenter -a (crun's container)",
             "`nsenter` exits 0: it joined the container process's namespaces, forked "
             "/bin/true (busybox) of the container's root and waited for its exit 0")
    if not crun.ok:
        p.attempts.append({"what": "the target", "error": "crun runs no container here"})
        return p
    cmd = crun.cmd[:crun.cmd.index("exec")] + ["state", crun.cmd[-2]]
    r = sh(cmd)
    p.attempt(cmd, r, "the container's process (crun state)")
    try:
        pid = json.loads(r.stdout)["pid"]
    except (ValueError, KeyError):
        return p
    p.ok = True
    p.cmd = ["nsenter", "-t", str(pid), "-a", "/bin/true"]
    p.shown = "nsenter -t PID -a /bin/true"
    return p


def nsenter_peer():
    """nsenter -a into a native process that has its own namespaces."""
    p = Peer("nsenter -a (native process)",
             "`nsenter` exits 0: it joined the target's namespaces, forked busybox true and "
             "waited for its exit 0")
    cmd = ["unshare", "--fork", "--kill-child", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
           BUSYBOX, "sleep", "1000000"]
    holder = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    target = None
    for _ in range(100):
        kids = children(holder.pid)
        if kids:
            target = kids[0]
            break
        time.sleep(0.05)
    r = subprocess.CompletedProcess(cmd, 0 if target else 1, b"",
                                    b"" if target else b"unshare's child never appeared")
    p.attempt(cmd, r, "the native process (unshare: pid, mount, uts, ipc, net namespaces)")
    p.teardown = [["kill", str(holder.pid)]]
    if target:
        p.ok = True
        p.cmd = ["nsenter", "-t", str(target), "-a", BUSYBOX, "true"]
        p.shown = f"nsenter -t PID -a {BUSYBOX} true"
    return p


def exec_latency(tmp):
    peers = []
    arrow_peer = ArrowPeer()
    arrow_peer.start()
    peers.append(arrow_peer)
    for rt in ("crun", "runc"):
        peers.append(podman_peer(tmp, rt))
    crun = runtime_peer(tmp, "crun")
    peers += [crun, runtime_peer(tmp, "runc"), nsenter_peer(), nsenter_container_peer(crun)]
    running = [p for p in peers if p.ok]
    for p in peers:
        log(f"{p.name}: {'runs' if p.ok else 'cannot run: ' + str(p.attempts[-1].get('error'))}")
    samples = {p.name: [] for p in running}
    failures = {p.name: [] for p in running}
    warmup = {}
    sdir = os.path.join(tmp, "io")
    os.makedirs(sdir)

    def one(p, label):
        dt, status, out, err = run_files(p.cmd, sdir, env=p.env)
        if status == 0:
            return dt, None
        ev = {"sample": label, "seconds": round(dt, 3),
              "seen": "timed out (killed)" if status is None else f"exit status {status}",
              "stderr_tail": tail(err, 8), "stdout_tail": tail(out, 4)}
        if isinstance(p, ArrowPeer) and not p.healthy():
            p.replace(f"{label}: {ev['seen']}")
            ev["arrow_replaced"] = True
        return None, ev

    for p in running:
        dt, ev = one(p, "warm-up")
        warmup[p.name] = {"seconds": round(dt, 3)} if ev is None else ev
    sample_rounds(running, EXEC_RUNS, one, lambda p: p.name, samples, failures,
                  lambda ev: ev["seen"],
                  lambda i: (i + 1) % 10 == 0 and log(f"exec round {i + 1}/{EXEC_RUNS}"))

    result = {"program": "busybox true (the same static binary everywhere, by absolute path)",
              "rounds": EXEC_RUNS, "timeout_s": EXEC_TIMEOUT, "peers": {}}
    for p in peers:
        entry = {"runs": p.ok, "event": p.event, "setup": p.attempts, "notes": p.notes}
        if p.ok:
            entry["command"] = p.shown
            entry["samples_ms"] = [round(s * 1000, 2) for s in samples[p.name]]
            entry["ms"] = spread(samples[p.name], 1000)
            entry["attempted"] = EXEC_RUNS
            entry["failed"] = len(failures[p.name])
            entry["failures"] = failures[p.name]
            entry["warmup"] = warmup[p.name]
        if isinstance(p, ArrowPeer):
            entry["arrows_replaced"] = p.replaced
        result["peers"][p.name] = entry
    base = result["peers"]["arrow exec"].get("ms")
    result["ratio_arrow_to_peer_medians"] = {
        name: round(base["median"] / e["ms"]["median"], 2)
        for name, e in result["peers"].items()
        if name != "arrow exec" and base and e.get("ms")}
    for p in peers:
        for cmd in p.teardown:
            sh(cmd, env=p.env)
    return result


# ---- streams --------------------------------------------------------------------------------

class Transfer(Exception):
    pass


def recv_line(s):
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise Transfer(f"connection closed after {line!r} (no reply line)")
        line += c
        if len(line) > 200:
            raise Transfer(f"reply line too long: {line[:80]!r}")
    return line.decode(errors="replace").strip()


class StreamArrow:
    """The Arrow running streambench, with its addresses."""

    def __init__(self):
        self.env = dict(os.environ, ARROW_ROOT=arrow_root())
        self.name, self.count, self.replaced = None, 0, []

    def start(self):
        self.count += 1
        self.name = f"bench-stream-{self.count}"
        r = sh([ARROW, "run", "-d", "--name", self.name, "--memory", "256m", STREAMBENCH,
                "serve", str(VPORT), str(TPORT)], env=self.env)
        if r.returncode:
            raise SystemExit(f"bench: exec: cannot start the stream Arrow: {text(r)}")
        info = json.loads(sh([ARROW, "inspect", self.name], env=self.env).stdout)[0]
        self.sdir = info["StateDir"]
        self.ip = info["NetworkSettings"]["ip"]
        self.gateway = info["NetworkSettings"]["gateway"]
        self.kernel = "vmlinux-net"  # the kernel of an Arrow with a network
        deadline = time.time() + 180
        while b"streambench: listening (2 sockets)" not in sh(
                [ARROW, "logs", self.name], env=self.env, timeout=60).stdout:
            if time.time() > deadline:
                raise SystemExit("bench: exec: streambench never listened: "
                                 + text(sh([ARROW, "logs", self.name], env=self.env)))
            time.sleep(0.5)

    def replace(self, why):
        self.replaced.append(arrow_evidence(self.name, self.env, why))
        sh([ARROW, "rm", "-f", self.name], env=self.env)
        self.start()

    def connect(self, transport):
        """An open connection to streambench: vsock through vsock.sock, or TCP."""
        deadline = time.time() + 60
        while True:
            try:
                if transport == "vsock":
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(SILENCE)
                    s.connect(os.path.join(self.sdir, "vsock.sock"))
                    s.sendall(f"CONNECT {VPORT}\n".encode())
                    line = recv_line(s)
                    if not re.fullmatch(r"OK \d+", line):
                        raise Transfer(f"vsock handshake answered {line!r}")
                else:
                    s = socket.create_connection((self.ip, TPORT), timeout=SILENCE)
                return s
            except (OSError, Transfer) as e:
                if time.time() > deadline:
                    raise Transfer(f"cannot connect over {transport}: {e}")
                time.sleep(0.5)


BLOCK = memoryview(bytes(range(256)) * (MIB // 256))


def sender(s, n):
    block = BLOCK
    left = n
    while left:
        k = min(left, MIB)
        s.sendall(block[:k])
        left -= k


def drain(s, n, deadline):
    buf = bytearray(MIB)
    got = 0
    while True:
        if time.monotonic() > deadline:
            raise Transfer(f"overall timeout after {got} of {n} bytes")
        k = s.recv_into(buf)
        if not k:
            break
        got += k
    if got != n:
        raise Transfer(f"end of file after {got} of {n} bytes")
    return got


def transfer(arrow, kind, n):
    """One transfer; seconds from the request line to its end event."""
    transport, direction, opener = kind
    deadline = time.monotonic() + STREAM_TIMEOUT
    s = arrow.connect(transport)
    lst = None
    try:
        if opener == "guest":
            if transport == "vsock":
                path = os.path.join(arrow.sdir, f"vsock.sock_{BACKPORT}")
                if os.path.exists(path):
                    os.unlink(path)
                lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                lst.bind(path)
                req = f"DIAL V {BACKPORT} {n}\n"
            else:
                lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                lst.bind((arrow.gateway, BACKPORT))
                req = f"DIAL T {arrow.gateway} {BACKPORT} {n}\n"
            lst.listen(1)
            lst.settimeout(SILENCE)
            t0 = time.perf_counter()
            s.sendall(req.encode())
            try:
                c, _ = lst.accept()
            except socket.timeout:
                raise Transfer(f"the guest never connected back within {SILENCE} s")
            c.settimeout(SILENCE)
            with c:
                drain(c, n, deadline)
            t1 = time.perf_counter()
            line = recv_line(s)
            if line != f"OK {n}":
                raise Transfer(f"guest answered {line!r}")
            return t1 - t0
        if direction == "host→guest":
            t0 = time.perf_counter()
            s.sendall(f"RECV {n}\n".encode())
            sender(s, n)
            line = recv_line(s)
            t1 = time.perf_counter()
            if line != f"OK {n}":
                raise Transfer(f"guest answered {line!r}")
            return t1 - t0
        t0 = time.perf_counter()
        s.sendall(f"SEND {n}\n".encode())
        drain(s, n, deadline)
        return time.perf_counter() - t0
    finally:
        s.close()
        if lst:
            lst.close()
            if transport == "vsock":
                try:
                    os.unlink(os.path.join(arrow.sdir, f"vsock.sock_{BACKPORT}"))
                except OSError:
                    pass


KINDS = [("vsock", "host→guest", "host"), ("tcp", "host→guest", "host"),
         ("vsock", "guest→host", "host"), ("tcp", "guest→host", "host"),
         ("vsock", "guest→host", "guest"), ("tcp", "guest→host", "guest")]


def kind_name(kind):
    transport, direction, opener = kind
    how = "vsock" if transport == "vsock" else "TCP over the Arrow network"
    return f"{direction}, {how}, connection opened by the {opener}"


def streams():
    arrow = StreamArrow()
    arrow.start()
    n = STREAM_MIB * MIB
    samples = {k: [] for k in KINDS}
    failures = {k: [] for k in KINDS}
    warmup = {}

    def one(kind, size, label):
        try:
            return transfer(arrow, kind, size), None
        except (OSError, Transfer) as e:
            ev = {"sample": label, "seen": f"{type(e).__name__}: {e}"}
            running = arrow_running(arrow.name, arrow.env)
            # a broken Arrow is replaced; a working one that failed once keeps going
            healthy = running and probe(arrow)
            if not healthy:
                ev["arrow_replaced"] = arrow.name
                arrow.replace(f"{kind_name(kind)}, {label}: {ev['seen']}")
            return None, ev

    for kind in KINDS:
        dt, ev = one(kind, MIB, "warm-up (1 MiB)")
        warmup[kind] = {"seconds": round(dt, 3)} if ev is None else ev
    for i in range(STREAM_RUNS):
        order = KINDS[i % len(KINDS):] + KINDS[:i % len(KINDS)]
        for kind in order:
            dt, ev = one(kind, n, f"round {i + 1}")
            if ev is None:
                samples[kind].append(dt)
                log(f"stream {kind_name(kind)}: {n / MIB / dt:.1f} MiB/s")
            else:
                failures[kind].append(ev)
                log(f"stream {kind_name(kind)} round {i + 1}: {ev['seen']}")
    result = {"bytes": n, "rounds": STREAM_RUNS, "timeout_s": STREAM_TIMEOUT,
              "silence_timeout_s": SILENCE, "guest_kernel": arrow.kernel,
              "guest_memory_mib": 256, "kinds": {}}
    for kind in KINDS:
        transport, direction, opener = kind
        result["kinds"][kind_name(kind)] = {
            "transport": transport, "direction": direction, "opened_by": opener,
            "seconds": [round(x, 3) for x in samples[kind]],
            "mib_per_s": spread([n / MIB / x for x in samples[kind]]),
            "attempted": STREAM_RUNS, "failed": len(failures[kind]),
            "failures": failures[kind], "warmup": warmup[kind]}
    ratios = {}
    for direction, opener in (("host→guest", "host"), ("guest→host", "host"),
                              ("guest→host", "guest")):
        v = result["kinds"][kind_name(("vsock", direction, opener))]["mib_per_s"]
        t = result["kinds"][kind_name(("tcp", direction, opener))]["mib_per_s"]
        if v and t:
            ratios[f"{direction}, opened by the {opener}"] = round(v["median"] / t["median"], 2)
    result["ratio_vsock_to_tcp_medians"] = ratios
    result["arrows_replaced"] = arrow.replaced
    sh([ARROW, "rm", "-f", arrow.name], env=arrow.env)
    return result


def probe(arrow):
    """Whether streambench still answers a small transfer over vsock."""
    try:
        transfer(arrow, ("vsock", "guest→host", "host"), 4096)
        return True
    except (OSError, Transfer):
        return False


def main():
    env_name, out_path = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="ax-", dir="/tmp")
    TMP_NAMES[tmp] = "TMP"
    try:
        versions = {"podman": version(["podman", "--version"]),
                    "conmon": version(["conmon", "--version"]),
                    "crun": version(["crun", "--version"]),
                    "runc": version(["runc", "--version"]),
                    "nsenter": version(["nsenter", "--version"]),
                    "busybox": version([BUSYBOX]).split(" multi-call")[0]}
        cgroup_fs = sh(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"]).stdout.decode().strip()
        # this file exists exactly when the kernel has the bpf() system call (BPF_SYSCALL),
        # which crun and runc need for a cgroup v2 device controller
        bpf = os.path.exists("/proc/sys/kernel/unprivileged_bpf_disabled")
        log("exec latency")
        ex = exec_latency(tmp)
        log("stream throughput")
        st = streams()
        write_result(out_path, {"environment": env_name, "versions": versions,
                                "cgroup_fs": cgroup_fs, "kernel_has_bpf_syscall": bpf,
                                "exec": ex, "stream": st})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for root in ROOTS:  # whatever an error left running
            env = dict(os.environ, ARROW_ROOT=root)
            ids = sh([ARROW, "ps", "-aq"], env=env).stdout.decode().split()
            if ids:
                sh([ARROW, "rm", "-f", *ids], env=env)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
