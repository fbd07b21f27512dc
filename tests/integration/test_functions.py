"""Functions (docs/functions.md): arrow fn deploy makes a template of a listening server,
arrow-gateway (arrow serve) starts clones of it on demand, forwards requests, scales to
zero and back. Real Arrows inside the helper VM; the function is tests/guest/fnserver."""
import http.client
import re
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import ARROW, TIMEOUT, arrow, guest

PORT = 18080
GW = f"http://127.0.0.1:{PORT}"


def ok(r):
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    return r.stdout.decode()


@pytest.fixture(autouse=True)
def stores(tmp_path, monkeypatch):
    """A function store and a snapshot store of the test's own (a template's memory file is
    sealed: 0400 and, where the file system has it, immutable — since the helper kernel has
    CONFIG_TMPFS_XATTR, its tmpfs too; unsealed afterwards so the directory can go)."""
    from test_snapshots import unseal
    monkeypatch.setenv("ARROW_FUNCTIONS", str(tmp_path / "functions"))
    monkeypatch.setenv("ARROW_SNAPSHOTS", str(tmp_path / "snapshots"))
    yield
    for d, _, files in os.walk(str(tmp_path / "snapshots")):
        for f in files:
            unseal(os.path.join(d, f))
            os.chmod(os.path.join(d, f), 0o600)


def wait_for(what, cond, timeout=TIMEOUT, every=0.2):
    """Poll cond() until it returns something true; fail naming what did not happen."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            pytest.fail(f"{what} did not happen within {timeout}s")
        time.sleep(every)


class Gateway:
    def __init__(self, tmp_path, *args):
        self.log = open(tmp_path / f"gateway-{time.time_ns()}.log", "w+b")
        self.p = subprocess.Popen([ARROW, "serve", "--listen", f"127.0.0.1:{PORT}", *args],
                                  stdout=self.log, stderr=self.log)
        wait_for("the gateway answering /healthz",
                 lambda: self.p.poll() is not None or request("GET", "/healthz")[0] == 200)
        assert self.p.poll() is None, self.text()

    def text(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            self.p.wait(timeout=TIMEOUT)
        return self.p.returncode


@pytest.fixture
def gateway(tmp_path):
    gws = []

    def start(*args):
        gws.append(Gateway(tmp_path, *args))
        return gws[-1]
    yield start
    for g in gws:
        g.stop()
    # a gateway killed by the test leaves instances: what a new gateway would stop
    ok(arrow("fn", "ls"))
    ids = arrow("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        arrow("rm", "-f", *[i.decode() for i in ids], timeout=600)
    arrow("network", "rm", "arrow-fn-deploy")  # made by deploy; gone if unused


def test_deploy_uses_its_own_network():
    """Templates are taken on arrow-fn-deploy, instances join the default network: a
    clone can then never hold its template's address (docs/functions.md)."""
    deploy("net")
    meta = json.load(open(os.path.join(os.environ["ARROW_SNAPSHOTS"], "fn-net", "meta.json")))
    assert meta["network"] == "arrow-fn-deploy"
    ok(arrow("fn", "rm", "net"))
    ok(arrow("network", "rm", "arrow-fn-deploy"))


def request(method, path, body=None, timeout=TIMEOUT, headers=None):
    """(status, body bytes, headers) of one request to the gateway; (0, error) if none."""
    headers = dict(headers or {})
    if body is not None and path.startswith("/system/"):
        headers.setdefault("Content-Type", "application/json")  # as faas-cli sends it
    req = urllib.request.Request(GW + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        return 0, str(e).encode(), {}


def deploy(name, *opts):
    return ok(arrow("fn", "deploy", name, *opts, guest("fnserver")))


def anon_kib(pid):
    """A process's share of anonymous memory, in KiB (Pss_Anon of /proc/PID/smaps_rollup)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("Pss_Anon:"))


def instances(name):
    """Names of the running instances of function name, from arrow ps."""
    out = ok(arrow("ps", "--format", "json"))
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return sorted(r["Names"] for r in rows
                  if r["Names"].startswith(f"fn-{name}-") and r["Names"][len(name) + 4:].isdigit())


def available(name):
    """Instances of name the gateway has started and that accept (OpenFaaS status)."""
    status, body, _ = request("GET", f"/system/function/{name}")
    return json.loads(body)["availableReplicas"] if status == 200 else None


def metric(text, name, fn):
    for line in text.splitlines():
        if line.startswith(f'{name}{{function="{fn}"}} '):
            return float(line.split()[-1])
    return None


def test_deploy_invoke_scale_from_zero_and_api(gateway):
    deploy("hello", "--idle-timeout", "0")
    assert "hello" in ok(arrow("fn", "ls"))
    spec = json.loads(ok(arrow("fn", "inspect", "hello")))
    assert spec["port"] == 8080 and spec["template"] == "fn-hello" and spec["max"] == 4
    g = gateway()
    assert instances("hello") == []  # nothing runs before the first request
    status, body, hdrs = request("GET", "/function/hello/hello")
    assert status == 200, body
    assert body == b"hello from fn-hello-1\n"
    assert hdrs["X-Arrow-Instance"] == "fn-hello-1"
    assert instances("hello") == ["fn-hello-1"]
    # path, query and body reach the instance; headers come back
    status, body, hdrs = request("POST", "/function/hello/echo/x?a=1&b=2", b"payload")
    assert (status, body, hdrs["X-Path"]) == (200, b"payload", "/echo/x?a=1&b=2")
    r = arrow("fn", "invoke", "--gateway", f"127.0.0.1:{PORT}", "hello/echo", input=b"from cli")
    assert ok(r) == "from cli"
    r = arrow("fn", "invoke", "--gateway", f"127.0.0.1:{PORT}", "hello/nothing-here")
    assert r.returncode == 1 and b"HTTP 404" in r.stderr
    assert instances("hello") == ["fn-hello-1"]  # one instance served all of them
    # the OpenFaaS view and the metrics
    status, body, _ = request("GET", "/system/functions")
    fns = json.loads(body)
    assert status == 200 and [f["name"] for f in fns] == ["hello"]
    assert fns[0]["replicas"] == 1 and fns[0]["invocationCount"] == 4
    status, body, _ = request("GET", "/system/function/hello")
    assert status == 200 and json.loads(body)["availableReplicas"] == 1
    # every process of the instance counts: the jailed VMM and its supervisor
    info = json.loads(ok(arrow("inspect", "fn-hello-1")))[0]
    pids = {info["State"]["Pid"], info["Sandbox"]["VmmPid"]}
    assert len(pids) == 2, info
    before = sum(anon_kib(p) for p in pids)
    status, body, _ = request("GET", "/system/metrics")
    after = sum(anon_kib(p) for p in pids)
    text = body.decode()
    assert metric(text, "arrow_fn_invocations_total", "hello") == 4
    assert metric(text, "arrow_fn_clone_starts_total", "hello") == 1
    assert metric(text, "arrow_fn_instances", "hello") == 1
    assert 'arrow_fn_start_seconds_count{function="hello"} 1' in text
    mem = [l for l in text.splitlines() if l.startswith("arrow_fn_instance_private_bytes")]
    assert len(mem) == 1
    # the idle instance's memory moves by a page or two at most while the gateway reads it;
    # the supervisor's share is tens of KiB, so a VMM-only figure falls outside, and the
    # template pages a lone clone maps (MiBs, "private" while no other clone maps them) would
    # fall far outside
    kib = float(mem[0].split()[-1]) / 1024
    sup = anon_kib(info["State"]["Pid"])
    assert sup > 16, sup
    assert min(before, after) - 8 <= kib <= max(before, after) + 8, (mem, before, after, sup)
    assert kib < 4096, mem
    logs = ok(arrow("fn", "logs", "hello"))
    # the clone's log starts at the clone: the requests it served
    assert "==> fn-hello-1 <==" in logs and "fnserver: POST /echo/x?a=1&b=2" in logs
    assert g.stop() == 0
    assert instances("hello") == []  # a stopping gateway stops its instances
    ok(arrow("fn", "rm", "hello"))
    assert "hello" not in ok(arrow("fn", "ls"))


def test_redis_walkthrough(gateway, images):
    """docs/functions.md's walk-through, as written: redis built from the host's
    redis-server runs as an ordinary Arrow named cache; a function given REDIS_HOST=cache
    reaches it by name from every clone (fnserver's /counter: INCR hits, a connection per
    request). Two instances and a --fresh function share the one count."""
    ok(arrow("build", "-t", "redis", "--from-host", "redis-server", "--", "--protected-mode",
             "no", "--save", "", "--appendonly", "no"))
    ok(arrow("run", "-d", "--name", "cache", "redis"))
    deploy("counter", "--concurrency", "1", "-e", "REDIS_HOST=cache")
    deploy("fcounter", "--fresh", "-e", "REDIS_HOST=cache")
    gateway()
    counts = []
    # redis may still be starting when the first clone asks: the function answers 502 then
    status, body, _ = wait_for("redis answering through the function", lambda: (
        lambda r: r if r[0] == 200 else None)(request("GET", "/function/counter/counter")))
    counts.append(int(body))
    for _ in range(3):
        status, body, _ = request("GET", "/function/counter/counter")
        assert status == 200, body
        counts.append(int(body))
    # two at once with --concurrency 1: a second instance, the same redis
    with concurrent_requests(2, "/function/counter/sleep?ms=3000"):
        status, body, hdrs = request("GET", "/function/counter/counter")
    assert status == 200, body
    counts.append(int(body))
    status, body, _ = request("GET", "/function/fcounter/counter")
    assert status == 200, body
    counts.append(int(body))
    assert counts == list(range(counts[0], counts[0] + 6)), counts
    assert len(instances("counter")) >= 2
    ok(arrow("fn", "rm", "counter", "fcounter"))
    ok(arrow("rm", "-f", "cache"))


class concurrent_requests:
    """n requests to path in threads while the with-block runs; joined at its end."""
    def __init__(self, n, path):
        self.threads = [threading.Thread(target=request, args=("GET", path)) for _ in range(n)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(1)  # let them take the instances
        return self

    def __exit__(self, *exc):
        for t in self.threads:
            t.join()


def test_fifty_concurrent_invocations_within_max(gateway):
    deploy("many", "--max", "3", "--concurrency", "4", "--queue", "100", "--timeout", "120")
    g = gateway()
    results, seen_max, done = {}, [0], threading.Event()

    def watch():  # --max holds at every moment, as arrow ps sees it
        while not done.is_set():
            seen_max[0] = max(seen_max[0], len(instances("many")))
            time.sleep(0.2)

    def one(i):
        results[i] = request("POST", "/function/many/echo", f"request {i}".encode())
    w = threading.Thread(target=watch)
    w.start()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    w.join()
    bad = {i: r[:2] for i, r in results.items() if r[:2] != (200, f"request {i}".encode())}
    # on failure: the gateway's reason (its answer body), its log and what instances logged
    assert len(results) == 50 and not bad, (
        f"{bad}\n--- gateway log ---\n{g.text()[-20000:]}\n--- arrow fn logs many ---\n"
        + arrow("fn", "logs", "many").stdout.decode(errors="replace")[-6000:]
        + "\n--- arrow ps -a ---\n" + arrow("ps", "-a").stdout.decode(errors="replace"))
    used = {r[2]["X-Arrow-Instance"] for r in results.values()}
    assert 1 <= len(used) <= 3
    assert seen_max[0] <= 3 and len(instances("many")) <= 3


def test_streamed_answer_arrives_as_it_is_written(gateway):
    """The answer's body is passed on as the instance writes it, not once it has ended."""
    deploy("stream", "--max", "1", "--concurrency", "2")
    gateway()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=TIMEOUT)
    conn.request("GET", "/function/stream/stream")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("X-Arrow-Instance") == "fn-stream-1"
    # the server writes the rest only after /release: this line came through on its own
    assert resp.readline() == b"first\n"
    assert request("GET", "/function/stream/release")[:2] == (200, b"released\n")
    assert resp.read() == b"last\n"
    conn.close()


def test_scale_to_zero_after_idle_and_back(gateway):
    deploy("idle", "--idle-timeout", "2")
    gateway()
    assert request("GET", "/function/idle/hello")[0] == 200
    assert instances("idle") == ["fn-idle-1"]
    wait_for("scale to zero", lambda: instances("idle") == [])
    status, body, _ = request("GET", "/function/idle/hello")
    assert (status, body) == (200, b"hello from fn-idle-2\n")


def test_full_queue_gets_429(gateway):
    deploy("busy", "--max", "1", "--concurrency", "1", "--queue", "1", "--timeout", "120")
    gateway()
    out = {}
    a = threading.Thread(target=lambda: out.update(a=request("GET", "/function/busy/sleep?ms=10000")))
    a.start()
    wait_for("the first request holding the only instance", lambda: metric(
        request("GET", "/system/metrics")[1].decode(), "arrow_fn_instances", "busy") == 1)
    b = threading.Thread(target=lambda: out.update(b=request("GET", "/function/busy/hello")))
    b.start()
    wait_for("the second request queued", lambda: metric(
        request("GET", "/system/metrics")[1].decode(), "arrow_fn_queue_length", "busy") == 1)
    status, body, _ = request("GET", "/function/busy/hello")
    assert status == 429 and b"busy" in body and b"--queue 1" in body, body
    a.join()
    b.join()
    assert out["a"][:2] == (200, b"slept 10000\n")
    assert out["b"][:2] == (200, b"hello from fn-busy-1\n")
    assert len(instances("busy")) == 1


def test_crash_gives_502_then_a_fresh_instance(gateway):
    deploy("crashy")
    gateway()
    assert request("GET", "/function/crashy/hello")[:2] == (200, b"hello from fn-crashy-1\n")
    status, body, _ = request("GET", "/function/crashy/crash")
    assert status == 502 and b"instance failed" in body, body
    status, body, hdrs = request("GET", "/function/crashy/hello")
    assert (status, body) == (200, b"hello from fn-crashy-2\n")
    wait_for("the crashed instance removed", lambda: instances("crashy") == ["fn-crashy-2"])


def test_hang_gives_504_after_timeout(gateway):
    deploy("hangs", "--timeout", "3")
    g = gateway()
    t0 = time.monotonic()
    status, body, _ = request("GET", "/function/hangs/hang")
    assert status == 504 and b"timeout" in body, body
    assert time.monotonic() - t0 >= 3
    status, body, _ = request("GET", "/function/hangs/hello")
    assert (status, body) == (200, b"hello from fn-hangs-2\n")
    # The gateway's log tells where the request failed (the connection was made, the request
    # went out, no answer came) and keeps the failed instance's last words: arrowh's report of
    # the stop (vCPUs, device queues) before its state was removed.
    wait_for("the failed instance's report in the gateway's log",
             lambda: "fn-hangs-1: arrowh: net: rx" in g.text())
    log = g.text()
    assert re.search(r"GET /hang to [0-9.]+:[0-9]+ failed after [0-9.]+ s \(504\): Timeout was "
                     r"reached; connected after [0-9.]+ s", log), log
    assert "fn-hangs-1 failed a request (504)" in log, log
    assert "fn-hangs-1: arrowh: vCPU 0 stopped at rip" in log, log


def test_fresh_gives_every_request_its_own_instance(gateway):
    deploy("fresh", "--fresh", "--max", "2")
    gateway()
    ids = []
    for _ in range(3):
        status, body, hdrs = request("GET", "/function/fresh/id")
        assert status == 200, body
        boot, host = body.decode().split()
        assert host == hdrs["X-Arrow-Instance"]
        ids.append((boot, host))
    assert len({b for b, _ in ids}) == 3 and len({h for _, h in ids}) == 3
    wait_for("every fresh instance destroyed", lambda: instances("fresh") == [])


def test_gateway_restart_keeps_deployments_and_min_pool(gateway):
    deploy("warm", "--min", "1")
    g = gateway()
    wait_for("the warm pool", lambda: available("warm") == 1)
    assert instances("warm") == ["fn-warm-1"]
    g.stop(signal.SIGKILL)  # a dead gateway leaves its instance running
    assert instances("warm") == ["fn-warm-1"]
    g2 = gateway()
    assert "stopped 1 instance" in g2.text()
    wait_for("a new warm pool", lambda: available("warm") == 1)  # started, not starting
    assert instances("warm") == ["fn-warm-1"]
    status, body, _ = request("GET", "/function/warm/hello")
    assert (status, body) == (200, b"hello from fn-warm-1\n")


def test_openfaas_api_deploy_scale_delete(gateway):
    gateway()
    spec = {"service": "api", "image": guest("fnserver"), "envVars": {"A": "1"},
            "labels": {"com.openfaas.scale.max": "2"}}
    status, body, _ = request("POST", "/system/functions", json.dumps(spec).encode())
    assert status == 202, body
    status, body, _ = request("POST", "/system/functions", json.dumps(spec).encode())
    assert status == 409, body
    assert json.loads(ok(arrow("fn", "inspect", "api")))["env"] == ["A=1"]
    assert request("GET", "/function/api/hello")[:2] == (200, b"hello from fn-api-1\n")
    status, body, _ = request("POST", "/system/scale-function/api",
                              json.dumps({"serviceName": "api", "replicas": 2}).encode())
    assert status == 202, body
    wait_for("scaled to 2", lambda: len(instances("api")) == 2)
    status, body, _ = request("DELETE", "/system/functions",
                              json.dumps({"functionName": "api"}).encode())
    assert status == 200, body
    assert request("GET", "/function/api/hello")[0] == 404
    assert request("GET", "/system/function/api")[0] == 404
    wait_for("its instances stopped", lambda: instances("api") == [])


def test_api_deploy_does_not_hold_back_other_functions(gateway):
    """A deploy through the API boots its function (here one that waits 40 s before it
    listens) in a process of its own: meanwhile another function still scales from zero."""
    deploy("quick")
    gateway()
    spec = {"service": "slow", "image": guest("fnserver"),
            "envVars": {"LISTEN_DELAY_MS": "40000"}}
    result = {}

    def slow_deploy():
        result["deploy"] = request("POST", "/system/functions", json.dumps(spec).encode())
    t = threading.Thread(target=slow_deploy)
    t.start()
    wait_for("the slow deployment booting", lambda: "fn-slow-deploy" in ok(arrow("ps")))
    status, body, _ = request("GET", "/function/quick/hello")
    assert (status, body) == (200, b"hello from fn-quick-1\n")
    still_deploying = t.is_alive()
    t.join(timeout=TIMEOUT)
    assert still_deploying, "quick answered only after the slow deployment had ended"
    assert result["deploy"][0] == 202, result["deploy"]
    assert request("GET", "/function/slow/hello")[:2] == (200, b"hello from fn-slow-1\n")


def test_sigterm_ends_waiting_requests_and_the_gateway(gateway):
    """SIGTERM while a request waits on a hanging instance (its --timeout is 10 minutes):
    the request ends (503, or its connection closed), the gateway exits 0 and stops its
    instances; nothing waits for the function."""
    deploy("stuck", "--timeout", "600")
    g = gateway()
    result = {}

    def hang():
        result["hang"] = request("GET", "/function/stuck/hang", timeout=900)
    t = threading.Thread(target=hang)
    t.start()
    wait_for("the request forwarded", lambda: "GET /hang" in ok(arrow("fn", "logs", "stuck")))
    g.p.send_signal(signal.SIGTERM)
    assert g.p.wait(timeout=120) == 0, g.text()
    t.join(timeout=120)
    assert not t.is_alive(), "the request still waits after the gateway stopped"
    assert result["hang"][0] in (503, 0), result["hang"]
    assert instances("stuck") == [], g.text()


@pytest.mark.host_only
def test_bad_input(gateway, tmp_path):
    gateway("--max-body", "1000")
    assert request("GET", "/function/nope")[0] == 404
    for bad in ["Bad", "a_b", "a-", "x" * 49, "a.b"]:
        status, body, _ = request("GET", f"/function/{bad}/x")
        assert status == 400 and b"bad function name" in body, (bad, body)
        r = arrow("fn", "deploy", bad, guest("fnserver"))
        assert r.returncode == 125 and b"not a function name" in r.stderr
    status, body, _ = request("POST", "/function/nope", b"x" * 1001)
    assert status == 413 and b"1000 bytes" in body
    for body in [b"{bad", b"[1]", b'{"service": "x"}', b'{"service": "x", "image": 3}',
                 b'{"service": "x", "image": "y", "envVars": []}',
                 b'{"service": "x", "image": "y", "labels": {"com.openfaas.scale.max": "z"}}']:
        status, text, _ = request("POST", "/system/functions", body)
        assert status == 400, (body, text)
    assert request("POST", "/system/scale-function/x", b'{"replicas": -1}')[0] == 400
    assert request("DELETE", "/system/functions", b'{"functionName": "no"}')[0] == 404
    assert request("PATCH", "/system/info")[0] == 405
    # what a web page could send: a cross-site form post, a page reached by DNS rebinding
    status, text, _ = request("POST", "/system/scale-function/x", b'{"replicas": 1}',
                              headers={"Content-Type": "text/plain"})
    assert status == 415 and b"application/json" in text, text
    status, text, _ = request("GET", "/system/functions", headers={"Host": "evil.example:80"})
    assert status == 421 and b"host name" in text, text
    assert request("GET", "/system/functions", headers={"Host": "localhost:1"})[0] == 200
    assert request("GET", "/system/namespaces")[:2] == (200, b'["arrow"]')
    for opts in [["--port", "0x1"], ["--max", "65"], ["--min", "5", "--max", "2"],
                 ["--timeout", "0"], ["--concurrency", "-1"]]:
        r = arrow("fn", "deploy", "ok", *opts, guest("fnserver"))
        assert r.returncode == 125 and r.stderr, opts
    r = arrow("fn", "rm", "nothing")
    assert r.returncode == 125 and b"no such function" in r.stderr
    # a damaged deployment is refused with a reason, not served
    d = tmp_path / "functions" / "dam"
    d.mkdir(parents=True)
    (d / "function.json").write_text('{"name": "dam", "program": "/x", "port": 70000}')
    r = arrow("fn", "inspect", "dam")
    assert r.returncode == 125 and b"'port'" in r.stderr
    assert request("GET", "/function/dam")[0] in (404, 500)
