#!/usr/bin/python3
"""Functions (docs/functions.md): arrow-gateway starting clones on demand, in one run.

The function is tests/guest/fnserver (GET /hello). Measured, each against its peer in the
same run:
  - first request from zero: a request that finds no instance (the gateway starts a clone
    of the function's template, waits for it to accept, forwards) vs a cold-booted
    instance (`arrow run -d` of the same server on the default network, until its first
    answer; its port probed with the gateway's short connection attempts, so that neither
    peer waits out TCP's one-second SYN retransmission) vs a warm instance (the same request to the gateway with an instance running)
    vs the same server started natively (spawn until its first answer);
  - warm requests per second through the gateway (one instance, --concurrency 8, 8 client
    threads) vs the native server directly (8 client threads);
  - --fresh: per-request latency (every request a new clone, destroyed after) and rate
    (4 client threads, --max 4);
  - instances started per second (POST /system/scale-function replicas=N, until N accept)
    and private memory per idle instance (/system/metrics: Pss_Anon of the instance's VMM
    and supervisor).

    bench/functions.py ENVIRONMENT-NAME OUTPUT.json
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
import threading
import time
import urllib.request

from boot import ARROW, BUILD, ROOT, log, summary, write_result

FNSERVER = os.path.join(BUILD, "tests/guest/fnserver")
RUNS = int(os.environ.get("BENCH_FN_RUNS", "5"))
WARM_REQUESTS = int(os.environ.get("BENCH_FN_REQUESTS", "400"))
SCALE_N = int(os.environ.get("BENCH_FN_INSTANCES", "10"))
PORT = 18090
GW = f"http://127.0.0.1:{PORT}"
DEADLINE = 300


def get(url, timeout=120, data=None, method=None):
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return 0, str(e).encode()


def wait(what, cond, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: {what} did not happen within {timeout} s")
        time.sleep(0.02)


def timed_get(url):
    t = time.perf_counter()
    status, body = get(url)
    dt = time.perf_counter() - t
    if status != 200 or not body.startswith(b"hello from"):
        raise SystemExit(f"bench: {url}: {status} {body[:200]!r}")
    return dt


def status(name):
    s, body = get(f"{GW}/system/function/{name}")
    return json.loads(body) if s == 200 else None


def arrow(env, *args):
    r = subprocess.run([ARROW, *args], env=env, capture_output=True, timeout=DEADLINE)
    if r.returncode:
        raise SystemExit(f"bench: arrow {' '.join(args)}: {r.stderr.decode()}")
    return r.stdout.decode()


def rate(url, total, threads):
    """Requests per second of total GETs spread over threads."""
    errors = []

    def worker(n):
        for _ in range(n):
            s, body = get(url)
            if s != 200:
                errors.append((s, body[:100]))
    ts = [threading.Thread(target=worker, args=(total // threads,)) for _ in range(threads)]
    t = time.perf_counter()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    dt = time.perf_counter() - t
    if errors:
        raise SystemExit(f"bench: {len(errors)} failed requests to {url}: {errors[:3]}")
    return round(total // threads * threads / dt, 1)


def from_zero(name):
    """RUNS first requests, each after the function went back to zero instances."""
    samples = []
    for i in range(RUNS):
        wait("scale to zero", lambda: status(name) and status(name)["replicas"] == 0)
        samples.append(timed_get(f"{GW}/function/{name}/hello"))
        log(f"functions: from zero {i + 1}: {samples[-1] * 1000:.0f} ms")
    return samples


def accepting(ip, port):
    """Wait until ip:port accepts, probing as the gateway does for a clone (attempts of 50,
    100, 200, then 250 ms: a SYN lost while the guest's network is not up yet is not left to
    TCP's one-second retransmission), so both peers are timed to the same kind of probe."""
    deadline = time.monotonic() + DEADLINE
    tries = 0
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), timeout=(0.05 * 2 ** tries if tries < 3
                                                          else 0.25)).close()
            return
        except OSError:
            tries += 1
            time.sleep(0.02)
    raise SystemExit(f"bench: {ip}:{port} did not accept within {DEADLINE} s")


def cold_boots(env):
    samples = []
    for i in range(RUNS):
        t = time.perf_counter()
        aid = arrow(env, "run", "-d", FNSERVER).strip()
        cfg = json.load(open(os.path.join(env["ARROW_ROOT"], aid, "config.json")))
        url = f"http://{cfg['network']['ip']}:8080/hello"
        accepting(cfg["network"]["ip"], 8080)
        wait("the cold-booted server answering", lambda: get(url, timeout=5)[0] == 200)
        samples.append(time.perf_counter() - t)
        arrow(env, "rm", "-f", aid)
        log(f"functions: cold boot {i + 1}: {samples[-1] * 1000:.0f} ms")
    return samples


def native(port=18091):
    """Spawn-to-first-answer of the server run natively, and its rate; stopped after."""
    samples = []
    for _ in range(RUNS):
        t = time.perf_counter()
        p = subprocess.Popen([FNSERVER, str(port)], stdout=subprocess.DEVNULL)
        wait("the native server answering",
             lambda: get(f"http://127.0.0.1:{port}/hello", timeout=5)[0] == 200)
        samples.append(time.perf_counter() - t)
        p.send_signal(signal.SIGKILL)
        p.wait()
    p = subprocess.Popen([FNSERVER, str(port)], stdout=subprocess.DEVNULL)
    wait("the native server", lambda: get(f"http://127.0.0.1:{port}/hello", timeout=5)[0] == 200)
    warm = [timed_get(f"http://127.0.0.1:{port}/hello") for _ in range(50)]
    rps = rate(f"http://127.0.0.1:{port}/hello", WARM_REQUESTS, 8)
    p.send_signal(signal.SIGKILL)
    p.wait()
    return samples, warm, rps


def scale_and_memory(name):
    t = time.perf_counter()
    s, body = get(f"{GW}/system/scale-function/{name}", method="POST",
                  data=json.dumps({"replicas": SCALE_N}).encode())
    if s != 202:
        raise SystemExit(f"bench: scale-function: {s} {body!r}")
    wait(f"{SCALE_N} instances accepting",
         lambda: status(name) and status(name)["availableReplicas"] == SCALE_N)
    dt = time.perf_counter() - t
    _, text = get(f"{GW}/system/metrics")
    priv = [float(line.split()[-1]) for line in text.decode().splitlines()
            if line.startswith(f'arrow_fn_instance_private_bytes{{function="{name}"')]
    return {"instances": SCALE_N, "seconds": round(dt, 2), "per_second": round(SCALE_N / dt, 2),
            "private_kib_per_idle_instance": {
                "measure": "anonymous memory of the instance's VMM and supervisor (Pss_Anon, "
                           "summed): guest RAM it wrote, their heaps, stacks and data; not the "
                           "template pages it maps, which the next instance shares",
                "median": round(statistics.median(priv) / 1024),
                "min": round(min(priv) / 1024), "max": round(max(priv) / 1024),
                "instances": len(priv)}}


def main():
    env_name, output = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="arrow-fn.", dir="/tmp")
    env = dict(os.environ, ARROW_ROOT=os.path.join(tmp, "root"),
               ARROW_SNAPSHOTS=os.path.join(tmp, "snapshots"),
               ARROW_FUNCTIONS=os.path.join(tmp, "functions"))
    gw = None
    try:
        arrow(env, "fn", "deploy", "bzero", "--idle-timeout", "1", FNSERVER)
        arrow(env, "fn", "deploy", "bwarm", "--max", "1", "--concurrency", "8",
              "--idle-timeout", "0", FNSERVER)
        arrow(env, "fn", "deploy", "bfresh", "--fresh", "--max", "4", FNSERVER)
        arrow(env, "fn", "deploy", "bmany", "--max", str(SCALE_N), "--idle-timeout", "0",
              FNSERVER)
        gw = subprocess.Popen([ARROW, "serve", "--listen", f"127.0.0.1:{PORT}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "gw.log"), "w"))
        wait("the gateway", lambda: get(f"{GW}/healthz", timeout=5)[0] == 200)
        zero = from_zero("bzero")
        cold = cold_boots(env)
        native_start, native_warm, native_rps = native()
        timed_get(f"{GW}/function/bwarm/hello")  # its instance
        warm = [timed_get(f"{GW}/function/bwarm/hello") for _ in range(50)]
        warm_rps = rate(f"{GW}/function/bwarm/hello", WARM_REQUESTS, 8)
        fresh = [timed_get(f"{GW}/function/bfresh/hello") for _ in range(RUNS * 2)]
        fresh_rps = rate(f"{GW}/function/bfresh/hello", RUNS * 4, 4)
        scale = scale_and_memory("bmany")
        zs, cs = statistics.median(zero), statistics.median(cold)
        result = {
            "environment": env_name,
            "first_request": {"from zero (clone)": summary(zero), "cold-booted instance": summary(cold),
                              "warm instance": summary(warm), "native start": summary(native_start),
                              "native warm": summary(native_warm),
                              "from_zero_over_cold_boot": round(zs / cs, 3)},
            "requests_per_second": {"gateway, warm instance": warm_rps, "native": native_rps,
                                    "ratio": round(warm_rps / native_rps, 3),
                                    "requests": WARM_REQUESTS, "client_threads": 8},
            "fresh": {"per_request": summary(fresh), "requests_per_second": fresh_rps,
                      "client_threads": 4, "max": 4},
            "scale": scale,
        }
    finally:
        if gw:
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=DEADLINE)
        for name in ("bzero", "bwarm", "bfresh", "bmany"):
            subprocess.run([ARROW, "fn", "rm", name], env=env, capture_output=True)
        ids = subprocess.run([ARROW, "ps", "-aq"], env=env, capture_output=True).stdout.split()
        if ids:
            subprocess.run([ARROW, "rm", "-f", *[i.decode() for i in ids]], env=env,
                           capture_output=True)
        subprocess.run([ARROW, "network", "rm", "arrow-fn-deploy"], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    write_result(output, result)


if __name__ == "__main__":
    main()
