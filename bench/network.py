#!/usr/bin/python3
"""HTTP over Arrow networks: wrk against busybox httpd (static, from Debian) inside an Arrow,
vs the same binary natively in a network namespace behind a veth pair, in the same run.

Targets: the Arrow's own address over the bridge (tap + virtio-net), the Arrow through its
published port on 127.0.0.1 (adds DNAT), and the native server's veth address. Two pages: a
small one (the Arrow's /etc/hosts, ~60 bytes) and a 60 KiB one (ainit, the Arrow's /init);
the native server gets byte-identical copies.

    bench/network.py ENVIRONMENT-NAME OUTPUT.json
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from boot import ARROW, ROOT, write_result

BUSYBOX = "/bin/busybox"
DURATION = os.environ.get("BENCH_WRK_SECONDS", "8")
CONNS = os.environ.get("BENCH_WRK_CONNECTIONS", "8")
NS = "arrow-bench"
NATIVE_IP = "10.199.0.2"


def sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, check=check, timeout=300)


def wait_http(url, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if subprocess.run(["curl", "-sf", "-m", "5", "-o", "/dev/null", url]).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{url} never answered")


def unit(value, suffix):
    scale = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "": 1.0, "k": 1e3, "M": 1e6,
             "B": 1.0, "KB": 1024.0, "MB": 1048576.0, "GB": 1073741824.0}
    return float(value) * scale[suffix]


def wrk(url):
    """Requests/s, transfer MiB/s and latency percentiles (ms) from `wrk --latency`."""
    r = sh("wrk", "-t1", f"-c{CONNS}", f"-d{DURATION}s", "--timeout", "10s", "--latency", url,
           check=False)
    text = r.stdout.decode()
    if r.returncode:
        raise RuntimeError(f"wrk {url} failed ({r.returncode}): {text} {r.stderr.decode()}")
    res = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))}
    m = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", text)
    res["mib_per_s"] = round(unit(m.group(1), m.group(2)) / 1048576, 2)
    for pct in ("50", "90", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(\w+)", text)
        res[f"p{pct}_ms"] = round(unit(m.group(1), m.group(2)), 2)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", text)
    if errors:
        raise RuntimeError(f"wrk reported errors against {url}:\n{text}")
    return res


def diagnose(root, arrow_id, arrow_ip):
    """What the host and the Arrow were doing when a step failed: printed, not kept."""
    print("bench: network section failed; the state it left:", file=sys.stderr)
    for cmd in (["ip", "neigh", "show"], ["ip", "-s", "link", "show", "master", "arrow0"],
                ["ip", "-d", "link", "show", "arrow0"], ["ip", "route", "get", arrow_ip],
                ["nft", "list", "table", "ip", "arrow"],
                ["sh", "-c", "cat /proc/net/nf_conntrack 2>/dev/null | grep -c . || true"],
                ["ping", "-c", "2", "-W", "1", arrow_ip],
                ["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}\\n",
                 f"http://{arrow_ip}/etc/hosts"],
                ["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}\\n",
                 "http://127.0.0.1:18080/etc/hosts"],
                ["ip", "neigh", "show"]):
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=30)
            out = (r.stdout + r.stderr).decode(errors="replace").strip()
        except (OSError, subprocess.TimeoutExpired) as e:
            out = str(e)
        print(f"bench: $ {' '.join(cmd)}\n{out}", file=sys.stderr)
    # arrowh's report of where the guest was (vCPUs, queues, NIC) goes to its log on a stop
    try:
        subprocess.run([ARROW, "stop", "-t", "2", arrow_id],
                       env=dict(os.environ, ARROW_ROOT=root), capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        print("bench: arrow stop did not return within 120 s", file=sys.stderr)
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from wedgesig import post_vmrun_rip
    wedge = post_vmrun_rip()
    seen = ""
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith("log"):
                try:
                    with open(os.path.join(dirpath, name), "rb") as f:
                        f.seek(0, os.SEEK_END)
                        f.seek(max(0, f.tell() - 6144))
                        tail = f.read().decode(errors="replace")
                except OSError as e:
                    tail = str(e)
                print(f"bench: tail of {os.path.join(dirpath, name)}:\n{tail}", file=sys.stderr)
                seen += tail
    # the helper VM's wedge (docs/machine.md): a vCPU reported at the instruction after
    # `vmrun` in the helper's own KVM; named here, never forgiven by this benchmark
    if wedge is not None and f"rip {wedge:#x}" in seen:
        print(f"bench: a vCPU was at rip {wedge:#x}, the instruction after vmrun in the "
              "helper kernel's __svm_vcpu_run: the helper VM's wedge signature "
              "(docs/machine.md, \"Peer comparison\")", file=sys.stderr)
    elif wedge is not None:
        print(f"bench: no vCPU at the helper's wedge address {wedge:#x}", file=sys.stderr)


def native_server(docroot):
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", "ab-host", "type", "veth", "peer", "name", "ab-ns", "netns", NS)
    sh("ip", "addr", "add", "10.199.0.1/30", "dev", "ab-host")
    sh("ip", "link", "set", "ab-host", "up")
    sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{NATIVE_IP}/30", "dev", "ab-ns")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "ab-ns", "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
    return subprocess.Popen(["ip", "netns", "exec", NS, BUSYBOX, "httpd", "-f", "-p", "80",
                             "-h", docroot])


def main():
    env_name, out_path = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(prefix="an-", dir="/tmp")
    env = dict(os.environ, ARROW_ROOT=root)
    docroot = tempfile.mkdtemp(prefix="an-www-")
    arrow_id = None
    arrow_ip = None
    native = None
    try:
        arrow_id = subprocess.run(
            [ARROW, "run", "-d", "-p", "18080:80", "--memory", "128m", BUSYBOX, "httpd", "-f",
             "-p", "80", "-h", "/"], env=env, capture_output=True, check=True,
            timeout=300).stdout.decode().strip()
        info = json.loads(subprocess.run([ARROW, "inspect", arrow_id], env=env,
                                         capture_output=True, check=True,
                                         timeout=60).stdout)[0]
        arrow_ip = info["NetworkSettings"]["ip"]
        wait_http(f"http://{arrow_ip}/etc/hosts")
        # byte-identical pages for the native server
        os.makedirs(os.path.join(docroot, "etc"))
        for page in ("etc/hosts", "init"):
            data = subprocess.run(["curl", "-sf", "-m", "30", f"http://{arrow_ip}/{page}"],
                                  capture_output=True, check=True, timeout=60).stdout
            with open(os.path.join(docroot, page), "wb") as f:
                f.write(data)
        native = native_server(docroot)
        wait_http(f"http://{NATIVE_IP}/etc/hosts")
        sizes = {"small": "etc/hosts", "60k": "init"}
        targets = {"arrow (bridge address)": f"http://{arrow_ip}",
                   "arrow (published port, 127.0.0.1)": "http://127.0.0.1:18080",
                   "native (veth, netns)": f"http://{NATIVE_IP}"}
        results = {}
        for size, page in sizes.items():
            for name, base in targets.items():  # warm-up (its figures are not kept)
                sh("wrk", "-t1", "-c2", "-d2s", f"{base}/{page}", check=False)
            for name, base in targets.items():
                print(f"bench: wrk {size} page, {name}", file=sys.stderr)
                results.setdefault(size, {})[name] = wrk(f"{base}/{page}")
        result = {"environment": env_name, "wrk": {"threads": 1, "connections": int(CONNS),
                                                   "seconds": int(DURATION)},
                  "page_bytes": {k: os.path.getsize(os.path.join(docroot, v))
                                 for k, v in sizes.items()},
                  "http": results}
        write_result(out_path, result)
    except Exception:
        if arrow_id and arrow_ip:
            try:
                diagnose(root, arrow_id, arrow_ip)
            except Exception as e:  # the step's own failure is the one to see
                print(f"bench: the diagnosis failed too: {e!r}", file=sys.stderr)
        raise
    finally:
        cleanup = []
        if native:
            native.kill()
            cleanup.append(lambda: native.wait(timeout=30))
        cleanup += [lambda: sh("ip", "netns", "del", NS, check=False),
                    lambda: sh("ip", "link", "del", "ab-host", check=False),
                    # whatever runs in this root, the Arrow of a timed-out `run -d` included
                    lambda: subprocess.run(
                        [ARROW, "rm", "-f", *subprocess.run(
                            [ARROW, "ps", "-aq"], env=env, capture_output=True, text=True,
                            timeout=60).stdout.split()],
                        env=env, capture_output=True, timeout=120)]
        for step in cleanup:
            try:
                step()
            except (OSError, subprocess.SubprocessError) as e:
                print(f"bench: clean-up step failed: {e!r}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(docroot, ignore_errors=True)


if __name__ == "__main__":
    main()
