#!/usr/bin/python3
"""Boot-path changes, measured: VM exits per boot phase and guest time to ainit for several
guest kernels (or kernel command lines), the same initramfs, alternating run by run, in one
run. Exit counts come from KVM's own statistics (arrowh --timing, src/vmm/kvmstats.c): they
do not depend on how noisy the machine is, and they predict the cost on a real KVM, where
each exit costs about a microsecond instead of the helper VM's hundreds.

    bench/kernels.py [--runs N] [--out FILE] NAME=KERNEL[,EXTRA CMDLINE] ...

e.g. bench/kernels.py before=~/.cache/arrow/kernel/arrow-OLD/vmlinux after=build/lib/arrow/vmlinux
Runs where /dev/kvm boots a standard guest (inside the helper VM here: `arrow machine --`).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stamp import sha256_16, stamp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARROW = os.path.join(ROOT, "build/bin/arrow")
ARROWH = os.path.join(ROOT, "build/bin/arrowh")
HELLO = os.path.join(ROOT, "build/tests/guest/hello")


def capture(dest):
    env = dict(os.environ, ARROW_ARROWH=os.path.join(ROOT, "bench/capture-arrowh.sh"),
               CAPTURE_INITRAMFS=dest, ARROW_ROOT=os.path.dirname(dest) + "/root")
    subprocess.run([ARROW, "run", "--network", "none", HELLO], env=env, check=True)


def boot(kernel, extra, initrd):
    cmd = [ARROWH, "--kernel", kernel, "--initrd", initrd, "--memory", "128", "--timing",
           "--boot-timeout", "180"]
    if extra:
        cmd += ["--cmdline", extra]
    r = subprocess.run(cmd, capture_output=True, timeout=900, stdin=subprocess.DEVNULL)
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0 or r.stdout != b"hello from an Arrow\n":
        return {"ok": False, "status": r.returncode, "stderr": err[-2000:]}
    out = {"ok": True, "phases": {}}
    for line in err.splitlines():
        m = re.match(r"arrowh-kvmstats: phase=(\w+) .*", line)
        if m:
            out["phases"][m.group(1)] = {k: int(v) for k, v in
                                         re.findall(r"(\w+)=(\d+)", line) if k not in ("phase",)}
        m = re.search(r"guest clock at ainit start: ([\d.]+) ms", line)
        if m:
            out["guest_ms_to_ainit"] = float(m.group(1))
        m = re.match(r"\s+kernel entry -> ainit\s+([\d.]+) ms", line)
        if m:
            out["host_ms_kernel_to_ainit"] = float(m.group(1))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/kernels.json"))
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args()
    variants = []
    for v in args.variants:
        name, rest = v.split("=", 1)
        kernel, _, extra = rest.partition(",")
        variants.append((name, os.path.expanduser(kernel), extra))
    tmp = tempfile.mkdtemp(prefix="kernels-")
    initrd = os.path.join(tmp, "hello.cpio")
    capture(initrd)
    samples = {name: [] for name, _, _ in variants}
    for i in range(args.runs):
        for name, kernel, extra in variants:
            print(f"kernels: run {i + 1}/{args.runs}: {name}", file=sys.stderr, flush=True)
            samples[name].append(boot(kernel, extra, initrd))
    result = {"stamp": stamp(os.environ.get("ARROW_BENCH_ENV", "helper-vm")),
              "what": "hello, --network none, 128 MiB, 1 vCPU, arrowh directly (no CLI)",
              "variants": {}}
    for name, kernel, extra in variants:
        ok = [s for s in samples[name] if s["ok"]]
        med = {}
        for phase in ("kernel", "ainit", "to_app"):
            rows = [s["phases"][phase] for s in ok if phase in s["phases"]]
            if rows:
                med[phase] = {k: statistics.median(r[k] for r in rows) for k in rows[0]
                              if k not in ("from", "to")}
        result["variants"][name] = {
            "kernel": kernel, "kernel_sha256_16": sha256_16(kernel), "extra_cmdline": extra,
            "runs": len(samples[name]), "ok": len(ok),
            "failures": [s for s in samples[name] if not s["ok"]],
            "median_exits": med,
            "median_guest_ms_to_ainit": statistics.median(s["guest_ms_to_ainit"] for s in ok)
            if ok else None,
            "median_host_ms_kernel_to_ainit": statistics.median(
                s["host_ms_kernel_to_ainit"] for s in ok) if ok else None,
            "samples": samples[name]}
    with open(args.out + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(args.out + ".tmp", args.out)
    for name, v in result["variants"].items():
        k = v["median_exits"].get("to_app", {})
        print(f"{name}: {v['ok']}/{v['runs']} ok; exits to app {k.get('exits')} "
              f"(io {k.get('io_exits')}, mmio {k.get('mmio_exits')}, emulated "
              f"{k.get('insn_emulation')}); guest ms to ainit {v['median_guest_ms_to_ainit']}; "
              f"host ms kernel->ainit {v['median_host_ms_kernel_to_ainit']}")
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
