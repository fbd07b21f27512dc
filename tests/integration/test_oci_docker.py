"""Docker drives arrow-oci (docs/oci.md, "Docker"): dockerd with arrow-oci registered as a
runtime (daemon.json "runtimes"), `docker run --runtime arrow`, through Docker's own
containerd and its runc shim, as a Docker user would. A dockerd of the test's own: its
state, storage (vfs) and socket in the test's directory, in a network namespace of its own
(unshare --net) so that its bridge, veths and port proxies touch nothing else. Docker's
default bridge network reaches the Arrow the way it reaches a runc container: libnetwork's
prestart hook furnishes the container's fresh network namespace, and the guest takes the
interface (tests/integration/test_oci_net.py shows the mechanism without Docker)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BUSYBOX, TIMEOUT
from test_oci import OCI

DOCKERD, DOCKER = "/usr/sbin/dockerd", "/usr/bin/docker"  # Debian's docker.io


@pytest.fixture
def docker(tmp_path, request):
    if not os.path.exists(DOCKERD) or not os.path.exists(DOCKER):
        pytest.skip("docker.io is not installed (apt-get install docker.io)")
    if not os.path.ismount("/sys/fs/cgroup"):
        subprocess.run(["mount", "-t", "cgroup2", "none", "/sys/fs/cgroup"], check=True)
    base = tmp_path / "docker"
    base.mkdir()
    # containerd's sockets under exec-root must fit a unix address (104 bytes): a short one
    short = tempfile.mkdtemp(prefix="dk-", dir="/tmp")
    request.addfinalizer(lambda: shutil.rmtree(short, ignore_errors=True))
    sock = os.path.join(short, "docker.sock")
    (base / "daemon.json").write_text(json.dumps({
        "data-root": str(base / "data"),
        "exec-root": os.path.join(short, "exec"),
        "pidfile": str(base / "docker.pid"),
        "hosts": [f"unix://{sock}"],
        "storage-driver": "vfs",
        # the helper's /etc is read-only: dockerd 20.10 keeps its identity key here instead
        "deprecated-key-path": str(base / "key.json"),
        # no NAT rules: published ports go through docker-proxy, in dockerd's own namespace
        "iptables": False,
        "runtimes": {"arrow": {"path": OCI}},
    }))
    log = open(base / "dockerd.log", "wb")
    # a new namespace's loopback is down: up, for the published port on 127.0.0.1
    daemon = subprocess.Popen(["unshare", "--net", "--", "sh", "-c",
                               'ip link set lo up && exec "$0" --config-file "$1"', DOCKERD,
                               str(base / "daemon.json")], stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)

    def stop():
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
        log.close()
    request.addfinalizer(stop)

    def run(*args, timeout=TIMEOUT, **kw):
        return subprocess.run([DOCKER, "-H", f"unix://{sock}", *args], capture_output=True,
                              timeout=timeout, **kw)

    deadline = time.time() + 120
    while run("version", timeout=30).returncode != 0:
        assert daemon.poll() is None, (base / "dockerd.log").read_text()[-4000:]
        assert time.time() < deadline, "dockerd did not answer in 120 s"
        time.sleep(0.5)
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for a in ("sh", "echo", "cat", "sleep", "ip", "httpd", "wget", "hostname", "id"):
        os.symlink("busybox", rootfs / "bin" / a)
    (rootfs / "www").mkdir()
    (rootfs / "www" / "index.html").write_text("hello from a docker arrow\n")
    tar = subprocess.run(["tar", "-C", str(rootfs), "-cf", "-", "."], capture_output=True,
                         check=True).stdout
    r = run("import", "-c", "ENV PATH=/bin", "-", "arrowtest/bb:1", input=tar, timeout=300)
    assert r.returncode == 0, r.stderr
    run.log = base / "dockerd.log"
    run.pid = daemon.pid
    return run


def in_dockerd_ns(pid, *cmd):
    """A command in dockerd's network namespace (unshare execs sh, which execs dockerd)."""
    return subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", *cmd], capture_output=True,
                          text=True, timeout=60)


def test_docker_runs_containers_as_arrows(docker):
    def why(r):
        return f"{r.stderr.decode(errors='replace')}\n{docker.log.read_text()[-3000:]}"

    r = docker("run", "--rm", "--runtime", "arrow", "arrowtest/bb:1", "echo", "hi from docker")
    assert (r.returncode, r.stdout) == (0, b"hi from docker\n"), why(r)
    r = docker("run", "--rm", "--runtime", "arrow", "-e", "X=ex", "-w", "/www", "-u", "1000:1000",
               "arrowtest/bb:1", "sh", "-c", "echo $X $(pwd) $(id -u):$(id -g); echo err >&2; exit 7")
    assert r.returncode == 7 and r.stdout == b"ex /www 1000:1000\n" and b"err" in r.stderr, why(r)
    # --network none: a fresh namespace left empty, loopback only
    r = docker("run", "--rm", "--runtime", "arrow", "--network", "none", "arrowtest/bb:1",
               "ip", "-o", "link")
    assert r.returncode == 0 and b"lo" in r.stdout and b"eth0" not in r.stdout, why(r)


def test_docker_bridge_network_port_exec_stop(docker):
    def why(r):
        return f"{r.stderr.decode(errors='replace')}\n{docker.log.read_text()[-3000:]}"

    r = docker("run", "-d", "--name", "web", "--runtime", "arrow", "-p", "8080:80",
               "arrowtest/bb:1", "httpd", "-f", "-p", "80", "-h", "/www")
    assert r.returncode == 0, why(r)
    try:
        info = json.loads(docker("inspect", "web").stdout)[0]
        assert info["State"]["Running"], info["State"]
        addr = info["NetworkSettings"]["IPAddress"]
        assert addr.startswith("172."), info["NetworkSettings"]
        # the guest holds the address Docker gave the container: on the bridge and published
        deadline = time.time() + TIMEOUT
        while True:
            got = in_dockerd_ns(docker.pid, "wget", "-q", "-O", "-", "-T", "5",
                                f"http://{addr}/")
            if got.returncode == 0 or time.time() > deadline:
                break
            time.sleep(1)
        assert got.stdout == "hello from a docker arrow\n", got.stderr
        got = in_dockerd_ns(docker.pid, "wget", "-q", "-O", "-", "-T", "10",
                            "http://127.0.0.1:8080/")
        assert got.stdout == "hello from a docker arrow\n", got.stderr
        r = docker("exec", "web", "sh", "-c", "ip -4 -o addr show eth0; hostname")
        assert r.returncode == 0 and f"inet {addr}/".encode() in r.stdout, why(r)
        r = docker("stop", "-t", "5", "web")
        assert r.returncode == 0, why(r)
        state = json.loads(docker("inspect", "web").stdout)[0]["State"]
        assert not state["Running"] and state["ExitCode"] in (0, 143, 137), state
    finally:
        r = docker("rm", "-f", "web")
    assert r.returncode == 0, why(r)
    assert docker("ps", "-aq").stdout == b""
