#!/usr/bin/python3
"""arrow-oci, Arrow's OCI runtime (docs/oci.md), against crun and runc and against `arrow run`,
in one run.

1. `podman run --rm --network none IMG /bin/true` with `--runtime build/bin/arrow-oci`,
   `--runtime crun` and `--runtime runc`, against `arrow run --rm --network none
   /bin/busybox true` (no podman). IMG is a busybox rootfs imported once (vfs storage,
   cgroupfs manager, as tests/integration/podmanutil.py); /bin/true in it is the same static
   busybox that `arrow run` is given. Every sample is the same event: from this script's
   fork of the command until the command has exited (waitpid) with status 0; stdout and
   stderr go to files. One warm-up per peer (not kept), then BENCH_OCI_RUNS rounds in which
   the peers take turns, each round starting one peer later. A runtime that fails with a
   cgroup (inside the helper VM crun and runc need bpf() for a cgroup v2 device controller)
   is tried again with `podman run --cgroups=disabled`, and the peer's name says so; where
   crun ran that way, arrow-oci is measured that way too, for a like-for-like pair.
2. create → start → delete, driving the runtime directly with a bundle (rootfs: static
   busybox; config.json from `crun spec` — `arrow-oci spec` is refused, its error is kept —
   process.args ["/bin/true"], terminal false, root.readonly true). This script is a child
   subreaper, as conmon and containerd's shim are, so the container process is re-parented to
   it when `create` exits and it waits on the pid from `--pid-file`. Phases: `create` (fork
   until it exits 0: the container process waits), `start` until the app's exit is seen
   (waitpid on the pid-file's process, status 0; `start`'s own return is kept too), `delete`
   (until it exits 0). The same for crun (with `--cgroup-manager=disabled` where it needs it)
   and runc where it runs. arrow-oci cold-boots the VM at `create` (the guest then waits at
   the start gate) and `start` only releases the process: a template clone is not offered
   for OCI containers (a container with a live-shared rootfs cannot be snapshotted,
   docs/oci.md), so there is no clone to measure.
3. Memory of one idle container (`podman run -d IMG sh -c 'echo ready; exec /bin/sleep N'`),
   once it printed "ready" and 2 s after: PSS, private (clean + dirty) and, for context, RSS
   from /proc/PID/smaps_rollup (and /proc/PID/smaps for arrowh's VMM, guest RAM apart) of every
   process of the container — the runtime's container process and all its descendants —
   with conmon (its parent) shown apart; for arrow-oci the arrowh supervisor, its jailed VMM
   (guest RAM apart) and the rootfs sidecar. `arrow run -d` of the same busybox sleep (no
   podman, no rootfs share) is measured alongside. BENCH_OCI_MEM_RUNS times each, taking
   turns; medians.

A failed sample is counted and kept with what was seen, never replaced.

    bench/oci.py ENVIRONMENT-NAME OUTPUT.json
"""
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

from boot import ARROW, BUILD, MEM_MIB, ROOT, children, rollup_kib, smaps_kib, tail, write_result
# the same error text, version probe and round-robin sampling as exec.py
from exec import sample_rounds, text, version

OCI = os.path.join(BUILD, "bin/arrow-oci")
BUSYBOX = "/bin/busybox"
RUNS = int(os.environ.get("BENCH_OCI_RUNS", "10"))
MEM_RUNS = int(os.environ.get("BENCH_OCI_MEM_RUNS", "3"))
TIMEOUT = 180              # one sample
READY_TIMEOUT = 180
OCI_GUEST_MIB = 128        # arrow-oci's RAM without linux.resources.memory.limit (docs/oci.md)
TMP_NAMES = {}             # temporary paths → what the report shows instead
PR_SET_CHILD_SUBREAPER = 36


def log(msg):
    print(f"bench: oci: {msg}", file=sys.stderr, flush=True)


def shown(cmd):
    s = " ".join(cmd)
    for path, name in TMP_NAMES.items():
        s = s.replace(path, name)
    return s.replace(ROOT + "/", "")


def spread(samples, scale=1000.0, digits=1):
    """Median, quartiles (inclusive method), min/max, σ and count of samples × scale."""
    s = sorted(x * scale for x in samples)
    if not s:
        return None
    q = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else [s[0]] * 3
    r = lambda x: round(x, digits)
    return {"median": r(statistics.median(s)), "q1": r(q[0]), "q3": r(q[2]), "min": r(s[0]),
            "max": r(s[-1]), "stdev": r(statistics.pstdev(s)), "n": len(s)}


def sh(cmd, env=None, timeout=300, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(cmd, capture_output=True, env=env, timeout=timeout, **kw)


def run_files(cmd, tmp, env=None, timeout=TIMEOUT):
    """Run cmd with stdout and stderr in files; (seconds to its exit, status or None on a
    timeout, stdout, stderr). The clock stops at waitpid."""
    out_path, err_path = os.path.join(tmp, "out"), os.path.join(tmp, "err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        try:
            status = p.wait(timeout=timeout)
            dt = time.perf_counter() - t
        except subprocess.TimeoutExpired:
            dt = time.perf_counter() - t
            p.kill()
            p.wait()
            status = None
    return dt, status, open(out_path, "rb").read(), open(err_path, "rb").read()


def failure(label, dt, status, out, err):
    return {"sample": label, "seconds": round(dt, 3),
            "seen": "timed out (killed)" if status is None else f"exit status {status}",
            "stderr_tail": tail(err, 8), "stdout_tail": tail(out, 4)}


def busybox_rootfs(path):
    os.makedirs(os.path.join(path, "bin"))
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for a in ("sh", "true", "sleep", "echo"):
        os.symlink("busybox", os.path.join(path, "bin", a))


# ---- 1. podman run --rm IMG /bin/true ---------------------------------------------------------

class Peer:
    def __init__(self, name, event, runtime=None):
        self.name, self.event, self.runtime = name, event, runtime
        self.cmd, self.env, self.shown = None, None, None
        self.attempts, self.notes = [], []
        self.ok = False
        self.extra = []

    def attempt(self, cmd, r, what):
        self.attempts.append({"what": what, "command": shown(cmd),
                              "exit_status": r.returncode if r else None,
                              "error": text(r) if r and r.returncode else None})


class Podman:
    """One podman storage with the busybox image, shared by every runtime."""

    def __init__(self, tmp):
        self.exe = shutil.which("podman")
        self.why = None
        if not self.exe or not shutil.which("conmon"):
            self.why = (f"not installed: podman {self.exe}, conmon {shutil.which('conmon')}")
            return
        home = os.path.join(tmp, "podman")
        os.makedirs(os.path.join(home, "tmp"))
        busybox_rootfs(os.path.join(home, "rootfs"))
        sh(["tar", "-C", os.path.join(home, "rootfs"), "-cf", os.path.join(home, "rootfs.tar"),
            "."])
        self.runroot = tempfile.mkdtemp(prefix="pr-", dir="/tmp")  # podman: 50 bytes at most
        TMP_NAMES[self.runroot] = "RUNROOT"
        self.env = dict(os.environ, TMPDIR=os.path.join(home, "tmp"))
        self.base = [self.exe, "--root", os.path.join(home, "storage"), "--runroot",
                     self.runroot, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                     "--events-backend", "file"]
        r = sh([*self.base, "import", os.path.join(home, "rootfs.tar"), "localhost/bb"],
               env=self.env)
        if r.returncode:
            self.why = f"podman import of the busybox rootfs: {text(r)}"
        self.n = 0

    def with_runtime(self, runtime):
        return [*self.base, "--runtime", runtime]

    def name(self):
        self.n += 1
        return f"bench-oci-{self.n}"

    def cleanup(self):
        if not self.why:
            sh([*self.base, "rm", "-a", "-f", "-t", "0"], env=self.env, timeout=600)
        if getattr(self, "runroot", None):
            shutil.rmtree(self.runroot, ignore_errors=True)


def runtime_label(runtime):
    return "arrow-oci" if runtime == OCI else runtime


def podman_peer(pm, runtime, probe_dir, force_no_cgroups=False):
    """`podman --runtime R run --rm --network none localhost/bb /bin/true`: probed once with
    a cgroup, then (if that failed) with --cgroups=disabled."""
    label = runtime_label(runtime)
    # a peer forced without a cgroup is named so from the start: its entry must never take
    # the place of the same runtime's default one in the result
    p = Peer(f"podman run ({label})" + (", --cgroups=disabled" if force_no_cgroups else ""),
             f"`podman run --rm` exits 0: conmon saw {label}'s container process (busybox "
             "true) exit 0, podman read that status and removed the container", runtime)
    if pm.why:
        p.attempts.append({"what": "podman", "error": pm.why})
        return p
    if runtime != OCI and not shutil.which(runtime):
        p.attempts.append({"what": f"find {runtime}", "error": f"{runtime} is not installed"})
        return p
    variants = [["--cgroups=disabled"]] if force_no_cgroups else [[], ["--cgroups=disabled"]]
    for extra in variants:
        cmd = [*pm.with_runtime(runtime), "run", "--rm", "--network", "none", *extra,
               "localhost/bb", "/bin/true"]
        dt, status, out, err = run_files(cmd, probe_dir, env=pm.env)
        r = subprocess.CompletedProcess(cmd, status if status is not None else -1, out, err)
        p.attempt(["podman", "--runtime", label, "run", "--rm", "--network", "none", *extra,
                   "localhost/bb", "/bin/true"], r, "probe")
        if status == 0:
            p.ok, p.cmd, p.env, p.extra = True, cmd, pm.env, extra
            p.shown = shown(["podman", "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                             "--runtime", label, "run", "--rm", "--network", "none", *extra,
                             "localhost/bb", "/bin/true"])
            if extra and not force_no_cgroups:
                p.name += ", --cgroups=disabled"
            if extra:
                p.notes.append("the container runs without a cgroup (`podman run "
                               "--cgroups=disabled`)" + (
                                   "" if force_no_cgroups else
                                   ": with one, the runtime failed as shown"))
            break
    return p


def arrow_run_peer(env):
    p = Peer("arrow run", "`arrow run --rm` exits 0: arrowh received ainit's EXIT record with "
             "status 0 after busybox true ended in the guest, and the Arrow was removed")
    p.env = env
    p.cmd = [ARROW, "run", "--rm", "--network", "none", BUSYBOX, "true"]
    p.shown = f"arrow run --rm --network none {BUSYBOX} true"
    p.ok = True
    return p


def podman_true(tmp, pm, arrow_env):
    probe = os.path.join(tmp, "probe")
    os.makedirs(probe)
    peers = [podman_peer(pm, OCI, probe), podman_peer(pm, "crun", probe)]
    if peers[1].ok and peers[1].extra and peers[0].ok and not peers[0].extra:
        # crun needed --cgroups=disabled here: arrow-oci the same way too, like for like
        peers.append(podman_peer(pm, OCI, probe, force_no_cgroups=True))
    peers += [podman_peer(pm, "runc", probe), arrow_run_peer(arrow_env)]
    names = [p.name for p in peers]
    assert len(set(names)) == len(names), f"two peers of one name: {names}"
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
        return (dt, None) if status == 0 else (None, failure(label, dt, status, out, err))

    for p in running:
        dt, ev = one(p, "warm-up")
        warmup[p.name] = {"seconds": round(dt, 3)} if ev is None else ev
    sample_rounds(running, RUNS, one, lambda p: p.name, samples, failures,
                  lambda ev: f"{ev['seen']}: {ev['stderr_tail'][-1:]}",
                  lambda i: log(f"podman run round {i + 1}/{RUNS}: " + ", ".join(
                      f"{n} {s[-1] * 1000:.0f} ms" for n, s in samples.items() if s)), log)
    result = {"program": "busybox true (the same static binary for every peer: /bin/true in "
                         "the image, /bin/busybox given to arrow run)",
              "rounds": RUNS, "timeout_s": TIMEOUT, "peers": {}}
    for p in peers:
        entry = {"runs": p.ok, "event": p.event, "setup": p.attempts, "notes": p.notes}
        if p.ok:
            entry.update({"command": p.shown,
                          "samples_ms": [round(s * 1000, 1) for s in samples[p.name]],
                          "ms": spread(samples[p.name]), "attempted": RUNS,
                          "failed": len(failures[p.name]), "failures": failures[p.name],
                          "warmup": warmup[p.name]})
        result["peers"][p.name] = entry
    base = result["peers"][peers[0].name].get("ms") if peers[0].ok else None
    result["base"] = peers[0].name
    result["ratio_arrow_oci_to_peer_medians"] = {
        name: round(base["median"] / e["ms"]["median"], 2)
        for name, e in result["peers"].items()
        if name != peers[0].name and base and e.get("ms")}
    nocg = [p for p in peers if p.runtime == OCI and p.extra and p is not peers[0]]
    if nocg and nocg[0].ok:
        b2 = result["peers"][nocg[0].name].get("ms")
        result["ratio_arrow_oci_nocgroup_to_peer_medians"] = {
            name: round(b2["median"] / e["ms"]["median"], 2)
            for name, e in result["peers"].items()
            if name not in (nocg[0].name, peers[0].name) and b2 and e.get("ms")}
    return result, peers


# ---- 2. create → start → delete with a bundle --------------------------------------------------

def set_subreaper(on):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_orphans():
    """Zombies re-parented to this subreaper (nothing else of ours runs now); their count."""
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


def wait_pid(pid, timeout):
    """waitpid on a child (re-parented to us); (seconds, status or None on a timeout)."""
    end = time.monotonic() + timeout
    while True:
        try:
            got, st = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None, "not our child (never re-parented to this subreaper?)"
        if got == pid:
            return time.perf_counter(), os.waitstatus_to_exitcode(st)
        if time.monotonic() > end:
            return None, None
        time.sleep(0.0005)


class Lifecycle:
    """One runtime driven directly: create, start + wait, delete."""

    def __init__(self, tmp, runtime, spec_config):
        self.runtime = runtime
        self.label = runtime_label(runtime)
        self.attempts, self.notes = [], []
        self.ok = False
        self.tmp = os.path.join(tmp, f"lc-{self.label}")
        self.bundle = os.path.join(self.tmp, "bundle")
        busybox_rootfs(os.path.join(self.bundle, "rootfs"))
        TMP_NAMES[self.tmp] = f"TMP/{self.label}"
        json.dump(spec_config, open(os.path.join(self.bundle, "config.json"), "w"))
        self.top = [runtime, "--root", os.path.join(self.tmp, "state")]
        self.n = 0

    def sample(self, label):
        """(phases in seconds, None) or (None, what was seen)."""
        self.n += 1
        cid = f"bench-{self.label}-{self.n}"
        pidf = os.path.join(self.tmp, f"{cid}.pid")
        io = os.path.join(self.tmp, "io")
        os.makedirs(io, exist_ok=True)
        ph = {}
        dt, st, out, err = run_files([*self.top, "create", "--bundle", self.bundle, "--pid-file",
                                      pidf, cid], io)
        if st != 0:
            sh([*self.top, "delete", "-f", cid])
            return None, {**failure(label, dt, st, out, err), "phase": "create"}
        ph["create"] = dt
        try:
            pid = int(open(pidf).read().strip())
        except (OSError, ValueError) as e:
            sh([*self.top, "delete", "-f", cid])
            return None, {"sample": label, "phase": "create", "seen": f"no pid file: {e}"}
        t0 = time.perf_counter()
        p = subprocess.Popen([*self.top, "start", cid], stdin=subprocess.DEVNULL,
                             stdout=open(os.path.join(io, "start.out"), "wb"),
                             stderr=open(os.path.join(io, "start.err"), "wb"))
        try:
            st = p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            st = p.wait()
        ph["start_returned"] = time.perf_counter() - t0
        if st != 0:
            err = open(os.path.join(io, "start.err"), "rb").read()
            sh([*self.top, "delete", "-f", cid])
            wait_pid(pid, 10)
            return None, {"sample": label, "phase": "start", "seen": f"exit status {st}",
                          "stderr_tail": tail(err, 8)}
        t1, app = wait_pid(pid, TIMEOUT)
        if t1 is None or app != 0:
            sh([*self.top, "delete", "-f", cid])
            return None, {"sample": label, "phase": "start → app exit",
                          "seen": "no exit within the timeout" if app is None and t1 is None
                          else f"container process: {app}",
                          "stdout_tail": tail(open(os.path.join(io, "out"), "rb").read(), 4),
                          "stderr_tail": tail(open(os.path.join(io, "err"), "rb").read(), 8)}
        ph["start_to_app_exit"] = t1 - t0
        dt, st, out, err = run_files([*self.top, "delete", cid], io)
        if st != 0:
            sh([*self.top, "delete", "-f", cid])
            return None, {**failure(label, dt, st, out, err), "phase": "delete"}
        ph["delete"] = dt
        ph["total"] = ph["create"] + ph["start_to_app_exit"] + ph["delete"]
        orphans = reap_orphans()
        if orphans:
            ph["orphans_reaped"] = orphans
        return ph, None


def lifecycle(tmp, spec_config, spec_from):
    variants = {OCI: [[]], "crun": [[], ["--cgroup-manager=disabled"]], "runc": [[]]}
    runtimes = []
    set_subreaper(True)
    try:
        for rt, vs in variants.items():
            if rt != OCI and not shutil.which(rt):
                runtimes.append(({"label": rt, "ok": False, "attempts": [
                    {"what": f"find {rt}", "error": f"{rt} is not installed"}], "notes": []}))
                continue
            lc = Lifecycle(tmp, rt, spec_config)
            base_top = lc.top
            for extra in vs:
                lc.top = [*base_top, *extra]
                ph, ev = lc.sample("probe")
                lc.attempts.append({"what": "probe: create, start, wait, delete",
                                    "command": shown(lc.top),
                                    "error": None if ev is None else
                                    f"{ev.get('phase')}: {ev['seen']}: "
                                    + " / ".join(ev.get("stderr_tail", [])[-3:])})
                if ev is None:
                    lc.ok = True
                    if extra:
                        lc.label_shown = f"{lc.label} ({extra[0]})"
                        lc.notes.append(f"no cgroup (`{rt} {extra[0]}`): with one, {rt} failed "
                                        "as shown")
                    break
            runtimes.append(lc)
        running = [lc for lc in runtimes if isinstance(lc, Lifecycle) and lc.ok]
        samples = {lc.label: [] for lc in running}
        failures = {lc.label: [] for lc in running}
        warmups = {}
        for lc in running:  # warm-up: the probe above was one; one more, not kept
            ph, ev = lc.sample("warm-up")
            warmups[lc.label] = ({"total_ms": round(ph["total"] * 1000, 1)} if ev is None
                                 else ev)
        sample_rounds(running, RUNS, lambda lc, label: lc.sample(label), lambda lc: lc.label,
                      samples, failures, lambda ev: f"{ev.get('phase')}: {ev['seen']} (lifecycle)",
                      lambda i: log(f"lifecycle round {i + 1}/{RUNS}: " + ", ".join(
                          f"{k} {v[-1]['total'] * 1000:.0f} ms" for k, v in samples.items() if v)), log)
    finally:
        set_subreaper(False)
    res = {"config": spec_from, "rounds": RUNS, "timeout_s": TIMEOUT, "runtimes": {}}
    for lc in runtimes:
        if not isinstance(lc, Lifecycle):
            res["runtimes"][lc["label"]] = {"runs": False, "setup": lc["attempts"], "notes": []}
            continue
        e = {"runs": lc.ok, "setup": lc.attempts, "notes": lc.notes,
             "name": getattr(lc, "label_shown", lc.label)}
        if lc.ok:
            s = samples[lc.label]
            e.update({"attempted": RUNS, "failed": len(failures[lc.label]),
                      "warmup": warmups.get(lc.label),
                      "failures": failures[lc.label],
                      "phases_ms": {k: spread([x[k] for x in s]) for k in
                                    ("create", "start_returned", "start_to_app_exit", "delete",
                                     "total")},
                      "samples_ms": [{k: round(v * 1000, 1) if isinstance(v, float) else v
                                      for k, v in x.items()} for x in s]})
        res["runtimes"][lc.label] = e
    base = res["runtimes"].get("arrow-oci", {}).get("phases_ms")
    res["ratio_arrow_oci_to_runtime_medians"] = {
        name: {k: round(base[k]["median"] / e["phases_ms"][k]["median"], 2)
               for k in ("create", "start_to_app_exit", "delete", "total")
               if base.get(k) and e["phases_ms"].get(k)}
        for name, e in res["runtimes"].items()
        if name != "arrow-oci" and base and e.get("phases_ms")}
    return res


# ---- 3. memory per idle container ------------------------------------------------------------

def descendants(pid):
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        pending += children(p)
    return out


def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return "?"


def ppid(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])


def process_memory(pid, top, guest_bytes):
    """One process: rollup (PSS, private, RSS); for a process with guest RAM (arrowh's VMM),
    smaps per mapping with guest RAM apart."""
    row = {"pid": pid, "comm": comm(pid), **rollup_kib(pid)}
    if guest_bytes and row["comm"] == "arrowh":
        try:
            sm = smaps_kib(pid, guest_bytes)
            row.update({k: sm[k] for k in ("guest_ram_pss_kib", "guest_ram_private_kib",
                                           "guest_ram_rss_kib")})
            row["role"] = "arrowh VMM (jailed)" if pid != top else "arrowh (one process)"
        except SystemExit:
            row["role"] = ("arrowh supervisor" if pid == top
                           else "arrowh child without guest RAM (rootfs sidecar)")
    else:
        row["role"] = "container process" if pid == top else "descendant"
    return row


def totals(rows, conmon):
    t = {k: sum(r[k] for r in rows) for k in ("pss_kib", "private_kib", "rss_kib")}
    for k in ("pss", "private", "rss"):
        g = sum(r.get(f"guest_ram_{k}_kib", 0) for r in rows)
        t[f"guest_ram_{k}_kib"] = g
        t[f"without_guest_ram_{k}_kib"] = t[f"{k}_kib"] - g
    if conmon:
        t["with_conmon_pss_kib"] = t["pss_kib"] + conmon["pss_kib"]
        t["with_conmon_private_kib"] = t["private_kib"] + conmon["private_kib"]
    return t


def wait_text(getter, needle, timeout=READY_TIMEOUT):
    end = time.time() + timeout
    while time.time() < end:
        if needle in getter():
            return True
        time.sleep(1)
    return False


def idle_podman(pm, peer):
    """One idle container of peer's runtime: its processes' memory."""
    name = pm.name()
    base = pm.with_runtime(peer.runtime)
    r = sh([*base, "run", "-d", "--name", name, "--network", "none", *peer.extra, "localhost/bb",
            "sh", "-c", "echo ready; exec /bin/sleep 1000000"], env=pm.env)
    if r.returncode:
        return {"error": f"podman run -d: {text(r)}"}
    try:
        logs = lambda: sh([*base, "logs", name], env=pm.env).stdout
        if not wait_text(logs, b"ready"):
            return {"error": f"no \"ready\" within {READY_TIMEOUT} s; logs: {tail(logs(), 4)}"}
        time.sleep(2)
        r = sh([*base, "inspect", "--format", "{{.State.Pid}}", name], env=pm.env)
        pid = int(r.stdout.decode().strip())
        guest = OCI_GUEST_MIB << 20 if peer.runtime == OCI else None
        rows = [process_memory(p, pid, guest) for p in descendants(pid)]
        cm = ppid(pid)
        conmon = {"pid": cm, "comm": comm(cm), **rollup_kib(cm)}
        return {"processes": rows, "conmon": conmon, "totals": totals(rows, conmon)}
    finally:
        sh([*base, "rm", "-f", "-t", "0", name], env=pm.env)


def idle_arrow(env):
    r = sh([ARROW, "run", "-d", "--network", "none", "--memory", str(MEM_MIB), BUSYBOX, "sh",
            "-c", "echo ready; exec /app/busybox sleep 1000000"], env=env)
    if r.returncode:
        return {"error": f"arrow run -d: {text(r)}"}
    aid = r.stdout.decode().strip()
    try:
        if not wait_text(lambda: sh([ARROW, "logs", aid], env=env).stdout, b"ready"):
            return {"error": f"no \"ready\" within {READY_TIMEOUT} s"}
        time.sleep(2)
        st = json.load(open(os.path.join(env["ARROW_ROOT"], aid, "state.json")))
        pid = st["pid"]
        rows = [process_memory(p, pid, MEM_MIB << 20) for p in descendants(pid)]
        return {"processes": rows, "conmon": None, "totals": totals(rows, None)}
    finally:
        sh([ARROW, "rm", "-f", aid], env=env)


def memory(pm, peers, arrow_env):
    kinds = [(p.name, p) for p in peers if p.ok and p.runtime]
    kinds.append(("arrow run -d", None))
    runs = {n: [] for n, _ in kinds}
    for i in range(MEM_RUNS):
        order = kinds[i % len(kinds):] + kinds[:i % len(kinds)]
        for n, p in order:
            log(f"memory {i + 1}/{MEM_RUNS}: {n}")
            m = idle_podman(pm, p) if p else idle_arrow(arrow_env)
            runs[n].append(m)
            if "error" in m:
                log(f"memory {n}: {m['error']}")
    res = {"runs_each": MEM_RUNS, "guest_memory_mib": OCI_GUEST_MIB, "program":
           "busybox sh -c 'echo ready; exec sleep 1000000' (podman: /bin/sleep in the image; "
           "arrow run: /app/busybox sleep)", "kinds": {}}
    for n, _ in kinds:
        ok = [m for m in runs[n] if "error" not in m]
        keys = ok[0]["totals"].keys() if ok else []
        res["kinds"][n] = {
            "attempted": MEM_RUNS, "ok": len(ok),
            "errors": [m["error"] for m in runs[n] if "error" in m],
            "median_kib": {k: statistics.median(m["totals"][k] for m in ok) for k in keys},
            "conmon_median_kib": ({k: statistics.median(m["conmon"][k] for m in ok)
                                   for k in ("pss_kib", "private_kib", "rss_kib")}
                                  if ok and ok[0]["conmon"] else None),
            "by_role_median_kib": by_role(ok),
            "runs": runs[n]}
    return res


def by_role(ok):
    roles = {}
    for m in ok:
        for r in m["processes"]:
            roles.setdefault(r["role"], []).append(r)
    return {role: {"processes_per_container": round(len(rs) / len(ok), 2),
                   **{k: statistics.median(x.get(k, 0) for x in rs)
                      for k in ("pss_kib", "private_kib", "rss_kib", "guest_ram_pss_kib",
                                "guest_ram_private_kib")}}
            for role, rs in roles.items()}


# ---- main -------------------------------------------------------------------------------------

def spec_config(tmp):
    """config.json: `arrow-oci spec` if it gives one, else `crun spec`, then runc spec;
    process /bin/true, no terminal, read-only root."""
    tried = []
    for rt in (OCI, "crun", "runc"):
        d = os.path.join(tmp, f"spec-{runtime_label(rt)}")
        os.makedirs(d)
        try:
            r = sh([rt, "spec"], cwd=d)
        except OSError as e:
            tried.append({"command": f"{runtime_label(rt)} spec", "error": str(e)})
            continue
        cfg = os.path.join(d, "config.json")
        if r.returncode or not os.path.exists(cfg):
            tried.append({"command": f"{runtime_label(rt)} spec", "exit_status": r.returncode,
                          "error": text(r)})
            continue
        c = json.load(open(cfg))
        c["process"]["args"], c["process"]["terminal"] = ["/bin/true"], False
        c["root"]["readonly"] = True
        tried.append({"command": f"{runtime_label(rt)} spec", "exit_status": 0, "error": None})
        return c, {"from": f"{runtime_label(rt)} spec", "tried": tried,
                   "changed": "process.args [\"/bin/true\"], process.terminal false, "
                              "root.readonly true"}
    raise SystemExit(f"bench: oci: no runtime gave a config.json: {tried}")


def part(name, fn, empty):
    """One part; an error in it is kept in the result (and ends nothing else)."""
    try:
        return fn()
    except (Exception, SystemExit):  # kept as evidence; the other parts still run
        ev = traceback.format_exc()
        log(f"{name} failed: {ev}")
        if isinstance(empty, tuple):
            return {"error": ev}, []
        return {"error": ev}


def main():
    env_name, out_path = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        raise SystemExit("bench: oci.py needs root (rootful podman, arrow-oci's cgroups)")
    tmp = tempfile.mkdtemp(prefix="ao-", dir="/tmp")
    TMP_NAMES[tmp] = "TMP"
    aroot = tempfile.mkdtemp(prefix="ax", dir="/tmp")
    arrow_env = dict(os.environ, ARROW_ROOT=aroot)
    pm = None
    try:
        versions = {"arrow-oci": version([OCI, "--version"]),
                    "podman": version(["podman", "--version"]),
                    "conmon": version(["conmon", "--version"]),
                    "crun": version(["crun", "--version"]),
                    "runc": version(["runc", "--version"]),
                    "busybox": version([BUSYBOX]).split(" multi-call")[0]}
        cgroup_fs = sh(["stat", "-f", "-c", "%T", "/sys/fs/cgroup"]).stdout.decode().strip()
        bpf = os.path.exists("/proc/sys/kernel/unprivileged_bpf_disabled")
        pm = Podman(tmp)
        log("podman run --rm IMG /bin/true")
        pr, peers = part("podman run", lambda: podman_true(tmp, pm, arrow_env), ({}, []))
        # one idle container per runtime, as it ran in part 1 (arrow-oci: with its cgroup)
        peers_for_mem, seen = [], set()
        for p in peers:
            if p.ok and p.runtime and p.runtime not in seen:
                seen.add(p.runtime)
                peers_for_mem.append(p)
        log("memory per idle container")
        mem = part("memory", lambda: memory(pm, peers_for_mem, arrow_env), {})
        log("create → start → delete")
        lc = part("lifecycle", lambda: lifecycle(tmp, *spec_config(tmp)), {})
        write_result(out_path, {"environment": env_name, "versions": versions,
                                "cgroup_fs": cgroup_fs, "kernel_has_bpf_syscall": bpf,
                                "podman_run": pr, "lifecycle": lc, "memory": mem,
                                # where the cold boot happens (docs/oci.md, "How it works")
                                "arrow_oci_boots_at": "create",
                                "template_clone": "not offered for OCI containers: arrowh "
                                "refuses to snapshot an Arrow with a live-shared rootfs "
                                "(docs/oci.md, \"Limits\"), so arrow-oci always cold-boots"})
    finally:
        if pm:
            pm.cleanup()
        ids = sh([ARROW, "ps", "-aq"], env=arrow_env).stdout.decode().split()
        if ids:
            sh([ARROW, "rm", "-f", *ids], env=arrow_env)
        shutil.rmtree(aroot, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
