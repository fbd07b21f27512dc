#!/usr/bin/python3
"""Boot-to-app and memory of arrowh vs QEMU microvm, same kernel, same initramfs, same run;
boot-to-app also against an OCI container runtime (crun, else runc) running the same static
binary from a bundle, and against a plain exec of it.

End events: both VMMs are timed from launch until ainit's EXIT record (the app exited)
reaches them. QEMU's arrow.control port is a unix socket this script reads live: the clock
stops when the EXIT record arrives, then QEMU is killed. For arrowh the record's arrival
comes from `--timing` (its CLOCK_MONOTONIC, the same clock as this script's); `arrow run`'s
wall time (until arrowh has exited, just after the record) is kept as well, a conservative
figure for arrowh. Native exec and the container runtime end when the process exits.

VM exits: KVM's own per-vCPU counters (exits by reason) at the first KVM_RUN and when
ainit's HELLO, EXEC and EXIT records arrive, per phase (kernel = start→HELLO, ainit =
HELLO→EXEC, app = EXEC→EXIT): arrowh reads them from each vCPU's KVM_GET_STATS_FD
(`--timing` prints them), QEMU gives the same counters through QMP query-stats (QEMU is
paused with QMP `stop` as each record arrives, read, then resumed). Measured for an arrowh
cold boot, an arrowh clone of a template (`arrow run --from`) and QEMU microvm.

Memory: one idle Arrow (tests/guest/sigwait) and one idle QEMU, per mapping of
/proc/PID/smaps with guest RAM apart; for arrowh both of its processes, the supervisor that
`arrow run` execs and its jailed VMM child (src/vmm/jail.h), the supervisor's share apart.

Runs where /dev/kvm boots a standard guest (natively, or inside the machine-mode helper VM:
bench/run.sh picks). Writes one JSON result file; bench/report.py turns results into
docs/performance.md.

    bench/boot.py ENVIRONMENT-NAME OUTPUT.json
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import qemu_peer
import stamp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The build measured: $ARROW_BENCH_BUILD, where bench/run.sh copies build/ inside the helper
# VM (its own tmpfs), else build/ here. In the helper the working directory is an uncached
# 9p share while QEMU's binary comes from the cached host-root share: without the copy
# every `arrow run` would read arrow, arrowh, the kernel and the app over 9p, a cost an
# installed Arrow does not have and QEMU's side of the comparison did not pay.
BUILD = os.environ.get("ARROW_BENCH_BUILD") or os.path.join(ROOT, "build")
ARROW = os.path.join(BUILD, "bin/arrow")
ARROWH = os.path.join(BUILD, "bin/arrowh")
KERNEL = os.path.join(BUILD, "lib/arrow/vmlinux")
HELLO = os.path.join(BUILD, "tests/guest/hello")
SIGWAIT = os.path.join(BUILD, "tests/guest/sigwait")
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
COUNT_RUNS = int(os.environ.get("BENCH_COUNT_RUNS", "5"))
TIMEOUT = 120
MEM_MIB = 128
MAX_REPLACED = 5
CMDLINE = qemu_peer.CMDLINE
HELLO_OUT = b"hello from an Arrow\n"
# KVM's x86 vCPU counters compared (the names of the kernel's binary stats)
COUNTERS = ["exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits", "signal_exits",
            "insn_emulation", "hypercalls", "irq_window_exits", "request_irq_exits", "pf_taken"]
PHASES = {"kernel": ("start", "hello"), "ainit": ("hello", "exec"), "resume": ("start", "exec"),
          "app": ("exec", "exit"), "to_app": ("start", "exec"), "total": ("start", "exit")}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def now_ns():
    """CLOCK_MONOTONIC, the clock arrowh's --timing marks use."""
    return time.monotonic_ns()


def capture_initramfs(program, dest):
    """The exact initramfs `arrow run PROGRAM` would boot, as one file."""
    env = dict(os.environ, ARROW_ARROWH=os.path.join(ROOT, "bench/capture-arrowh.sh"),
               CAPTURE_INITRAMFS=dest)
    subprocess.run([ARROW, "run", "--network", "none", program], env=env, check=True)


def qemu_cmd(initramfs, out, ctl, ctl_socket=False, qmp=None, paused=False):
    """QEMU microvm booting the same kernel and initramfs as arrowh (bench/qemu_peer.py)."""
    return qemu_peer.qemu_cmd(KERNEL, initramfs, out, ctl, mem_mib=MEM_MIB,
                              ctl_socket=ctl_socket, qmp=qmp, paused=paused)


def version(program):
    return subprocess.run([program, "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]


def oci_bundle(tmp):
    """An OCI bundle whose rootfs holds only the hello binary; config from `runc spec`-style
    defaults (namespaces, read-only root), process /hello."""
    bundle = os.path.join(tmp, "bundle")
    os.makedirs(os.path.join(bundle, "rootfs"))
    shutil.copy(HELLO, os.path.join(bundle, "rootfs/hello"))
    return bundle


def container_runtime(tmp):
    """(runtime, bundle, None) for the first of crun and runc that runs the bundle, else
    (None, None, why not)."""
    bundle = oci_bundle(tmp)
    why = []
    for rt in ("crun", "runc"):
        if not shutil.which(rt):
            why.append(f"{rt} is not installed")
            continue
        cfg = os.path.join(bundle, "config.json")
        if os.path.exists(cfg):
            os.unlink(cfg)
        spec = subprocess.run([rt, "spec"], cwd=bundle, capture_output=True)
        if spec.returncode:
            why.append(f"{rt} spec: {spec.stderr.decode().strip()}")
            continue
        c = json.load(open(cfg))
        c["process"]["args"], c["process"]["terminal"] = ["/hello"], False
        c["root"]["readonly"] = True
        json.dump(c, open(cfg, "w"))
        r = subprocess.run([rt, "run", "--bundle", bundle, "bench-probe"], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=TIMEOUT)
        if r.returncode == 0 and r.stdout == HELLO_OUT:
            return rt, bundle, None
        why.append(f"{rt} run: {(r.stderr or r.stdout).decode(errors='replace').strip()}")
    return None, None, "; ".join(why)


def decode_records(data):
    """ainit's 24-byte control records (src/common/protocol.h) in data: (type, arg, value)."""
    return qemu_peer.control_records(data)


def control_marks(path):
    """Guest clock (ms) of ainit's HELLO/EXEC/EXIT records in a control-port capture."""
    return {typ: value / 1e6 for typ, _, value in decode_records(open(path, "rb").read())}


def tail(data, lines=12):
    if isinstance(data, bytes):
        data = data.decode(errors="replace")
    return data.splitlines()[-lines:]


def timed(cmd, **kw):
    """Run cmd to completion; a boot that hangs fails the benchmark instead of stalling it."""
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, **kw)
    return time.perf_counter() - t, r


def run_with_evidence(cmd, timeout=TIMEOUT, **kw):
    """Run cmd; on a timeout interrupt it three times (arrowh then stops the Arrow and
    prints where each vCPU was) and keep what it said. (seconds, CompletedProcess or None,
    evidence or None)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for _ in range(3):
            p.send_signal(signal.SIGINT)
            time.sleep(0.5)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        return time.perf_counter() - t, None, {
            "command": " ".join(os.path.basename(c) if c.startswith(ROOT) else c for c in cmd),
            "seen": f"no exit within {timeout} s; interrupted 3 times",
            "exit_status": p.returncode, "stderr_tail": tail(err, 20), "stdout_tail": tail(out)}
    return time.perf_counter() - t, subprocess.CompletedProcess(cmd, p.returncode, out, err), None


def summary(samples):
    samples = sorted(samples)
    return {"median_ms": round(statistics.median(samples) * 1000, 1),
            "min_ms": round(samples[0] * 1000, 1), "max_ms": round(samples[-1] * 1000, 1),
            "stdev_ms": round(statistics.pstdev(samples) * 1000, 1), "runs": len(samples)}


def write_result(path, result):
    """Stamp a result (bench/stamp.py), write it atomically and show it."""
    result = {"stamp": stamp.stamp(result.get("environment")), **result}
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(path + ".tmp", path)
    print(json.dumps(result, indent=2))


def smaps_kib(pid, guest_bytes):
    """Rss, Pss and private (clean + dirty) in KiB from /proc/PID/smaps, per mapping, summed
    for the whole process and for guest RAM. Guest RAM is the one mapping of exactly
    guest_bytes (QEMU), or the run of mappings arrowh marked MADV_DONTFORK + MADV_DONTDUMP
    ("dc", "dd"): its kernel pages are file-backed pieces inside the anonymous guest-RAM
    mapping."""
    vmas, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = {"lo": lo, "hi": hi, "rss": 0, "pss": 0, "private": 0, "flags": []}
                vmas.append(cur)
            elif parts[0] == "Rss:":
                cur["rss"] = int(parts[1])
            elif parts[0] == "Pss:":
                cur["pss"] = int(parts[1])
            elif parts[0] in ("Private_Clean:", "Private_Dirty:"):
                cur["private"] += int(parts[1])
            elif parts[0] == "VmFlags:":
                cur["flags"] = parts[1:]
    ram = [v for v in vmas if v["hi"] - v["lo"] == guest_bytes][:1]
    if not ram:
        marked = [v for v in vmas if "dc" in v["flags"] and "dd" in v["flags"]]
        if not marked:
            raise SystemExit(f"bench: cannot find the guest RAM of process {pid}")
        lo = marked[0]["lo"]
        ram = [v for v in vmas if lo <= v["lo"] and v["hi"] <= lo + guest_bytes]
        if sum(v["hi"] - v["lo"] for v in ram) != guest_bytes:
            raise SystemExit(f"bench: the guest RAM of process {pid} is not where expected")
    res = {}
    for key in ("rss", "pss", "private"):
        total, guest = sum(v[key] for v in vmas), sum(v[key] for v in ram)
        res[f"{key}_kib"] = total
        res[f"guest_ram_{key}_kib"] = guest
        res[f"vmm_{key}_kib"] = total - guest
    return res


def rollup_kib(pid):
    """Rss, Pss and private (clean + dirty) of one whole process, KiB (/proc/PID/smaps_rollup)."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1])
    return {"rss_kib": fields["Rss"], "pss_kib": fields["Pss"],
            "private_kib": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


def children(pid):
    """The pids of pid's children: /proc/PID/task/*/children where the kernel has it
    (CONFIG_PROC_CHILDREN; the helper VM's kernel does not), else every /proc/N/stat whose
    parent is pid."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    if os.path.exists(f"/proc/{pid}/task/{tasks[0]}/children"):
        kids = []
        for t in tasks:
            try:
                kids += [int(c) for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
            except OSError:
                pass
        return kids
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:  # "pid (comm) state ppid ...": comm may hold spaces and parentheses
                if int(open(f"/proc/{name}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def vmm_of(pid):
    """The VMM of the arrowh whose first process is pid: a root-started arrowh is a
    supervisor (pid) and a jailed VMM child forked from it (src/vmm/jail.h), which runs
    arrowh's code too; with --no-sandbox, or an arrowh from before the jail, pid itself."""
    kids = []
    for c in children(pid):
        try:
            if open(f"/proc/{c}/comm").read().strip() == "arrowh":
                kids.append(c)
        except OSError:
            pass
    if len(kids) > 1:
        raise SystemExit(f"bench: arrowh {pid} has more than one arrowh child: {kids}")
    return kids[0] if kids else pid


def arrowh_memory(pid, vmm, guest_bytes):
    """The host memory of one Arrow: smaps_kib() of its VMM process (which holds guest RAM
    and the devices), plus its supervisor's whole process when jailed (pid != vmm).
    pss/rss/private_kib: both processes; guest_ram_*: guest RAM in the VMM process;
    vmm_*: everything of arrowh except guest RAM, both processes (the VMM's own cost next to
    QEMU's); supervisor_*: the supervisor's share of the totals (0: not jailed, one process).
    RSS counts pages shared between the two in each (context only)."""
    res = smaps_kib(vmm, guest_bytes)
    sup = rollup_kib(pid) if pid != vmm else {"rss_kib": 0, "pss_kib": 0, "private_kib": 0}
    for key in ("rss", "pss", "private"):
        res[f"{key}_kib"] += sup[f"{key}_kib"]
        res[f"vmm_{key}_kib"] += sup[f"{key}_kib"]
        res[f"supervisor_{key}_kib"] = sup[f"{key}_kib"]
    res["jailed"] = pid != vmm
    res["processes"] = 2 if pid != vmm else 1
    return res


def wait_for(path, needle, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if needle in open(path, "rb").read():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def memory(tmp):
    """Idle Arrow vs idle QEMU: PSS, private and RSS, with and without guest RAM; for arrowh
    both of its processes (arrowh_memory), the supervisor's share apart."""
    res = {}
    log("memory: arrowh")
    out = os.path.join(tmp, "arrow-mem.out")
    p = subprocess.Popen([ARROW, "run", "--network", "none", "--memory", str(MEM_MIB),
                          SIGWAIT],
                         stdin=subprocess.DEVNULL, stdout=open(out, "wb"),
                         stderr=subprocess.DEVNULL)
    if not wait_for(out, b"ready"):
        p.kill()
        raise SystemExit("bench: the idle Arrow did not come up")
    time.sleep(0.5)
    # `arrow run` execs arrowh: p.pid is its supervisor, the VMM its child
    res["arrowh"] = arrowh_memory(p.pid, vmm_of(p.pid), MEM_MIB << 20)
    p.terminate()
    p.wait(timeout=120)

    log("memory: QEMU")
    initramfs = os.path.join(tmp, "sigwait.cpio")
    capture_initramfs(SIGWAIT, initramfs)
    out, ctl = os.path.join(tmp, "mem.out"), os.path.join(tmp, "mem.ctl")
    q = subprocess.Popen(qemu_cmd(initramfs, out, ctl), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if wait_for(out, b"ready"):
        time.sleep(0.5)
        res["qemu"] = smaps_kib(q.pid, MEM_MIB << 20)
    q.kill()
    q.wait()
    return res


# ---- arrowh: `arrow run --timing` and what it prints --------------------------------------

def parse_timing(stderr):
    """The --timing output of arrowh: phase rows (ms), the guest clock at ainit, the marks
    (CLOCK_MONOTONIC ns, 0 = not reached) and KVM's counters per phase."""
    res = {"phases": {}, "marks": {}, "kvm": {}, "kvm_note": None, "guest_hello_ms": None,
           "prefaulted_pages": None, "prefault_note": None}
    for line in stderr.decode(errors="replace").splitlines():
        if "resident guest pages mapped before the first KVM_RUN" in line:
            res["prefaulted_pages"] = int(line.split("(")[1].split()[0])
            res["prefaulted_kernel_pages"] = int(line.split("kernel file's")[1].strip(" )"))
        elif "no guest pages mapped before the first KVM_RUN" in line:
            res["prefault_note"] = line.strip(" ()")
        elif "guest clock at ainit start" in line:
            res["guest_hello_ms"] = float(line.split(":")[1].split()[0])
        elif line.startswith("arrowh-marks:"):
            res["marks"] = {k: int(v) for k, v in
                            (f.split("=", 1) for f in line.split()[1:])}
        elif line.startswith("arrowh-kvmstats:"):
            parse_kvmstats_line(line, res)
        elif line.startswith("  ") and line.rstrip().endswith(" ms"):
            res["phases"][line.rsplit(None, 2)[0].strip()] = float(line.split()[-2])
    return res


def parse_kvmstats_line(line, res):
    body = line.split(":", 1)[1].strip()
    if body.startswith(("unavailable", "note=")):
        res["kvm_note"] = body
        return
    fields = dict(f.split("=", 1) for f in body.split() if "=" in f)
    if "phase" not in fields:
        return
    if "missing" in fields:
        res["kvm"][fields["phase"]] = {"missing": fields["missing"]}
        return
    res["kvm"][fields["phase"]] = {c: (int(fields[c]) if fields.get(c, "-") != "-" else None)
                                   for c in COUNTERS}


def arrow_boot(args, env=None):
    """One `arrow run --timing ARGS` of the hello: (sample, None) or (None, evidence)."""
    cmd = [ARROW, "run", "--timing", *args]
    t0 = now_ns()
    dt, r, evidence = run_with_evidence(cmd, stdin=subprocess.DEVNULL, env=env)
    if evidence:
        return None, evidence
    if r.returncode or r.stdout != HELLO_OUT:
        return None, {"command": " ".join(cmd[1:]), "seen": "wrong result",
                      "exit_status": r.returncode, "stdout_tail": tail(r.stdout),
                      "stderr_tail": tail(r.stderr, 20)}
    t = parse_timing(r.stderr)
    m = t["marks"]
    sample = {"wall_s": dt, "phases": t["phases"], "guest_hello_ms": t["guest_hello_ms"],
              "kvm": t["kvm"], "kvm_note": t["kvm_note"],
              "prefaulted_pages": t["prefaulted_pages"], "prefault_note": t["prefault_note"],
              "prefaulted_kernel_pages": t.get("prefaulted_kernel_pages")}
    for mark in ("hello", "exec", "exit", "stop"):
        # from this script's launch of `arrow run` (same clock as arrowh's marks)
        # stop: arrowh's run loop ended (before its teardown and, jailed, the supervisor's)
        sample[f"launch_to_{mark}_s"] = (m[mark] - t0) / 1e9 if m.get(mark) else None
    if m.get("exit") and m.get("t0"):
        sample["cli_to_exit_s"] = (m["exit"] - m["t0"]) / 1e9
    return sample, None


# ---- QEMU: the control port read live, QMP for KVM's counters ------------------------------

class Qmp:
    """A minimal QMP client over a unix socket."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(max(1.0, deadline - time.monotonic()))
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self.f = self.sock.makefile("rb")
        json.loads(self.f.readline())  # the greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, args=None):
        """The command's return value; raises RuntimeError with QEMU's error."""
        msg = {"execute": name, **({"arguments": args} if args else {})}
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError(f"QMP closed during {name}")
            reply = json.loads(line)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise RuntimeError(f"{name}: {reply['error'].get('desc', reply['error'])}")
            # an event: skip it

    def stats(self):
        """KVM's vCPU counters through query-stats, summed over vCPUs."""
        ret = self.cmd("query-stats", {"target": "vcpu",
                                       "providers": [{"provider": "kvm", "names": COUNTERS}]})
        total = {c: None for c in COUNTERS}
        for entry in ret:
            for s in entry.get("stats", []):
                if s.get("name") in total and isinstance(s.get("value"), int):
                    total[s["name"]] = (total[s["name"]] or 0) + s["value"]
        return total

    def close(self):
        self.sock.close()


def qemu_boot(initramfs, tmp, count=False):
    """One QEMU microvm boot of the hello, timed from launch until ainit's EXIT record
    arrives on the control socket; with count, started paused (-S), KVM's counters read
    through QMP at the start and (paused with `stop`) at each record. (sample, None) or
    (None, evidence)."""
    out, sock_path = os.path.join(tmp, "q.out"), os.path.join(tmp, "q.ctl.sock")
    qmp_path, err_path = os.path.join(tmp, "q.qmp"), os.path.join(tmp, "q.err")
    for f in (out, sock_path, qmp_path):
        if os.path.exists(f):
            os.unlink(f)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    listener.settimeout(TIMEOUT)
    arrivals, guest, stats, seen, qmp, conn = {}, {}, {}, [], None, None
    coalesced = []
    t0 = now_ns()
    deadline = time.monotonic() + TIMEOUT
    q = subprocess.Popen(qemu_cmd(initramfs, out, sock_path, ctl_socket=True,
                                  qmp=qmp_path if count else None, paused=count),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=open(err_path, "wb"))
    why = None
    try:
        conn, _ = listener.accept()
        if count:
            qmp = Qmp(qmp_path, deadline)
            stats["start"] = qmp.stats()
            qmp.cmd("cont")
        buf = b""
        while "exit" not in arrivals:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            data = conn.recv(4096)
            t = now_ns()
            if not data:
                why = "the control socket closed before the EXIT record"
                break
            buf += data
            recs = decode_records(buf[:len(buf) - len(buf) % 24])
            buf = buf[len(buf) - len(buf) % 24:]
            if len(recs) > 1:
                coalesced.append([r[0] for r in recs])
            for typ, arg, value in recs:
                seen.append(typ)
                if typ in ("hello", "exec", "exit") and typ not in arrivals:
                    arrivals[typ], guest[typ] = t, value
                    if qmp:
                        qmp.cmd("stop")
                        stats[typ] = qmp.stats()
                        if typ != "exit":
                            qmp.cmd("cont")
    except (OSError, RuntimeError, ValueError) as e:  # socket.timeout is an OSError
        why = f"{type(e).__name__}: {e}"
    finally:
        q.kill()
        q.wait()
        for s in (conn, listener):
            if s:
                s.close()
        if qmp:
            qmp.close()
    output = open(out, "rb").read() if os.path.exists(out) else b""
    if why is None and output != HELLO_OUT:
        why = "wrong output"
    if why:
        return None, {"command": "qemu-system-x86_64 -M microvm ... (hello)", "seen": why,
                      "records_seen": seen, "exit_status": q.returncode,
                      "stdout_tail": tail(output),
                      "stderr_tail": tail(open(err_path, "rb").read(), 20)}
    sample = {f"launch_to_{k}_s": (v - t0) / 1e9 for k, v in arrivals.items()}
    sample["guest_hello_ms"] = guest["hello"] / 1e6 if "hello" in guest else None
    if count:
        sample["kvm"] = phases_from_marks(stats, restored=False)
        sample["kvm_marks"] = stats
    if coalesced:
        sample["records_in_one_read"] = coalesced
    return sample, None


def phases_from_marks(marks, restored):
    """Cumulative counters at start/hello/exec/exit -> the same phases arrowh prints."""
    names = (["resume"] if restored else ["kernel", "ainit"]) + ["app", "to_app", "total"]
    res = {}
    for name in names:
        a, b = PHASES[name]
        if a not in marks or b not in marks:
            res[name] = {"missing": b if a in marks else a}
            continue
        res[name] = {c: (marks[b][c] - marks[a][c]
                         if marks[b][c] is not None and marks[a][c] is not None else None)
                     for c in COUNTERS}
    return res


def qemu_stats_available(initramfs, tmp):
    """None if QMP query-stats gives KVM's vCPU counters, else why not."""
    qmp_path = os.path.join(tmp, "probe.qmp")
    q = subprocess.Popen(qemu_cmd(initramfs, "/dev/null", "/dev/null", qmp=qmp_path,
                                  paused=True),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        qmp = Qmp(qmp_path, time.monotonic() + 30)
        st = qmp.stats()
        qmp.close()
        if all(v is None for v in st.values()):
            return "query-stats returned none of the counters"
        return None
    except (OSError, RuntimeError, ValueError) as e:
        return f"QMP query-stats failed: {e}"
    finally:
        q.kill()
        q.wait()


# ---- counting: medians of the per-phase counters -----------------------------------------

def count_summary(samples, source, restored=False, note=None):
    """Per phase and counter: median, min and max over the runs."""
    res = {"source": source, "runs": len(samples), "phases": {}}
    if note:
        res["note"] = note
    names = (["resume"] if restored else ["kernel", "ainit"]) + ["app", "to_app", "total"]
    for name in names:
        per = [s["kvm"].get(name, {}) for s in samples if s.get("kvm")]
        missing = sum(1 for p in per if "missing" in p or not p)
        row = {}
        for c in COUNTERS:
            vals = [p[c] for p in per if p.get(c) is not None]
            if vals:
                row[c] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
                          "n": len(vals)}
            else:
                row[c] = None
        if missing:
            row["runs_missing_a_mark"] = missing
        res["phases"][name] = row
    return res


def make_template(env):
    r = subprocess.run([ARROW, "template", "create", "bench-hello", "--network", "none",
                        "--memory", str(MEM_MIB), HELLO], env=env, capture_output=True,
                       timeout=TIMEOUT)
    if r.returncode:
        raise SystemExit(f"bench: template create failed: {r.stderr.decode()}")


class Replacements:
    """Runs that failed and were run again, with what was seen; too many fail the bench."""

    def __init__(self):
        self.runs = []

    def add(self, peer, run, evidence):
        log(f"{peer} run {run} failed ({evidence.get('seen')}); running it again")
        for line in evidence.get("stderr_tail", [])[-6:]:
            log(f"  | {line}")
        self.runs.append({"peer": peer, "run": run, **evidence})
        # docs/machine.md: once a helper session has an Arrow that never ran guest code,
        # later boots there tend to stall too; retrying in it only wastes time
        if sum(1 for r in self.runs[-2:] if any("never ran guest code" in line for line in
                                                r.get("stderr_tail", []))) == 2:
            raise SystemExit("bench: two Arrows in a row never ran guest code: this helper VM "
                             f"session is bad (docs/machine.md); start a new one: {self.runs}")
        if len(self.runs) > MAX_REPLACED:
            raise SystemExit(f"bench: more than {MAX_REPLACED} failed runs: {self.runs}")

    def retry(self, peer, run, fn):
        while True:
            sample, evidence = fn()
            if sample:
                return sample
            self.add(peer, run, evidence)


def boot_section(arrow_runs, qemu_runs):
    """Times with equal end events (launch -> EXIT record) and the conservative wall."""
    pairs = [(a["launch_to_exit_s"], q["launch_to_exit_s"]) for a, q in zip(arrow_runs, qemu_runs)
             if a.get("launch_to_exit_s") and q.get("launch_to_exit_s")]
    a_exit = [a for a, _ in pairs]
    q_exit = [q for _, q in pairs]
    wall = [a["wall_s"] for a in arrow_runs]
    res = {
        "end_event": "ainit's EXIT record reaches the VMM (arrowh: its --timing mark; QEMU: "
                     "read live from the control socket, then QEMU is killed)",
        "launch_to_exit_record": {"arrowh": summary(a_exit), "qemu microvm": summary(q_exit)},
        "ratio_of_medians": round(statistics.median(a_exit) / statistics.median(q_exit), 3),
        "pair_ratio_median": round(statistics.median(a / q for a, q in pairs), 3),
        "arrow_run_wall": summary(wall),
        "arrow_run_wall_vs_qemu_exit_record": round(
            statistics.median(wall) / statistics.median(q_exit), 3),
    }
    for mark in ("hello", "exec"):
        a = [r[f"launch_to_{mark}_s"] for r in arrow_runs if r.get(f"launch_to_{mark}_s")]
        q = [r[f"launch_to_{mark}_s"] for r in qemu_runs if r.get(f"launch_to_{mark}_s")]
        if a and q:
            res[f"launch_to_{mark}_record"] = {"arrowh": summary(a), "qemu microvm": summary(q)}
    cli = [r["cli_to_exit_s"] for r in arrow_runs if r.get("cli_to_exit_s")]
    if cli:
        res["arrowh_cli_start_to_exit_record"] = summary(cli)
    return res


def prefault_section(on, off):
    """The same cold boot with and without the stage-2 prefault, alternating in one run."""
    pairs = [(a["launch_to_exit_s"], b["launch_to_exit_s"]) for a, b in zip(on, off)
             if a.get("launch_to_exit_s") and b.get("launch_to_exit_s")]
    pages = [r["prefaulted_pages"] for r in on if r.get("prefaulted_pages") is not None]
    kpages = [r["prefaulted_kernel_pages"] for r in on
              if r.get("prefaulted_kernel_pages") is not None]
    if not pairs:
        return None
    return {
        "launch_to_exit_record": {"prefault": summary([a for a, _ in pairs]),
                                  "ARROW_PREFAULT=0": summary([b for _, b in pairs])},
        "ratio_of_medians": round(statistics.median(a for a, _ in pairs)
                                  / statistics.median(b for _, b in pairs), 3),
        "pair_ratio_median": round(statistics.median(a / b for a, b in pairs), 3),
        "pages_mapped_median": statistics.median(pages) if pages else None,
        "kernel_file_pages_mapped_median": statistics.median(kpages) if kpages else None,
        "not_mapped": sorted({r["prefault_note"] for r in on if r.get("prefault_note")}),
    }


def main():
    env_name, output = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="arrow-bench.")
    initramfs = os.path.join(tmp, "hello.cpio")
    capture_initramfs(HELLO, initramfs)
    replaced = Replacements()

    runtime, bundle, runtime_why = container_runtime(tmp)
    if runtime_why:
        log(f"no container peer: {runtime_why}")

    # one warm-up each, then alternate so that drift hits every peer alike
    arrow_boot(["--network", "none", HELLO])
    qemu_boot(initramfs, tmp)
    timed([HELLO])
    arrow_runs, qemu_runs, native_s, container_s, noprefault_runs = [], [], [], [], []
    noprefault_env = dict(os.environ, ARROW_PREFAULT="0")
    for i in range(RUNS):
        log(f"boot run {i + 1}/{RUNS}")
        dt, r = timed([HELLO])
        assert r.stdout == HELLO_OUT, r
        native_s.append(dt)
        if runtime:
            dt, r = timed([runtime, "run", "--bundle", bundle, f"bench-{i}"],
                          stdin=subprocess.DEVNULL)
            assert r.stdout == HELLO_OUT, r
            container_s.append(dt)
        arrow_runs.append(replaced.retry("arrowh", i + 1,
                                         lambda: arrow_boot(["--network", "none", HELLO])))
        qemu_runs.append(replaced.retry("qemu microvm", i + 1,
                                        lambda: qemu_boot(initramfs, tmp)))
        # what the stage-2 prefault of resident pages (docs/performance.md) saves: the same
        # arrowh with it turned off, in the same rounds
        noprefault_runs.append(replaced.retry(
            "arrowh, ARROW_PREFAULT=0", i + 1,
            lambda: arrow_boot(["--network", "none", HELLO], noprefault_env)))

    # VM exits: arrowh's cold boots above carry them; clones and QEMU (paused at each
    # record, which the timed runs must not be) are counted in runs of their own
    log(f"exit counts: {COUNT_RUNS} arrowh clones, {COUNT_RUNS} QEMU boots")
    senv = dict(os.environ, ARROW_ROOT=os.path.join(tmp, "root"),
                ARROW_SNAPSHOTS=os.path.join(tmp, "snapshots"))
    make_template(senv)
    clone_runs = [replaced.retry("arrowh clone", i + 1,
                                 lambda: arrow_boot(["--rm", "--from", "bench-hello"], senv))
                  for i in range(COUNT_RUNS + 1)][1:]  # the first warms the page cache
    qemu_why = qemu_stats_available(initramfs, tmp)
    qemu_counted = []
    if qemu_why:
        log(f"no QEMU exit counts: {qemu_why}")
    else:
        qemu_counted = [replaced.retry("qemu microvm (counting)", i + 1,
                                       lambda: qemu_boot(initramfs, tmp, count=True))
                        for i in range(COUNT_RUNS)]

    arrow_hello = [r["guest_hello_ms"] for r in arrow_runs if r.get("guest_hello_ms")]
    qemu_hello = [r["guest_hello_ms"] for r in qemu_runs if r.get("guest_hello_ms")]
    phases = {}
    for r in arrow_runs:
        for name, value in r["phases"].items():
            phases.setdefault(name, []).append(value)
    boot = boot_section(arrow_runs, qemu_runs)
    qemu_note = ("QEMU started paused (-S); at each record QMP `stop`, query-stats, `cont`: "
                 "each stop or query kicks the vCPU out of the guest, so every mark after "
                 "the start may add one exit (seen as signal_exits/irq_exits) that arrowh's "
                 "in-process reads do not have")
    result = {
        "environment": env_name,
        "guest_memory_mib": MEM_MIB,
        "boot": boot,
        "end_to_end": {"arrowh to EXIT record": boot["launch_to_exit_record"]["arrowh"],
                       "qemu microvm to EXIT record": boot["launch_to_exit_record"]["qemu microvm"],
                       "arrow run": boot["arrow_run_wall"],
                       "native exec": summary(native_s)},
        "pair_ratio_median": boot["pair_ratio_median"],
        "container": ({"runtime": runtime, "version": version(runtime), **summary(container_s)}
                      if runtime else {"runtime": None, "why": runtime_why}),
        "guest_clock_at_ainit_ms": {
            "arrowh": round(statistics.median(arrow_hello), 1) if arrow_hello else None,
            "qemu microvm": round(statistics.median(qemu_hello), 1) if qemu_hello else None},
        "arrow_phases_median_ms": {k: round(statistics.median(v), 1) for k, v in phases.items()},
        "prefault": prefault_section(arrow_runs, noprefault_runs),
        "exit_counts": {
            "counters": COUNTERS,
            "arrowh cold": count_summary(arrow_runs, "KVM_GET_STATS_FD, read by arrowh"),
            "arrowh cold, no prefault": count_summary(
                noprefault_runs, "KVM_GET_STATS_FD, read by arrowh; ARROW_PREFAULT=0"),
            "arrowh clone": count_summary(clone_runs, "KVM_GET_STATS_FD, read by arrowh",
                                          restored=True),
            "qemu microvm": (count_summary(qemu_counted, "QMP query-stats (target vcpu, "
                                           "provider kvm)", note=qemu_note)
                             if not qemu_why else {"unavailable": qemu_why}),
            "clone_times": {"launch_to_exit_record": summary(
                [r["launch_to_exit_s"] for r in clone_runs if r.get("launch_to_exit_s")]),
                            "arrow_run_wall": summary([r["wall_s"] for r in clone_runs])},
        },
        "memory": memory(tmp),
        "replaced_runs": replaced.runs,
        "binary_sizes": {"arrowh": os.path.getsize(ARROWH), "vmlinux": os.path.getsize(KERNEL),
                         "initramfs_hello": os.path.getsize(initramfs)},
    }
    # HELLO and EXEC in one read: QEMU was stopped only after both, so its HELLO mark is late
    late = sum(1 for r in qemu_counted if r.get("records_in_one_read"))
    if late:
        result["exit_counts"]["qemu microvm"]["runs_with_records_in_one_read"] = late
    notes = [n for r in arrow_runs + clone_runs for n in [r.get("kvm_note")] if n]
    if notes:
        result["exit_counts"]["arrowh_notes"] = sorted(set(notes))
    write_result(output, result)
    # the template's memory file may be immutable (docs/snapshots.md): `template rm` unseals it
    try:
        subprocess.run([ARROW, "template", "rm", "bench-hello"], env=senv, capture_output=True,
                       timeout=120)
    except subprocess.TimeoutExpired:
        log("could not remove the template bench-hello within 120 s")
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
