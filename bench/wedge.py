#!/usr/bin/python3
"""Control experiment for the helper VM's "Known problem" (docs/machine.md): do triple faults,
wedges and early-boot stalls happen to QEMU microvm too, or only to arrowh?

Run INSIDE one helper VM session, it alternates arrowh (through `arrow run`) and QEMU
`-M microvm -accel kvm -cpu host` under the same stresses, with the same kernels, the same
initramfs bytes (captured from `arrow run`), the same guest memory and vCPU count, and
arrowh's kernel command line (reboot=t instead of reboot=k: microvm has no i8042):

  S1  20 concurrent boots of build/tests/guest/hello (--memory 64m), as the
      20-concurrent-starts test does with `arrow run -d`; one round = 20 boots.
  S2  a guest busybox sends 20 MiB over TCP to a host listener on the Arrow network
      (as test_bulk_tcp_from_an_arrow_is_byte_exact); QEMU gets a tap on the same bridge
      and the initramfs of an `arrow run` on that network (same address, same MAC).

Per run: outcome (ok / triple fault / hang / other), duration and, for failures, the
evidence (arrowh's stall report; QEMU's exit, `info registers` and `info lapic` from its
monitor for a hung guest). Results go to a JSON file, rewritten after every run, and a
summary with Wilson 95% intervals to stdout.

    arrow machine --memory 4g -- python3 bench/wedge.py --s1-rounds 2 --s2-runs 30 \\
        --budget-min 60 --host-kernel "$(uname -r)" --host-load "$(cat /proc/loadavg)"
    python3 bench/wedge.py --summarize bench/results/wedge-helper-vm.json
"""
import argparse
import concurrent.futures
import datetime
import hashlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARROW = os.path.join(ROOT, "build/bin/arrow")
LIBDIR = os.path.join(ROOT, "build/lib/arrow")
HELLO = os.path.join(ROOT, "build/tests/guest/hello")
BUSYBOX = "/bin/busybox"
HELLO_OUT = b"hello from an Arrow\n"
CTL_MAGIC = 0x41525257


def wedge_rip():
    """The instruction after `vmrun` in the running helper kernel's __svm_vcpu_run
    (scripts/wedgesig.py; 0xffffffff8136bd4c for the helper kernel of 2026-12-01's first
    stop, 0xffffffffc047dc60 for Debian's packaged 6.12.118+deb12-amd64). -1 (matches no
    rip) when it cannot be found."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from wedgesig import post_vmrun_rip
    rip = post_vmrun_rip()
    return -1 if rip is None else rip


WEDGE_RIP = wedge_rip()
# arrowh's command line (src/vmm/setup.c) without the virtio_mmio.device= entries, which
# microvm adds for its own transports; reboot=t because microvm has no i8042 (reboot=k
# would fall through keyboard, EFI and BIOS attempts before the triple fault)
ARROWH_CMDLINE = "console=hvc0 quiet panic=-1 reboot=k no_timer_check tsc=reliable"
QEMU_CMDLINE = "console=hvc0 quiet panic=-1 reboot=t no_timer_check tsc=reliable"
STREAM_SIZE = 20 * 1024 * 1024
GATEWAY = "10.201.0.1"
TAP = "wtap0"
WORK = "/tmp/wedge-work"
STATE_ROOT = "/tmp/wedge-root"
CAPTURE_ROOT = "/tmp/wedge-capture-root"

CAPTURE_SH = """#!/bin/sh
# stand-in for arrowh: keep its arguments and the initramfs pieces, concatenated in order
set -eu
out=${CAPTURE_INITRAMFS:?}
: >"$out.tmp"
for a in "$@"; do printf '%s\\n' "$a"; done >"$out.args"
while [ $# -gt 0 ]; do
	case $1 in
	--initrd) cat "$2" >>"$out.tmp"; shift 2 ;;
	*) shift ;;
	esac
done
mv "$out.tmp" "$out"
"""


def log(msg):
    print(f"wedge {time.strftime('%H:%M:%S')}: {msg}", file=sys.stderr, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def sh(*cmd, timeout=120, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


def arrow(*args, timeout=300, env=None):
    e = dict(os.environ, ARROW_ROOT=STATE_ROOT, **(env or {}))
    return subprocess.run([ARROW, *args], capture_output=True, timeout=timeout, env=e,
                          stdin=subprocess.DEVNULL)


def tail(text, n=4000):
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return text if len(text) <= n else "..." + text[-n:]


# ---------------------------------------------------------------- statistics

def wilson(k, n, z=1.959964):
    if n == 0:
        return None, None
    p = k / n
    d = 1 + z * z / n
    c = p + z * z / (2 * n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (c - h) / d), min(1.0, (c + h) / d)


def fisher_two_sided(a, b, c, d):
    """Fisher's exact test on [[a, b], [c, d]] (failures, oks per VMM): two-sided p."""
    r1, c1, n = a + b, a + c, a + b + c + d

    def p(x):
        return math.comb(r1, x) * math.comb(n - r1, c1 - x) / math.comb(n, c1)
    p0 = p(a)
    lo, hi = max(0, c1 - (n - r1)), min(r1, c1)
    return min(1.0, sum(p(x) for x in range(lo, hi + 1) if p(x) <= p0 * (1 + 1e-9)))


# ---------------------------------------------------------------- guest evidence

def control_marks(path):
    """ainit's HELLO/EXEC/EXIT records in a control-port capture: {kind: (arg, ms)}."""
    marks = {}
    try:
        data = open(path, "rb").read()
    except OSError:
        return marks
    for off in range(0, len(data) - 23, 24):
        magic, typ, _, arg, _, value = struct.unpack_from("<IHHIIQ", data, off)
        if magic == CTL_MAGIC:
            marks[{1: "hello", 2: "exec", 3: "exit"}.get(typ, str(typ))] = (arg, value / 1e6)
    return marks


def thread_ticks(pid):
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            d = f"/proc/{pid}/task/{tid}"
            st = open(f"{d}/stat").read().rsplit(")", 1)[1].split()
            out[tid] = (open(f"{d}/comm").read().strip(), int(st[11]), int(st[40]), int(st[12]))
        except (OSError, IndexError, ValueError):
            pass
    return out


def cpu_shares(pid, seconds=2.0):
    """Per thread of pid over `seconds`: share of one CPU in guest mode and in the kernel
    (guest_time and stime of /proc/PID/task/TID/stat), as the stream test measures."""
    a = thread_ticks(pid)
    time.sleep(seconds)
    b = thread_ticks(pid)
    hz = os.sysconf("SC_CLK_TCK")
    rows = []
    for tid, (name, ut, gt, st) in b.items():
        if tid in a:
            rows.append({"tid": tid, "name": name,
                         "guest": round((gt - a[tid][2]) / (seconds * hz), 2),
                         "user": round((ut - a[tid][1]) / (seconds * hz), 2),
                         "sys": round((st - a[tid][3]) / (seconds * hz), 2)})
    return {"max_guest_share": max((r["guest"] for r in rows), default=0.0),
            "threads": [r for r in rows if r["guest"] or r["sys"] or r["user"]]}


def alive(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


SYMS = {}


def elf_sections(path):
    """[(start, end, name)] of the allocated sections of an ELF64 file."""
    with open(path, "rb") as f:
        eh = f.read(64)
        shoff, = struct.unpack_from("<Q", eh, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", eh, 0x3a)
        f.seek(shoff)
        raw = f.read(shentsize * shnum)
        hdrs = [struct.unpack_from("<IIQQQQIIQQ", raw, i * shentsize) for i in range(shnum)]
        f.seek(hdrs[shstrndx][4])
        names = f.read(hdrs[shstrndx][5])
    out = []
    for name, _, flags, addr, _, size, *_ in hdrs:
        if flags & 2 and size:
            out.append((addr, addr + size, names[name:names.index(b"\0", name)].decode()))
    return out


def symbol(addr, kernel):
    """Where addr is in this kernel: nearest symbol at or below it, and its section."""
    if addr < 0xffffffff80000000 and not 0x1000000 <= addr < 0x4000000:
        return None  # not the kernel: firmware, reset vector, user space
    if kernel not in SYMS:
        syms = []
        r = subprocess.run(["nm", "-n", kernel], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3:
                syms.append((int(parts[0], 16), parts[2]))
        try:
            secs = elf_sections(kernel)
        except (OSError, struct.error, ValueError, IndexError):
            secs = []
        SYMS[kernel] = (syms, secs)
    syms, secs = SYMS[kernel]
    best = None
    for a, n in syms:
        if a > addr:
            break
        best = (a, n)
    sec = next((n for lo, hi, n in secs if lo <= addr < hi), "no section")
    return (f"{best[1]}+{addr - best[0]:#x}" if best else "?") + f" [{sec}]"


def parse_arrowh_report(text, kernel):
    """rip and state per vCPU from arrowh's stop report or its triple-fault line."""
    out = {}
    m = re.findall(r"vCPU (\d+) stopped at rip (0x[0-9a-f]+) \((\w+), interrupts (\w+), "
                   r"pending vector (-?\d+), in service (-?\d+)\)(; it never ran guest code)?",
                   text)
    if m:
        out["vcpus"] = [{"vcpu": int(v), "rip": r, "state": s, "if": i, "pending": int(p),
                         "in_service": int(q), "never_ran": bool(nr),
                         "wedge_rip": int(r, 16) == WEDGE_RIP, "symbol": symbol(int(r, 16), kernel)}
                        for v, r, s, i, p, q, nr in m]
    e = re.findall(r"exits to arrowh: (\d+) port I/O, (\d+) MMIO \(last at (0x[0-9a-f]+)\), "
                   r"(\d+) signal", text)
    if e:
        out["exits"] = [{"pio": int(a), "mmio": int(b), "last": c, "signal": int(d)}
                        for a, b, c, d in e]
    if "triple fault" in text:
        out["triple_fault_line"] = next(l for l in text.splitlines() if "triple fault" in l)
    return out


class Monitor:
    """QEMU's human monitor on a Unix socket."""

    def __init__(self, path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self._until_prompt()

    def _until_prompt(self):
        buf = b""
        while not buf.endswith(b"(qemu) "):
            c = self.s.recv(65536)
            if not c:
                break
            buf += c
        return buf

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\n")
        text = self._until_prompt().decode(errors="replace")
        text = re.sub(r"\x1b\[[A-Z]|\x1b\[[0-9;]*[A-Za-z]", "", text)
        lines = [l.rstrip("\r") for l in text.splitlines()][1:]  # [0]: the echoed command
        lines = [l for l in lines if l.strip() != line and not l.startswith("(qemu)")]
        return "\n".join(lines).strip()

    def close(self):
        self.s.close()


def stats_delta(a, b):
    """Counters of two `info stats vcpu` outputs that changed between them."""
    def parse(t):
        out = {}
        for m in re.finditer(r"^\s*([a-z_0-9]+) \([^)]*\): (\d+)$", t, re.M):
            out[m.group(1)] = int(m.group(2))
        return out
    pa, pb = parse(a), parse(b)
    return {k: pb[k] - pa[k] for k in pb if k in pa and pb[k] != pa[k]}


def qemu_hang_evidence(pid, mon_path, kernel):
    ev = {"cpu": cpu_shares(pid)}
    try:
        m = Monitor(mon_path)
        ev["status"] = m.cmd("info status")
        rips, regs = [], ""
        for i in range(3):
            regs = m.cmd("info registers")
            r = re.search(r"[RE]IP=([0-9a-f]+)", regs)
            f = re.search(r"[RE]FL=([0-9a-f]+)", regs)
            hlt = re.search(r"HLT=(\d)", regs)
            if r:
                rip = int(r.group(1), 16)
                rips.append({"rip": hex(rip), "if": bool(int(f.group(1), 16) & 0x200) if f else None,
                             "hlt": hlt.group(1) if hlt else None, "symbol": symbol(rip, kernel),
                             "wedge_rip": rip == WEDGE_RIP})
            time.sleep(1)
        ev["rip_samples"] = rips
        ev["registers"] = regs
        ev["lapic"] = m.cmd("info lapic")
        # KVM's binary statistics of the vCPU, twice: which counters move while it hangs
        st1 = m.cmd("info stats vcpu")
        time.sleep(2)
        st2 = m.cmd("info stats vcpu")
        ev["kvm_stats_vcpu"] = st2[:6000]
        ev["kvm_stats_vcpu_delta_2s"] = stats_delta(st1, st2)
        ev["irr"] = re.findall(r"IRR\s*([0-9 ]*)", ev["lapic"])
        m.close()
    except OSError as e:
        ev["monitor_error"] = str(e)
    return ev


# ---------------------------------------------------------------- captures and setup

def capture(opts, program_args, dest):
    """The exact initramfs (and the arrowh arguments) `arrow run OPTS PROGRAM...` would use."""
    script = "/tmp/wedge-capture.sh"
    with open(script, "w") as f:
        f.write(CAPTURE_SH)
    os.chmod(script, 0o755)
    env = dict(os.environ, ARROW_ARROWH=script, CAPTURE_INITRAMFS=dest, ARROW_ROOT=CAPTURE_ROOT)
    r = subprocess.run([ARROW, "run", *opts, *program_args], env=env, capture_output=True,
                       timeout=300, stdin=subprocess.DEVNULL)
    if r.returncode != 0 or not os.path.exists(dest):
        raise SystemExit(f"wedge: capture failed: {r.stderr.decode(errors='replace')}")
    args = open(dest + ".args").read().splitlines()
    return {a[2:]: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}


def cpio_files(path):
    """{name: bytes} of every member of a concatenation of newc archives."""
    data, off, out = open(path, "rb").read(), 0, {}
    while off + 110 <= len(data):
        if data[off:off + 6] != b"070701":
            off += 4  # padding between archives
            continue
        h = data[off:off + 110]
        fsize, nsize = int(h[54:62], 16), int(h[94:102], 16)
        name = data[off + 110:off + 110 + nsize - 1].decode(errors="replace")
        doff = (off + 110 + nsize + 3) & ~3
        out[name] = data[doff:doff + fsize]
        off = (doff + fsize + 3) & ~3
    return out


def runcfg_address(cpio):
    cfg = cpio_files(cpio).get(".arrow/config") or cpio_files(cpio).get("/.arrow/config", b"")
    for rec in cfg.split(b"\0"):
        if rec[:1] == b"i":
            return rec[1:].decode()
    return None


def ensure_tap():
    if not os.path.exists("/sys/class/net/arrow0"):
        r = arrow("run", "--rm", BUSYBOX, "true")  # the default network comes with an Arrow
        log(f"created the Arrow network with a first Arrow: status {r.returncode}")
    if not os.path.exists(f"/sys/class/net/{TAP}"):
        for cmd in (["ip", "tuntap", "add", "dev", TAP, "mode", "tap", "vnet_hdr"],
                    ["ip", "link", "set", TAP, "master", "arrow0"],
                    ["ip", "link", "set", TAP, "up"]):
            r = sh(*cmd)
            if r.returncode:
                raise SystemExit(f"wedge: {' '.join(cmd)}: {r.stderr.decode()}")


# ---------------------------------------------------------------- QEMU

def qemu_cmd(kernel, initramfs, mem_mib, cpus, d, net=None):
    cmd = ["qemu-system-x86_64",
           "-M", "microvm,x-option-roms=off,isa-serial=off,rtc=off,acpi=off",
           "-accel", "kvm", "-cpu", "host", "-m", str(mem_mib), "-smp", str(cpus),
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
           "-d", "guest_errors,unimp", "-D", f"{d}/qemu.log",
           "-monitor", f"unix:{d}/mon.sock,server=on,wait=off",
           "-kernel", kernel, "-initrd", initramfs, "-append", QEMU_CMDLINE,
           "-device", "virtio-serial-device,max_ports=5",
           "-chardev", f"file,id=con,path={d}/console", "-device", "virtconsole,chardev=con",
           "-chardev", "null,id=in", "-device", "virtserialport,chardev=in,name=arrow.stdin",
           "-chardev", f"file,id=out,path={d}/out",
           "-device", "virtserialport,chardev=out,name=arrow.stdout",
           "-chardev", f"file,id=err,path={d}/err",
           "-device", "virtserialport,chardev=err,name=arrow.stderr",
           "-chardev", f"file,id=ctl,path={d}/ctl",
           "-device", "virtserialport,chardev=ctl,name=arrow.control"]
    if net:
        cmd += ["-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no,vnet_hdr=on",
                "-device", f"virtio-net-device,netdev=n0,mac={net['mac']}"]
    return cmd


class QemuVM:
    def __init__(self, name, kernel, initramfs, mem_mib, cpus, net=None):
        self.kernel = kernel
        self.d = os.path.join(WORK, name)
        shutil.rmtree(self.d, ignore_errors=True)
        os.makedirs(self.d)
        self.t0 = time.time()
        self.p = subprocess.Popen(qemu_cmd(kernel, initramfs, mem_mib, cpus, self.d, net),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=open(f"{self.d}/stderr", "wb"))

    def alive(self):
        return self.p.poll() is None

    def read(self, name, n=4000):
        try:
            return tail(open(f"{self.d}/{name}", "rb").read(), n)
        except OSError:
            return ""

    def finish(self, timeout):
        """Wait for the end; classify. Returns (outcome, evidence)."""
        try:
            self.p.wait(timeout=max(1, timeout))
        except subprocess.TimeoutExpired:
            return self.hang()
        return self.classify()

    def classify(self):
        marks = control_marks(f"{self.d}/ctl")
        ev = {"qemu_status": self.p.returncode,
              "marks": {k: v[1] for k, v in marks.items()}}
        stderr = self.read("stderr")
        if stderr:
            ev["qemu_stderr"] = stderr
        if "exit" in marks:
            ev["app_status"] = marks["exit"][0]
            return ("ok" if marks["exit"][0] == 0 and self.p.returncode == 0 else "other"), ev
        ev["console"] = self.read("console", 3000)
        ev["qemu_log"] = self.read("qemu.log", 3000)
        if self.p.returncode != 0:
            return "other", ev
        if "Kernel panic" in ev["console"]:
            ev["why"] = "guest reset after a kernel panic (panic=-1 reboot=t)"
            return "other", ev
        ev["why"] = "guest reset (KVM_EXIT_SHUTDOWN) before ainit's EXIT record, no panic message"
        return "triple fault", ev

    def hang(self):
        ev = qemu_hang_evidence(self.p.pid, f"{self.d}/mon.sock", self.kernel)
        ev["marks"] = {k: v[1] for k, v in control_marks(f"{self.d}/ctl").items()}
        ev["console"] = self.read("console", 3000)
        ev["qemu_stderr"] = self.read("stderr")
        self.kill()
        return "hang", ev

    def kill(self):
        if self.alive():
            self.p.kill()
            self.p.wait()


# ---------------------------------------------------------------- arrowh (arrow run -d)

def arrowh_log(aid):
    try:
        return open(os.path.join(STATE_ROOT, aid, "arrowh.log"), errors="replace").read()
    except OSError:
        return ""


def arrowh_pid(aid):
    r = arrow("inspect", aid, timeout=60)
    try:
        return json.loads(r.stdout)[0]["State"]["Pid"]
    except (ValueError, KeyError, IndexError):
        return 0


def arrowh_classify(aid, status, kernel, expect_stdout=None):
    text = arrowh_log(aid)
    ev = {"exit_status": status}
    logs = arrow("logs", aid, timeout=60)
    if status == 0 and (expect_stdout is None or logs.stdout == expect_stdout):
        return "ok", ev, logs
    ev["arrowh_log"] = tail(text, 6000)
    ev["report"] = parse_arrowh_report(text, kernel)
    ev["app_stdout"] = tail(logs.stdout, 500)
    ev["app_stderr"] = tail(logs.stderr, 1500)
    if "triple fault" in text:
        return "triple fault", ev, logs
    return "other", ev, logs


def arrowh_hang(aid, pid, kernel):
    ev = {"cpu": cpu_shares(pid) if pid and alive(pid) else None}
    r = arrow("kill", aid, timeout=120)  # a hard stop: arrowh reports every vCPU
    time.sleep(1)
    text = arrowh_log(aid)
    ev["kill"] = r.returncode
    ev["arrowh_log"] = tail(text, 6000)
    ev["report"] = parse_arrowh_report(text, kernel)
    return "hang", ev


# ---------------------------------------------------------------- S1: 20 concurrent boots

def arrowh_env(ctx, vmm):
    """arrowh: build/bin/arrowh (or --arrowh); arrowh-NAME: the binary build/bin/arrowh-NAME."""
    if vmm != "arrowh":
        return {"ARROW_ARROWH": os.path.join(ROOT, "build/bin", vmm)}
    return {"ARROW_ARROWH": ctx.args.arrowh} if ctx.args.arrowh else {}


def s1_arrowh(ctx, rnd, vmm="arrowh"):
    n, timeout = ctx.args.s1_boots, ctx.args.s1_timeout
    kernel_opt = ["--kernel", ctx.kernels["vmlinux"]] if ctx.args.kernel_dir else []
    env = arrowh_env(ctx, vmm)

    def one(i):
        try:
            return one_(i)
        except Exception as e:  # a harness problem is recorded, not fatal
            return {"outcome": "harness error", "duration_s": 0,
                    "evidence": {"harness_error": repr(e)}}

    def one_(i):
        t0 = time.time()
        r = arrow("run", "-d", "--network", "none", "--memory", "64m", "--name", f"w{rnd}-{i}",
                  *kernel_opt, HELLO, timeout=timeout, env=env)
        if r.returncode != 0:
            return {"outcome": "other", "duration_s": round(time.time() - t0, 2),
                    "evidence": {"run_d_status": r.returncode, "stderr": tail(r.stderr)}}
        aid = r.stdout.decode().strip()
        pid = arrowh_pid(aid)
        try:
            w = arrow("wait", aid, timeout=max(1, timeout - (time.time() - t0)))
            dur = time.time() - t0
            status = int(w.stdout.strip() or -1)
            outcome, ev, _ = arrowh_classify(aid, status, ctx.kernels["vmlinux"], HELLO_OUT)
        except subprocess.TimeoutExpired:
            dur = time.time() - t0
            outcome, ev = arrowh_hang(aid, pid, ctx.kernels["vmlinux"])
        ev["id"] = aid[:12]
        return {"outcome": outcome, "duration_s": round(dur, 2), "evidence": ev, "_id": aid}

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        res = list(pool.map(one, range(n)))
    ids = [r.pop("_id") for r in res if "_id" in r]
    if ids:
        arrow("rm", "-f", *ids, timeout=300)
    return res


def s1_qemu(ctx, rnd):
    n, timeout = ctx.args.s1_boots, ctx.args.s1_timeout
    vms = [QemuVM(f"s1-{rnd}-{i}", ctx.kernels["vmlinux"], ctx.cpio["hello"], 64, 1)
           for i in range(n)]
    res = [None] * n

    def one(i):
        vm = vms[i]
        outcome, ev = vm.finish(timeout - (time.time() - vm.t0))
        if outcome == "ok" and open(f"{vm.d}/out", "rb").read() != HELLO_OUT:
            outcome, ev["stdout"] = "other", vm.read("out", 500)
        end = time.time() if outcome != "hang" else vm.t0 + timeout
        res[i] = {"outcome": outcome, "duration_s": round(end - vm.t0, 2), "evidence": ev}

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, range(n)))
    for vm in vms:
        vm.kill()
        if res[vms.index(vm)]["outcome"] == "ok":
            shutil.rmtree(vm.d, ignore_errors=True)
    return res


# ---------------------------------------------------------------- S2: 20 MiB guest -> host

COUNT_MARK = "=== guest counters"


def stream_cmd(port, counters=False):
    """The stream test's guest command; with counters, the guest also writes its interrupt
    and eth0 counts before and after the stream to stderr (the same bytes for both VMMs)."""
    snap = (f"echo '{COUNT_MARK} '$1 >&2; cat /proc/interrupts >&2; "
            f"grep eth0 /proc/net/dev >&2" if counters else "")
    pre = f"c() {{ {snap}; }}; " if counters else ""
    before = "c before; " if counters else ""
    post = "c after; " if counters else ""
    return (f"{pre}head -c {STREAM_SIZE} /dev/urandom >/tmp/f && sha256sum /tmp/f && "
            f"{{ (while sleep 15; do cat /proc/net/tcp; done) & m=$!; "
            f"{before}nc {GATEWAY} {port} </tmp/f; r=$?; kill $m; {post}exit $r; }}")


def guest_counters(text):
    """Interrupts per line (LOC, each virtio IRQ...) and eth0 packets, after minus before."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    snaps = {}
    for part in text.split(COUNT_MARK)[1:]:
        name, _, body = part.partition("\n")
        d = {}
        for line in body.splitlines():
            f = line.split()
            if f and f[0].startswith("eth0:"):
                nums = (line.split(":", 1)[1]).split()
                d["eth0 rx packets"], d["eth0 tx packets"] = int(nums[1]), int(nums[9])
            elif len(f) >= 2 and f[0].endswith(":") and f[1].isdigit():
                label = f[0][:-1] if not f[0][:-1].isdigit() else " ".join(f[2:])[-30:]
                d["irq " + label] = int(f[1])
        snaps[name.strip()] = d
    if "before" in snaps and "after" in snaps:
        return {k: v - snaps["before"].get(k, 0) for k, v in snaps["after"].items()
                if v - snaps["before"].get(k, 0)}
    return None


def listener(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((GATEWAY, port))
    srv.listen(1)
    return srv


def receive(srv, is_alive, accept_timeout, silence):
    """Take one connection and read it to the end. Returns (how, bytes, digest, phase):
    how is "eof", "died" (the VM ended without closing) or "silent"."""
    h, got, phase, t0 = hashlib.sha256(), 0, "waiting for the connection", time.time()
    srv.settimeout(2)
    while True:
        try:
            conn, _ = srv.accept()
            break
        except socket.timeout:
            if not is_alive():
                return "died", got, None, phase
            if time.time() - t0 > accept_timeout:
                return "silent", got, None, phase
    phase = "receiving"
    conn.settimeout(2)
    last = time.time()
    try:
        while True:
            try:
                chunk = conn.recv(1 << 16)
            except socket.timeout:
                if not is_alive():
                    return "died", got, None, phase
                if time.time() - last > silence:
                    return "silent", got, None, phase
                continue
            except OSError as e:  # a reset
                return f"error {e}", got, None, phase
            if not chunk:
                return "eof", got, h.hexdigest(), phase
            h.update(chunk)
            got += len(chunk)
            last = time.time()
    finally:
        conn.close()


def s2_arrowh(ctx, rnd, vmm="arrowh"):
    a = ctx.args
    kernel_opt = ["--kernel", ctx.kernels["vmlinux-net"]] if a.kernel_dir else []
    env = arrowh_env(ctx, vmm)
    srv = listener(a.port)
    t0 = time.time()
    try:
        r = arrow("run", "-d", "--memory", "256m", "--name", f"s{rnd}", *kernel_opt, BUSYBOX,
                  "sh", "-c", stream_cmd(a.port, a.counters), timeout=300, env=env)
        if r.returncode != 0:
            return {"outcome": "other", "duration_s": round(time.time() - t0, 2),
                    "evidence": {"run_d_status": r.returncode, "stderr": tail(r.stderr)}}
        aid = r.stdout.decode().strip()
        pid = arrowh_pid(aid)
        ip = json.loads(arrow("inspect", aid).stdout)[0]["NetworkSettings"]
        how, got, digest, phase = receive(srv, lambda: alive(pid), a.accept_timeout, a.silence)
    finally:
        srv.close()
    ev = {"id": aid[:12], "ip": ip.get("ip"), "mac": ip.get("mac"), "bytes": got,
          "how": how, "phase": phase}
    if how == "silent":
        outcome, hev = arrowh_hang(aid, pid, ctx.kernels["vmlinux-net"])
        ev.update(hev)
        ev["wedge_signature"] = bool(ev.get("cpu") and ev["cpu"]["max_guest_share"] >= 0.5)
        dur = time.time() - t0
    else:
        try:
            w = arrow("wait", aid, timeout=180)
            status = int(w.stdout.strip() or -1)
            outcome, cev, logs = arrowh_classify(aid, status, ctx.kernels["vmlinux-net"])
            ev.update(cev)
            logged = logs.stdout.split()[0].decode() if logs.stdout.split() else None
            if a.counters:
                ev["guest_counters"] = guest_counters(logs.stderr)
            if outcome == "ok" and (got != STREAM_SIZE or logged != digest):
                outcome, ev["logged_digest"], ev["digest"] = "other", logged, digest
        except subprocess.TimeoutExpired:
            outcome, hev = arrowh_hang(aid, pid, ctx.kernels["vmlinux-net"])
            ev.update(hev)
        dur = time.time() - t0
    arrow("rm", "-f", aid, timeout=300)
    return [{"outcome": outcome, "duration_s": round(dur, 2), "evidence": ev}]


def s2_qemu(ctx, rnd):
    a = ctx.args
    srv = listener(a.port)
    vm = QemuVM(f"s2-{rnd}", ctx.kernels["vmlinux-net"], ctx.cpio["stream"], 256, 1,
                net=ctx.stream_net)
    try:
        how, got, digest, phase = receive(srv, vm.alive, a.accept_timeout, a.silence)
    finally:
        srv.close()
    ev = {"ip": ctx.stream_net["ip"], "mac": ctx.stream_net["mac"], "bytes": got, "how": how,
          "phase": phase}
    if how == "silent":
        outcome, hev = vm.hang()
        ev.update(hev)
        ev["wedge_signature"] = hev["cpu"]["max_guest_share"] >= 0.5
    else:
        outcome, cev = vm.finish(180)
        ev.update(cev)
        logged = open(f"{vm.d}/out", "rb").read().split()
        logged = logged[0].decode() if logged else None
        if a.counters:
            ev["guest_counters"] = guest_counters(open(f"{vm.d}/err", "rb").read())
        if outcome == "ok" and (got != STREAM_SIZE or logged != digest):
            outcome, ev["logged_digest"], ev["digest"] = "other", logged, digest
    dur = time.time() - vm.t0
    vm.kill()
    if outcome == "ok":
        shutil.rmtree(vm.d, ignore_errors=True)
    return [{"outcome": outcome, "duration_s": round(dur, 2), "evidence": ev}]


# ---------------------------------------------------------------- probe: what each guest sees

PROBE = ("cat /proc/cpuinfo; echo ===; dmesg; echo ===; cat /proc/interrupts; echo ===; "
         "cat /sys/devices/system/clocksource/clocksource0/current_clocksource")


def arrow_fg(args, timeout, kernel):
    """A foreground `arrow run` (arrowh replaces the CLI). On a timeout: CPU shares, then
    three SIGINTs, after which arrowh prints where its vCPUs were. (outcome, stdout, ev)."""
    t0 = time.time()
    p = subprocess.Popen([ARROW, "run", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, ARROW_ROOT=STATE_ROOT))
    ev = {}
    try:
        out, err = p.communicate(timeout=timeout)
        outcome = "ok" if p.returncode == 0 else (
            "triple fault" if b"triple fault" in err else "other")
    except subprocess.TimeoutExpired:
        ev["cpu"] = cpu_shares(p.pid)
        for _ in range(3):
            p.send_signal(signal.SIGINT)
            time.sleep(0.5)
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        outcome = "hang"
    ev["duration_s"] = round(time.time() - t0, 2)
    ev["exit_status"] = p.returncode
    if outcome != "ok":
        ev["stderr"] = tail(err, 6000)
        ev["report"] = parse_arrowh_report(err.decode(errors="replace"), kernel)
    return outcome, out, ev


def probe(ctx):
    """Boot each VMM once with a probe script: CPU flags, kernel log, interrupts, clocksource.
    These are the first guest boots of the session, in the order --probe-order gives."""
    out, res = {}, {"order": ctx.args.probe_order}
    for vmm in ctx.args.probe_order.split(","):
        log(f"probe: {vmm}")
        if vmm == "arrowh":
            outcome, o, ev = arrow_fg(["--rm", "--network", "none", "--memory", "64m", BUSYBOX,
                                       "sh", "-c", PROBE], ctx.args.probe_timeout,
                                      ctx.kernels["vmlinux"])
            out[vmm] = o.decode(errors="replace")
        else:
            vm = QemuVM("probe", ctx.kernels["vmlinux"], ctx.cpio["probe"], 64, 1)
            outcome, ev = vm.finish(ctx.args.probe_timeout)
            ev["duration_s"] = round(time.time() - vm.t0, 2)
            out[vmm] = vm.read("out", 1 << 20)
            vm.kill()
        res[f"{vmm}_boot"] = {"outcome": outcome, "evidence": ev}
        log(f"probe: {vmm}: {outcome} in {ev.get('duration_s')} s")
    for k, text in out.items():
        parts = text.split("===\n")
        flags = re.search(r"^flags\s*:\s*(.*)$", parts[0], re.M)
        res[k] = {"flags": sorted(flags.group(1).split()) if flags else [],
                  "cpuinfo": parts[0][:3000],
                  "dmesg": re.sub(r"^\[ *[0-9.]+\] ", "", parts[1] if len(parts) > 1 else "",
                                  flags=re.M),
                  "interrupts": parts[2] if len(parts) > 2 else "",
                  "clocksource": parts[3].strip() if len(parts) > 3 else ""}
    if res.get("arrowh", {}).get("flags") and res.get("qemu", {}).get("flags"):
        fa, fq = set(res["arrowh"]["flags"]), set(res["qemu"]["flags"])
        la = set(res["arrowh"]["dmesg"].splitlines())
        lq = set(res["qemu"]["dmesg"].splitlines())
        res["diff"] = {"flags_only_arrowh": sorted(fa - fq), "flags_only_qemu": sorted(fq - fa),
                       "dmesg_only_arrowh": sorted(la - lq), "dmesg_only_qemu": sorted(lq - la)}
    return res


# ---------------------------------------------------------------- driver

class Ctx:
    pass


def stamp(args):
    def git(*a):
        return subprocess.run(["git", "-C", args.repo, *a], capture_output=True,
                              text=True).stdout.strip()
    files = {"vmlinux": os.path.join(LIBDIR, "vmlinux"),
             "vmlinux-net": os.path.join(LIBDIR, "vmlinux-net"),
             "machine/bzImage": os.path.join(LIBDIR, "machine/bzImage"),
             "arrowh": args.arrowh or os.path.join(ROOT, "build/bin/arrowh"),
             "arrow": ARROW, "ainit": os.path.join(LIBDIR, "ainit"), "hello": HELLO,
             "busybox": BUSYBOX}
    kvm = {}
    for mod in ("kvm_amd", "kvm_intel", "kvm"):
        d = f"/sys/module/{mod}/parameters"
        if os.path.isdir(d):
            for p in sorted(os.listdir(d)):
                try:
                    kvm[f"{mod}.{p}"] = open(f"{d}/{p}").read().strip()
                except OSError:
                    pass
    flags = re.search(r"^flags\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
    snap = os.path.join(ROOT, "SNAPSHOT")
    # the helper kernel's view of its clocks: with neither constant_tsc nor a calibrated
    # tsc_khz, KVM's per-CPU cpu_tsc_khz is 0 and kvm_guest_time_update() never lets a vCPU in
    dm = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    clock_lines = [l for l in dm.splitlines()
                   if re.search(r"tsc|clocksource|calibrat|pit|hpet|refined|mhz|kvm|svm", l, re.I)]
    try:
        cs = open("/sys/devices/system/clocksource/clocksource0/current_clocksource").read().strip()
        cs_avail = open("/sys/devices/system/clocksource/clocksource0/available_clocksource").read().strip()
    except OSError:
        cs = cs_avail = None
    mhz = re.findall(r"^cpu MHz\s*:\s*(\S+)", open("/proc/cpuinfo").read(), re.M)
    return {
        "snapshot": open(snap).read() if os.path.exists(snap) else None,
        "commit": git("rev-parse", "HEAD"),
        "repo": args.repo, "tree": ROOT,
        "dirty_files": git("status", "--porcelain", "--untracked-files=no").splitlines(),
        "dirty_diff_sha256": hashlib.sha256(git("diff", "HEAD").encode()).hexdigest(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "sha256": {k: sha256(v) for k, v in files.items() if os.path.exists(v)},
        "helper_kernel_release": platform.release(),
        "helper_cmdline": open("/proc/cmdline").read().strip(),
        "host_kernel_release": args.host_kernel,
        "host_loadavg_at_start": args.host_load,
        "in_helper_vm": os.environ.get("ARROW_IN_MACHINE") == "1",
        "helper_cpus": os.cpu_count(),
        "helper_cpu_flags": flags.group(1).split() if flags else [],
        "helper_kvm_parameters": kvm,
        "helper_clock_dmesg": clock_lines[:80],
        "helper_clocksource": cs, "helper_clocksources_available": cs_avail,
        "helper_cpu_mhz": mhz,
        "qemu_version": subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                                       text=True).stdout.splitlines()[0],
        "arrowh_cmdline": ARROWH_CMDLINE + " virtio_mmio.device=...",
        "qemu_cmdline": QEMU_CMDLINE + " (+ microvm's virtio_mmio.device=...)",
    }


def summarize(result):
    lines, summary = [], {}
    kinds = ("ok", "triple fault", "hang", "other")
    what = {"S0": "first and second guest boot of a helper session (probe, order alternating)",
            "S1": "boots, 20 at a time", "S2": "20 MiB guest-to-host streams"}
    variants = sorted({r.get("helper", "") for r in result["runs"]})
    for stress, variant in [(s_, v) for v in variants for s_ in ("S0", "S1", "S2")]:
        rows = [r for r in result["runs"] if r["stress"] == stress
                and r.get("helper", "") == variant]
        if not rows:
            continue
        key = f"{stress} [{variant}]" if variant else stress
        summary[key] = {}
        lines.append(f"{key} ({what[stress]}):")
        lines.append(f"  {'VMM':15} {'runs':>5} {'ok':>5} {'triple':>7} {'hang':>5} {'other':>6}"
                     f"  failure rate [95% Wilson]   median s")
        present = sorted({r["vmm"] for r in rows}, key=lambda v: (v != "arrowh", v))
        for vmm in present:
            harness = sum(1 for r in rows if r["vmm"] == vmm and r["outcome"] == "harness error")
            rs = [r for r in rows if r["vmm"] == vmm and r["outcome"] != "harness error"]
            if not rs:
                continue
            c = {k: sum(1 for r in rs if r["outcome"] == k) for k in kinds}
            fail = len(rs) - c["ok"]
            lo, hi = wilson(fail, len(rs))
            durs = sorted(r["duration_s"] for r in rs if r["outcome"] == "ok")
            med = durs[len(durs) // 2] if durs else None
            wedge = sum(1 for r in rs if r["outcome"] == "hang"
                        and r["evidence"].get("wedge_signature"))
            rip = sum(1 for r in rs if any(
                v.get("wedge_rip") for v in (r["evidence"].get("report") or {}).get("vcpus", [])
                + (r["evidence"].get("rip_samples") or [])))
            summary[key][vmm] = {"runs": len(rs), **{k.replace(" ", "_"): v for k, v in c.items()},
                                    "failures": fail, "failure_rate": round(fail / len(rs), 4),
                                    "wilson95": [round(lo, 4), round(hi, 4)],
                                    "hangs_with_wedge_signature": wedge,
                                    "runs_at_wedge_rip": rip, "wedge_rip": hex(WEDGE_RIP),
                                    "median_ok_duration_s": med,
                                    "harness_errors_not_counted": harness}
            lines.append(f"  {vmm:15} {len(rs):5} {c['ok']:5} {c['triple fault']:7} {c['hang']:5} "
                         f"{c['other']:6}  {fail / len(rs):6.1%} [{lo:6.1%}, {hi:6.1%}]"
                         f"   {med if med is not None else '-'}")
        s = summary[key]
        names = [v for v in present if v in s]
        for i, x in enumerate(names):
            for y in names[i + 1:]:
                p = fisher_two_sided(s[x]["failures"], s[x]["ok"], s[y]["failures"], s[y]["ok"])
                s[f"fisher_exact_p_two_sided {x} vs {y}"] = round(p, 4)
                lines.append(f"  {x} vs {y} failure counts: Fisher exact two-sided p = {p:.3g}")
    return summary, "\n".join(lines)


def write(path, result):
    result["summary"], text = summarize(result)
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(path + ".tmp", path)
    return text


def schedule(r1, r2):
    """Interleave S1 rounds among S2 runs; each step one pair, the pair's order alternating
    (arrowh first, then QEMU first, ...: ABBA), so that drift over the session hits both."""
    steps, n = [], max(r1, r2)
    s1_at = sorted({min(n - 1, (k * n) // r1) for k in range(r1)}) if r1 else []
    i1 = i2 = 0
    for i in range(n):
        if i in s1_at:
            steps.append(("S1", i1))
            i1 += 1
        if i < r2:
            steps.append(("S2", i2))
            i2 += 1
    return steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, help="S1 rounds and S2 runs per VMM (both)")
    ap.add_argument("--s1-rounds", type=int, default=2, help="S1 rounds per VMM (20 boots each)")
    ap.add_argument("--s2-runs", type=int, default=30, help="S2 streams per VMM")
    ap.add_argument("--s1-boots", type=int, default=20, help="concurrent boots per S1 round")
    ap.add_argument("--stresses", default="S1,S2")
    ap.add_argument("--vmms", default="arrowh,qemu")
    ap.add_argument("--budget-min", type=float, default=0,
                    help="start no new pair of runs after this many minutes (0: no limit)")
    ap.add_argument("--s1-timeout", type=float, default=300, help="seconds per boot")
    ap.add_argument("--accept-timeout", type=float, default=300)
    ap.add_argument("--silence", type=float, default=90, help="stream silent this long: a hang")
    ap.add_argument("--port", type=int, default=7411)
    ap.add_argument("--counters", action="store_true",
                    help="S2: the guest reports its interrupt and packet counts for the stream")
    ap.add_argument("--arrowh", help="another arrowh binary for arrow run (ARROW_ARROWH)")
    ap.add_argument("--kernel-dir", help="copy the guest kernels here and boot them from there")
    ap.add_argument("--probe", action="store_true", help="first compare what each guest sees")
    ap.add_argument("--probe-order", default="qemu,arrowh")
    ap.add_argument("--exit-if-bad", action="store_true",
                    help="exit 3 right after the probe when both first boots hung")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="merge session results into --output and print the summary")
    ap.add_argument("--probe-timeout", type=float, default=150)
    ap.add_argument("--label", default="")
    ap.add_argument("--repo", default=ROOT, help="git work tree for the stamp (when this tree "
                    "is a snapshot of its build outputs)")
    ap.add_argument("--host-kernel", default="", help="the host's uname -r (from outside)")
    ap.add_argument("--host-load", default="", help="the host's /proc/loadavg (from outside)")
    ap.add_argument("--output", default=os.path.join(ROOT, "bench/results/wedge-helper-vm.json"))
    ap.add_argument("--summarize", metavar="JSON", help="only print the summary of a result")
    ap.add_argument("--add-host-load", nargs=2, metavar=("JSON", "LOG"),
                    help="attach host load samples (lines 'EPOCH LOADAVG...') to a result")
    args = ap.parse_args()

    if args.summarize:
        print(summarize(json.load(open(args.summarize)))[1])
        return
    if args.merge:
        merged = {"label": args.label, "sessions": [], "runs": []}
        for i, path in enumerate(args.merge):
            r = json.load(open(path))
            cmdline = r["stamp"].get("helper_cmdline", "")
            variant = ("helper with tsc_early_khz" if "tsc_early_khz" in cmdline
                       else "stock helper")
            if r.get("config", {}).get("s2_guest_counters"):
                variant += ", stream with guest counters"
            for run in r["runs"]:
                run["session"] = i
                run["helper"] = variant
                merged["runs"].append(run)
            sess = {k: v for k, v in r.items() if k not in ("runs", "summary")}
            sess["file"] = os.path.basename(path)
            sess["runs"] = len(r["runs"])
            sess["helper"] = variant
            merged["sessions"].append(sess)
        merged["session_count"] = len(args.merge)
        merged["bad_sessions"] = sum(1 for s_ in merged["sessions"] if s_.get("bad_session"))
        merged["total_session_duration_s"] = sum(s_.get("session_duration_s", 0)
                                                 for s_ in merged["sessions"])
        print(write(args.output, merged))
        return
    if args.add_host_load:
        path, logf = args.add_host_load
        res = json.load(open(path))
        res["host_load_samples"] = [l.split(None, 1) for l in open(logf).read().splitlines()]
        print(write(path, res))
        return
    if args.rounds is not None:
        args.s1_rounds = args.s2_runs = args.rounds
    stresses = args.stresses.upper().split(",")
    vmms = args.vmms.split(",")
    if "S1" not in stresses:
        args.s1_rounds = 0
    if "S2" not in stresses:
        args.s2_runs = 0

    t_start = time.time()
    for d in (WORK, STATE_ROOT, CAPTURE_ROOT):
        os.makedirs(d, exist_ok=True)
    ctx = Ctx()
    ctx.args = args
    ctx.kernels = {k: os.path.join(LIBDIR, k) for k in ("vmlinux", "vmlinux-net")}
    if args.kernel_dir:
        os.makedirs(args.kernel_dir, exist_ok=True)
        for k, p in list(ctx.kernels.items()):
            dst = os.path.join(args.kernel_dir, k)
            shutil.copyfile(p, dst)
            ctx.kernels[k] = dst
    result = {"label": args.label, "stamp": stamp(args), "config": {
        "s1_rounds_per_vmm": args.s1_rounds, "s1_boots_per_round": args.s1_boots,
        "s2_runs_per_vmm": args.s2_runs, "budget_min": args.budget_min,
        "s1_timeout_s": args.s1_timeout, "s2_accept_timeout_s": args.accept_timeout,
        "s2_silence_s": args.silence, "stream_bytes": STREAM_SIZE, "vmms": vmms,
        "s2_guest_counters": args.counters,
        "arrowh_binary": args.arrowh or os.path.join(ROOT, "build/bin/arrowh"),
        "kernels": ctx.kernels,
        "s1": "hello, --network none, 64 MiB, 1 vCPU; arrowh: `arrow run -d` x20 in parallel "
              "then `arrow wait`; qemu: 20 microvm processes started together",
        "s2": "busybox sends 20 MiB of /dev/urandom with nc to 10.201.0.1 (256 MiB, 1 vCPU); "
              "arrowh: `arrow run -d` on the default network; qemu: tap on bridge arrow0"},
        "runs": [], "helper_loadavg": []}
    ctx.cpio = {}
    for v in vmms:
        if v.startswith("arrowh-") and os.path.exists(os.path.join(ROOT, "build/bin", v)):
            result["stamp"]["sha256"][v] = sha256(os.path.join(ROOT, "build/bin", v))

    log("capturing the initramfs `arrow run` boots")
    if args.s1_rounds or args.probe:
        cap = capture(["--network", "none", "--memory", "64m"], [HELLO], f"{WORK}/hello.cpio")
        ctx.cpio["hello"] = f"{WORK}/hello.cpio"
        result["config"]["s1_capture_args"] = cap
        result["stamp"]["sha256"]["hello.cpio"] = sha256(ctx.cpio["hello"])
    if args.probe:
        capture(["--network", "none", "--memory", "64m"], [BUSYBOX, "sh", "-c", PROBE],
                f"{WORK}/probe.cpio")
        ctx.cpio["probe"] = f"{WORK}/probe.cpio"
    if args.s2_runs:
        cap = capture(["--memory", "256m"],
                      [BUSYBOX, "sh", "-c", stream_cmd(args.port, args.counters)],
                      f"{WORK}/stream.cpio")
        ctx.cpio["stream"] = f"{WORK}/stream.cpio"
        addr = runcfg_address(ctx.cpio["stream"])
        ctx.stream_net = {"mac": cap.get("mac"), "ip": addr.split("/")[0] if addr else None}
        result["config"]["s2_capture_args"] = cap
        result["config"]["s2_qemu_net"] = ctx.stream_net
        result["stamp"]["sha256"]["stream.cpio"] = sha256(ctx.cpio["stream"])
        ensure_tap()
        log(f"QEMU's S2 guest: {ctx.stream_net} on {TAP} in arrow0")

    if args.probe:
        log("probe: what each guest sees (the session's first guest boots)")
        result["probe"] = probe(ctx)
        for pos, vmm in enumerate(args.probe_order.split(",")):
            b = result["probe"][f"{vmm}_boot"]
            result["runs"].append({"stress": "S0", "vmm": vmm, "round": 0, "index": pos,
                                   "outcome": b["outcome"],
                                   "duration_s": b["evidence"].get("duration_s"),
                                   "evidence": b["evidence"], "boot_position": pos + 1,
                                   "session_elapsed_s": round(time.time() - t_start)})
        write(args.output, result)
        # Both first boots hung: a bad session (docs/machine.md). The evidence is in the
        # S0 runs and in helper_clock_dmesg; end it, the caller starts a fresh one.
        if args.exit_if_bad and all(r["outcome"] == "hang" for r in result["runs"]):
            result["bad_session"] = True
            result["session_duration_s"] = round(time.time() - t_start)
            print(write(args.output, result))
            log("both first boots hung: a bad session, ended here")
            sys.exit(3)

    runners = {("S1", "arrowh"): s1_arrowh, ("S1", "qemu"): s1_qemu,
               ("S2", "arrowh"): s2_arrowh, ("S2", "qemu"): s2_qemu}
    steps = schedule(args.s1_rounds, args.s2_runs)
    pair = 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    for stress, idx in steps:
        if stop:
            break
        if args.budget_min and time.time() - t_start > args.budget_min * 60:
            log(f"budget of {args.budget_min} min reached; stopping before {stress} #{idx}")
            result["stopped_by_budget_before"] = f"{stress} #{idx}"
            break
        order = vmms if pair % 2 == 0 else list(reversed(vmms))
        pair += 1
        for vmm in order:
            t = time.time()
            result["helper_loadavg"].append([round(t - t_start), open("/proc/loadavg").read().strip()])
            log(f"{stress} #{idx} {vmm}")
            try:
                if vmm.startswith("arrowh"):
                    runs = runners[(stress, "arrowh")](ctx, idx, vmm)
                else:
                    runs = runners[(stress, vmm)](ctx, idx)
            except Exception as e:  # recorded; the session goes on
                import traceback
                runs = [{"outcome": "harness error", "duration_s": round(time.time() - t, 2),
                         "evidence": {"harness_error": traceback.format_exc()[-3000:]}}]
            for j, r in enumerate(runs):
                r.update({"stress": stress, "vmm": vmm, "round": idx, "index": j,
                          "session_elapsed_s": round(t - t_start)})
                result["runs"].append(r)
            c = {}
            for r in runs:
                c[r["outcome"]] = c.get(r["outcome"], 0) + 1
            log(f"{stress} #{idx} {vmm}: {c} in {time.time() - t:.0f} s")
            for r in runs:
                if r["outcome"] != "ok":
                    ev = r["evidence"]
                    log(f"  {r['outcome']}: " + json.dumps(
                        {k: ev.get(k) for k in ("report", "rip_samples", "why", "how", "bytes",
                                                "phase", "wedge_signature") if k in ev})[:1500])
            result["session_duration_s"] = round(time.time() - t_start)
            write(args.output, result)
    result["session_duration_s"] = round(time.time() - t_start)
    result["helper_loadavg"].append([result["session_duration_s"],
                                     open("/proc/loadavg").read().strip()])
    text = write(args.output, result)
    print(f"wedge: {len(result['runs'])} runs in {result['session_duration_s']} s "
          f"(helper {platform.release()}, commit {result['stamp']['commit'][:12]})")
    print(text)


if __name__ == "__main__":
    main()
