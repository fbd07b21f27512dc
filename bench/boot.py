#!/usr/bin/python3
"""Boot-to-app and memory of arrowh vs QEMU microvm, same kernel, same initramfs, same run;
boot-to-app also against an OCI container runtime (crun, else runc) running the same static
binary from a bundle, and against a plain exec of it.

Runs where /dev/kvm boots a standard guest (natively, or inside the machine-mode helper VM:
bench/run.sh picks). Writes one JSON result file; bench/report.py turns results into
docs/performance.md.

    bench/boot.py ENVIRONMENT-NAME OUTPUT.json
"""
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARROW = os.path.join(ROOT, "build/bin/arrow")
ARROWH = os.path.join(ROOT, "build/bin/arrowh")
KERNEL = os.path.join(ROOT, "build/lib/arrow/vmlinux")
HELLO = os.path.join(ROOT, "build/tests/guest/hello")
SIGWAIT = os.path.join(ROOT, "build/tests/guest/sigwait")
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
TIMEOUT = 120
MEM_MIB = 128
CTL_MAGIC = 0x41525257
CMDLINE = "console=hvc0 quiet panic=-1 no_timer_check tsc=reliable"


def capture_initramfs(program, dest):
    """The exact initramfs `arrow run PROGRAM` would boot, as one file."""
    env = dict(os.environ, ARROW_ARROWH=os.path.join(ROOT, "bench/capture-arrowh.sh"),
               CAPTURE_INITRAMFS=dest)
    subprocess.run([ARROW, "run", "--network", "none", program], env=env, check=True)


def qemu_cmd(initramfs, out, ctl):
    return ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=off,rtc=off,acpi=off",
            "-accel", "kvm", "-cpu", "host", "-m", str(MEM_MIB), "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", KERNEL, "-initrd", initramfs, "-append", CMDLINE + " reboot=t",
            "-device", "virtio-serial-device,max_ports=5",
            "-chardev", "null,id=con", "-device", "virtconsole,chardev=con",
            "-chardev", "null,id=in", "-device", "virtserialport,chardev=in,name=arrow.stdin",
            "-chardev", f"file,id=out,path={out}",
            "-device", "virtserialport,chardev=out,name=arrow.stdout",
            "-chardev", "null,id=err", "-device", "virtserialport,chardev=err,name=arrow.stderr",
            "-chardev", f"file,id=ctl,path={ctl}",
            "-device", "virtserialport,chardev=ctl,name=arrow.control"]


HELLO_OUT = b"hello from an Arrow\n"


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


def control_marks(path):
    """Guest clock (ms) of ainit's HELLO/EXEC/EXIT records in a control-port capture."""
    marks = {}
    data = open(path, "rb").read()
    for off in range(0, len(data) - 23, 24):
        magic, typ, _, arg, _, value = struct.unpack_from("<IHHIIQ", data, off)
        if magic == CTL_MAGIC:
            marks[{1: "hello", 2: "exec", 3: "exit"}.get(typ, str(typ))] = value / 1e6
    return marks


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def timed(cmd, **kw):
    """Run cmd to completion; a boot that hangs fails the benchmark instead of stalling it."""
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, **kw)
    return time.perf_counter() - t, r


def summary(samples):
    samples = sorted(samples)
    return {"median_ms": round(statistics.median(samples) * 1000, 1),
            "min_ms": round(samples[0] * 1000, 1), "max_ms": round(samples[-1] * 1000, 1),
            "stdev_ms": round(statistics.pstdev(samples) * 1000, 1), "runs": len(samples)}


def write_result(path, result):
    """Write a result file atomically and show it."""
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(path + ".tmp", path)
    print(json.dumps(result, indent=2))


def rss_kib(pid, guest_bytes):
    """(total RSS, RSS of guest RAM) in KiB from /proc/PID/smaps. Guest RAM is the one
    mapping of exactly guest_bytes (QEMU), or the run of mappings arrowh marked
    MADV_DONTFORK + MADV_DONTDUMP ("dc", "dd"): its kernel pages are file-backed pieces
    inside the anonymous guest-RAM mapping."""
    vmas, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = {"lo": lo, "hi": hi, "rss": 0, "flags": []}
                vmas.append(cur)
            elif parts[0] == "Rss:":
                cur["rss"] = int(parts[1])
            elif parts[0] == "VmFlags:":
                cur["flags"] = parts[1:]
    total = sum(v["rss"] for v in vmas)
    whole = [v for v in vmas if v["hi"] - v["lo"] == guest_bytes]
    if whole:
        return total, whole[0]["rss"]
    marked = [v for v in vmas if "dc" in v["flags"] and "dd" in v["flags"]]
    if not marked:
        raise SystemExit(f"bench: cannot find the guest RAM of process {pid}")
    lo = marked[0]["lo"]
    ram = [v for v in vmas if lo <= v["lo"] and v["hi"] <= lo + guest_bytes]
    if sum(v["hi"] - v["lo"] for v in ram) != guest_bytes:
        raise SystemExit(f"bench: the guest RAM of process {pid} is not where expected")
    return total, sum(v["rss"] for v in ram)


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
    """Idle Arrow vs idle QEMU: RSS with and without guest RAM."""
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
    total, guest = rss_kib(p.pid, MEM_MIB << 20)
    res["arrowh"] = {"rss_kib": total, "guest_ram_rss_kib": guest, "vmm_rss_kib": total - guest}
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
        total, guest = rss_kib(q.pid, MEM_MIB << 20)
        res["qemu"] = {"rss_kib": total, "guest_ram_rss_kib": guest, "vmm_rss_kib": total - guest}
    q.kill()
    q.wait()
    return res


def main():
    env_name, output = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="arrow-bench.")
    initramfs = os.path.join(tmp, "hello.cpio")
    capture_initramfs(HELLO, initramfs)
    out, ctl = os.path.join(tmp, "q.out"), os.path.join(tmp, "q.ctl")

    runtime, bundle, runtime_why = container_runtime(tmp)
    if runtime_why:
        log(f"no container peer: {runtime_why}")

    # one warm-up each, then alternate so that drift hits every peer alike
    timed([ARROW, "run", "--network", "none", HELLO])
    timed(qemu_cmd(initramfs, out, ctl), stdin=subprocess.DEVNULL)
    timed([HELLO])
    arrow_s, qemu_s, arrow_hello, qemu_hello, arrow_phases = [], [], [], [], []
    native_s, container_s = [], []
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
        dt, r = timed([ARROW, "run", "--network", "none", "--timing", HELLO])
        assert r.stdout == b"hello from an Arrow\n", r
        arrow_s.append(dt)
        for line in r.stderr.decode().splitlines():
            if "guest clock at ainit start" in line:
                arrow_hello.append(float(line.split(":")[1].split()[0]))
            elif line.startswith("  ") and line.rstrip().endswith(" ms"):
                name, value = line.rsplit(None, 2)[0].strip(), float(line.split()[-2])
                arrow_phases.append((name, value))
        for f in (out, ctl):
            if os.path.exists(f):
                os.unlink(f)
        dt, r = timed(qemu_cmd(initramfs, out, ctl), stdin=subprocess.DEVNULL)
        assert open(out, "rb").read() == b"hello from an Arrow\n", (r.stderr, open(out, "rb").read())
        qemu_s.append(dt)
        marks = control_marks(ctl)
        if "hello" in marks:
            qemu_hello.append(marks["hello"])

    phases = {}
    for name, value in arrow_phases:
        phases.setdefault(name, []).append(value)
    result = {
        "environment": env_name,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),  # the helper's clock is the host's
        "commit": subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True).stdout.strip(),
        "host": platform.node(), "cpus": os.cpu_count(), "kernel_release": platform.release(),
        "guest_memory_mib": MEM_MIB,
        "end_to_end": {"arrow run": summary(arrow_s), "qemu microvm": summary(qemu_s),
                       "native exec": summary(native_s)},
        # each run's arrow/QEMU pair measured back to back: the median of their ratios
        "pair_ratio_median": round(statistics.median(a / q for a, q in zip(arrow_s, qemu_s)), 3),
        "container": ({"runtime": runtime, "version": version(runtime), **summary(container_s)}
                      if runtime else {"runtime": None, "why": runtime_why}),
        "guest_clock_at_ainit_ms": {
            "arrowh": round(statistics.median(arrow_hello), 1) if arrow_hello else None,
            "qemu microvm": round(statistics.median(qemu_hello), 1) if qemu_hello else None},
        "arrow_phases_median_ms": {k: round(statistics.median(v), 1) for k, v in phases.items()},
        "memory": memory(tmp),
        "binary_sizes": {"arrowh": os.path.getsize(ARROWH), "vmlinux": os.path.getsize(KERNEL),
                         "initramfs_hello": os.path.getsize(initramfs)},
    }
    subprocess.run(["rm", "-rf", tmp])
    write_result(output, result)


if __name__ == "__main__":
    main()
