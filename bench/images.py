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

    bench/images.py ENVIRONMENT-NAME OUTPUT.json
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from boot import ARROW, log, summary, write_result

RUNS = int(os.environ.get("BENCH_RUNS", "20"))
REDIS_ARGS = ["--protected-mode", "no", "--save", "", "--appendonly", "no"]


STALLS = []


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
            return
        time.sleep(0.005)
    raise SystemExit(f"bench: redis on port {port} never answered")


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

        pieces = os.path.join(tmp, "images", "pieces")
        cold, warm = [], []
        for i in range(max(3, RUNS // 4) + 1):
            for state, into in (("cold", cold), ("warm", warm)):
                if state == "cold":
                    shutil.rmtree(pieces)
                    os.mkdir(pieces)
                t = time.monotonic()
                try:
                    run([ARROW, "run", "--rm", "--network", "none", "bench-redis", "--version"],
                        env, timeout=120)
                except subprocess.TimeoutExpired:
                    # the helper VM's known stall (docs/machine.md): counted, not timed
                    STALLS.append(f"{state} run {i}")
                    subprocess.run([ARROW, "rm", "-f", *subprocess.run(
                        [ARROW, "ps", "-aq"], env=env, capture_output=True).stdout.decode().split()],
                        env=env, capture_output=True)
                    continue
                if i:  # the first pair warms the page cache
                    into.append(time.monotonic() - t)
        assembly = [c - w for c, w in zip(cold, warm)] if len(cold) == len(warm) else [0.0]
        log(f"first run {summary(cold)['median_ms']} ms, cached {summary(warm)['median_ms']} ms")

        arrow_ready, native_ready = [], []
        for i in range(RUNS + 1):
            t = time.monotonic()
            aid = run([ARROW, "run", "-d", "-p", "16390:6379", "bench-redis"], env).stdout
            ping_until_pong(16390)
            a = time.monotonic() - t
            run([ARROW, "rm", "-f", aid.decode().strip()], env)
            t = time.monotonic()
            p = subprocess.Popen(["redis-server", "--port", "16391", *REDIS_ARGS],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ping_until_pong(16391)
            n = time.monotonic() - t
            p.terminate()
            p.wait()
            if i:
                arrow_ready.append(a)
                native_ready.append(n)
        log(f"ready: arrow {summary(arrow_ready)['median_ms']} ms, "
            f"native {summary(native_ready)['median_ms']} ms")
        layer = max((os.path.getsize(os.path.join(tmp, "images", "blobs", "sha256", b)), b)
                    for b in os.listdir(os.path.join(tmp, "images", "blobs", "sha256")))[0]
        write_result(out, {
            "environment": env_name, "program": shutil.which("redis-server"),
            "layer_bytes": layer,
            "build": summary(builds), "import": summary(imports),
            "first_run": summary(cold), "cached_run": summary(warm),
            "assembly": summary(assembly),
            "ready_arrow": summary(arrow_ready), "ready_native": summary(native_ready),
            "stalled_runs": STALLS,
        })
    finally:
        subprocess.run([ARROW, "rm", "-f", *subprocess.run(
            [ARROW, "ps", "-aq"], env=env, capture_output=True).stdout.decode().split()],
            env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
