#!/usr/bin/python3
"""Images: how long making, assembling and booting an image of Debian's redis-server takes.

- build: `arrow build -t bench-redis --from-host redis-server` (ELF walk, layer tar, blobs,
  index), BENCH_RUNS times.
- import: `arrow import` of that image saved as an OCI archive (`arrow save`) into an empty
  store (unpack, every blob hashed, the layer decompressed against its diff id), BENCH_RUNS
  times.
- assembly: the first `arrow run` of the image converts its layer into an initramfs piece;
  measured as the difference between a run with the piece cache emptied and one with it
  warm (`arrow run --rm --network none bench-redis --version`, alternating pairs).
- boot-to-ready: `arrow run -d -p PORT:6379 bench-redis` until `redis-cli PING` answers
  PONG, against the same redis-server started natively on the same machine until it
  answers, alternating, BENCH_RUNS pairs.

A run that fails or stalls (the helper VM's known stall, docs/machine.md) is not timed: it is
recorded in "failed_runs" with what was seen (timeout, exit status, the last lines arrowh
printed), and the figures say how many runs they hold. No sample is ever made up.

    bench/images.py ENVIRONMENT-NAME OUTPUT.json
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from boot import ARROW, log, run_with_evidence, summary, tail, write_result

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
REDIS_ARGS = ["--protected-mode", "no", "--save", "", "--appendonly", "no"]

FAILED = []  # runs that were not timed, with what was seen


def run(cmd, env, timeout=600, **kw):
    r = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, **kw)
    if r.returncode:
        raise SystemExit(f"bench: {' '.join(cmd)} failed: {r.stderr.decode()}")
    return r


def ping_until_pong(port, deadline_s=120):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True)
        if r.stdout.strip() == b"PONG":
            return True
        time.sleep(0.005)
    return False


def summary_or_none(samples):
    return summary(samples) if samples else None


def remove_all(env):
    subprocess.run([ARROW, "rm", "-f", *subprocess.run(
        [ARROW, "ps", "-aq"], env=env, capture_output=True).stdout.decode().split()],
        env=env, capture_output=True)


def arrow_evidence(env, aid):
    """A detached Arrow that never answered: its state and the end of its arrowh.log."""
    ev = {}
    insp = subprocess.run([ARROW, "inspect", aid], env=env, capture_output=True)
    try:
        ev["state"] = json.loads(insp.stdout)[0].get("State")
    except (ValueError, IndexError, AttributeError):
        ev["state"] = tail(insp.stderr, 3)
    try:
        ev["arrowh_log_tail"] = tail(open(os.path.join(env["ARROW_ROOT"], aid, "arrowh.log"),
                                          "rb").read(), 15)
    except OSError as e:
        ev["arrowh_log_tail"] = [f"(unreadable: {e})"]
    return ev


def assembly_runs(env, pieces):
    """`arrow run --rm IMAGE --version` with the piece cache emptied (cold) and warm, in
    pairs; the first pair warms the page cache. Only runs that completed are timed."""
    cold, warm, pairs = [], [], []
    attempts = max(3, RUNS // 4)
    for i in range(attempts + 1):
        got = {}
        for state in ("cold", "warm"):
            if state == "cold":
                shutil.rmtree(pieces)
                os.mkdir(pieces)
            dt, r, ev = run_with_evidence([ARROW, "run", "--rm", "--network", "none",
                                           "bench-redis", "--version"], env=env,
                                          stdin=subprocess.DEVNULL)
            if ev is None and r.returncode:
                ev = {"seen": "failed", "exit_status": r.returncode,
                      "stderr_tail": tail(r.stderr, 15)}
            if ev:
                FAILED.append({"run": f"{state} run {i}{' (warm-up)' if i == 0 else ''}", **ev})
                log(f"images: {state} run {i} not timed: {ev['seen']}")
                remove_all(env)
                continue
            got[state] = dt
        if i == 0:
            continue
        if "cold" in got:
            cold.append(got["cold"])
        if "warm" in got:
            warm.append(got["warm"])
        if len(got) == 2:
            pairs.append(got["cold"] - got["warm"])
    return cold, warm, pairs, attempts


def main():
    env_name, out = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="arrow-bench-images-")
    env = dict(os.environ, ARROW_IMAGES=os.path.join(tmp, "images"),
               ARROW_ROOT=os.path.join(tmp, "root"))
    try:
        builds = []
        for _ in range(RUNS):
            t = time.monotonic()
            run([ARROW, "build", "-t", "bench-redis", "--from-host", "redis-server", "--",
                 *REDIS_ARGS], env)
            builds.append(time.monotonic() - t)
        log(f"build: median {summary(builds)['median_ms']} ms")

        archive = os.path.join(tmp, "redis.tar")
        run([ARROW, "save", "-o", archive, "bench-redis"], env)
        imports = []
        for i in range(RUNS):
            other = dict(env, ARROW_IMAGES=os.path.join(tmp, f"import-{i}"))
            t = time.monotonic()
            run([ARROW, "import", "-q", archive], other)
            imports.append(time.monotonic() - t)
            shutil.rmtree(other["ARROW_IMAGES"])
        log(f"import: median {summary(imports)['median_ms']} ms")

        cold, warm, assembly, attempts = assembly_runs(env, os.path.join(tmp, "images", "pieces"))
        log(f"first run {cold and summary(cold)['median_ms']} ms (n={len(cold)}), cached "
            f"{warm and summary(warm)['median_ms']} ms (n={len(warm)}), complete pairs "
            f"{len(assembly)} of {attempts}")

        arrow_ready, native_ready = [], []
        for i in range(RUNS + 1):
            t = time.monotonic()
            aid = run([ARROW, "run", "-d", "-p", "16390:6379", "bench-redis"], env).stdout
            aid = aid.decode().strip()
            answered = ping_until_pong(16390)
            a = time.monotonic() - t
            if not answered:
                ev = {"run": f"ready run {i}{' (warm-up)' if i == 0 else ''}",
                      "seen": "redis in the Arrow never answered PING within 120 s",
                      **arrow_evidence(env, aid)}
                FAILED.append(ev)
                log(f"images: ready run {i} not timed: {ev}")
            run([ARROW, "rm", "-f", aid], env)
            t = time.monotonic()
            p = subprocess.Popen(["redis-server", "--port", "16391", *REDIS_ARGS],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not ping_until_pong(16391):
                raise SystemExit("bench: the native redis-server never answered")
            n = time.monotonic() - t
            p.terminate()
            p.wait()
            if i and answered:
                arrow_ready.append(a)
                native_ready.append(n)
        log(f"ready: arrow {arrow_ready and summary(arrow_ready)['median_ms']} ms, "
            f"native {native_ready and summary(native_ready)['median_ms']} ms")
        layer = max((os.path.getsize(os.path.join(tmp, "images", "blobs", "sha256", b)), b)
                    for b in os.listdir(os.path.join(tmp, "images", "blobs", "sha256")))[0]
        write_result(out, {
            "environment": env_name, "program": shutil.which("redis-server"),
            "layer_bytes": layer,
            "build": summary(builds), "import": summary(imports),
            "first_run": summary_or_none(cold), "cached_run": summary_or_none(warm),
            # cold minus warm within each pair where both runs completed; None: no such pair
            "assembly": summary_or_none(assembly),
            "assembly_counts": {"pairs_attempted": attempts, "cold_timed": len(cold),
                                "warm_timed": len(warm), "complete_pairs": len(assembly)},
            "ready_arrow": summary_or_none(arrow_ready),
            "ready_native": summary_or_none(native_ready),
            "ready_counts": {"pairs_attempted": RUNS, "timed": len(arrow_ready)},
            "failed_runs": FAILED,
        })
    finally:
        remove_all(env)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
