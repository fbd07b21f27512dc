#!/usr/bin/python3
"""Costs of managing Arrows: `arrow run -d` until the Arrow runs, and `arrow ps` over many.

Peers in the same run: a native detached start (`setsid -f` of the same static program, the
floor any launcher pays) and QEMU microvm's `-daemonize` (returns once its VM is set up), for
starting; procps `ps -e` over the same number of extra processes, for listing.

    bench/lifecycle.py ENVIRONMENT-NAME OUTPUT.json
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from boot import ARROW, KERNEL, summary, write_result

BUSYBOX = "/bin/busybox"
RUNS = int(os.environ.get("BENCH_RUNS", "10"))
LISTED = int(os.environ.get("BENCH_PS_ARROWS", "100"))


def timed(cmd, env=None):
    t = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stderr.decode()}")
    return time.monotonic() - t, r


def main():
    env_name, out_path = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(prefix="ab-", dir="/tmp")
    env = dict(os.environ, ARROW_ROOT=root)
    arrow = [ARROW]

    def starts(*opts):
        """`arrow run -d` until it returns (arrowh wrote state.json: the VM runs), RUNS times."""
        samples = []
        for i in range(RUNS):
            ms, r = timed(arrow + ["run", "-d", *opts, "--memory", "64m", BUSYBOX, "sleep",
                                   "1000"], env)
            samples.append(ms)
            subprocess.run(arrow + ["rm", "-f", r.stdout.decode().strip()], env=env,
                           capture_output=True, check=True)
        return samples

    start = starts("--network", "none")
    # The same with a network: lease, tap, nftables rule for -p, and the IPv4 kernel.
    start_net = starts("-p", "18081:80")
    native = []
    for i in range(RUNS):
        ms, _ = timed(["setsid", "-f", BUSYBOX, "sleep", "0"])
        native.append(ms)
    qemu = []
    pidfile = os.path.join(root, "qemu.pid")
    for i in range(RUNS):
        ms, _ = timed(["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host",
                       "-m", "64", "-nodefaults", "-no-user-config", "-display", "none",
                       "-kernel", KERNEL, "-append", "console=hvc0 quiet",
                       "-daemonize", "-pidfile", pidfile])
        qemu.append(ms)
        subprocess.run(["kill", open(pidfile).read().strip()], capture_output=True)

    # Listing: LISTED real Arrows (started, then stopped at once: their state is real).
    ps0, _ = timed(arrow + ["ps", "-a"], env)
    for i in range(LISTED):
        _, r = timed(arrow + ["run", "-d", "--network", "none", "--memory", "64m", BUSYBOX,
                              "sleep", "1000"], env)
        k = subprocess.run(arrow + ["kill", r.stdout.decode().strip()], env=env,
                           capture_output=True)
        if k.returncode != 0 and b"is not running" not in k.stderr:
            raise RuntimeError(k.stderr.decode())
    rows = len(subprocess.run(arrow + ["ps", "-aq"], env=env, capture_output=True,
                              check=True).stdout.split())
    assert rows == LISTED, rows
    ps_all = [timed(arrow + ["ps", "-a"], env)[0] for _ in range(RUNS)]
    ps_running = [timed(arrow + ["ps"], env)[0] for _ in range(RUNS)]
    ps_json = [timed(arrow + ["ps", "-a", "--format", "json"], env)[0] for _ in range(RUNS)]
    sleepers = [subprocess.Popen([BUSYBOX, "sleep", "1000"]) for _ in range(LISTED)]
    procps = [timed(["ps", "-e"])[0] for _ in range(RUNS)]
    for p in sleepers:
        p.kill()
        p.wait()
    shutil.rmtree(root, ignore_errors=True)

    result = {
        "environment": env_name,
        "start": {"arrow run -d": summary(start),
                  "arrow run -d -p 18081:80 (default network)": summary(start_net),
                  "native setsid -f": summary(native),
                  "qemu -daemonize": summary(qemu)},
        "listing": {"arrows": LISTED, "arrow ps -a (empty root)": round(ps0 * 1000, 1),
                    "arrow ps -a": summary(ps_all), "arrow ps (none running)": summary(ps_running),
                    "arrow ps -a --format json": summary(ps_json), "procps ps -e": summary(procps)},
    }
    write_result(out_path, result)


if __name__ == "__main__":
    main()
