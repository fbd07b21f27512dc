"""containerd drives arrow-oci through its runc shim (io.containerd.runc.v2 with the shim's
BinaryName, here ctr's --runc-binary), as Kubernetes' containerd does for a RuntimeClass
(docs/oci.md): the container's output and exit status come back through the shim, a
detached task is killed and deleted. A containerd of the test's own, on a socket in the
test's directory, with a plain directory as the container's root (ctr --rootfs)."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import BUSYBOX, TIMEOUT
from test_oci import OCI


@pytest.fixture
def ctr(tmp_path, request):
    exe = shutil.which("containerd")
    if not exe or not shutil.which("ctr") or not shutil.which("containerd-shim-runc-v2"):
        pytest.skip("containerd is not installed (apt-get install containerd)")
    base = tmp_path / "containerd"
    base.mkdir()
    sock = base / "c.sock"
    (base / "config.toml").write_text(f"""version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
""")
    log = open(base / "containerd.log", "wb")
    daemon = subprocess.Popen([exe, "--config", str(base / "config.toml")], stdout=log,
                              stderr=subprocess.STDOUT)

    def stop():
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
    request.addfinalizer(stop)
    deadline = time.time() + 60
    while not sock.exists():
        assert daemon.poll() is None, (base / "containerd.log").read_text()
        assert time.time() < deadline, "containerd did not listen in 60 s"
        time.sleep(0.2)
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for a in ("sh", "echo", "sleep", "cat"):
        os.symlink("busybox", rootfs / "bin" / a)

    def run(*args, timeout=TIMEOUT):
        return subprocess.run(["ctr", "--address", str(sock), *args], capture_output=True,
                              timeout=timeout)

    run.rootfs = str(rootfs)
    run.log = base / "containerd.log"
    return run


def test_containerd_runs_containers_as_arrows_through_its_runc_shim(ctr):
    common = ["--rootfs", "--runtime", "io.containerd.runc.v2", "--runc-binary", OCI]
    r = ctr("run", "--rm", *common, ctr.rootfs, "c1", "echo", "hi from an arrow")
    assert (r.returncode, r.stdout) == (0, b"hi from an arrow\n"), (r.stderr, ctr.log.read_text())
    r = ctr("run", "--rm", *common, ctr.rootfs, "c2", "sh", "-c", "echo out; echo err >&2; exit 5")
    assert (r.returncode, r.stdout) == (5, b"out\n") and b"err" in r.stderr, r.stderr
    # detached: the task runs until it is killed, then it is deleted with its container
    r = ctr("run", "-d", *common, ctr.rootfs, "c3", "sleep", "1000")
    assert r.returncode == 0, r.stderr
    deadline = time.time() + TIMEOUT
    while b"RUNNING" not in ctr("task", "ls").stdout:
        assert time.time() < deadline, ctr("task", "ls").stdout
        time.sleep(0.5)
    assert ctr("task", "kill", "--signal", "SIGKILL", "c3").returncode == 0
    while b"STOPPED" not in ctr("task", "ls").stdout:
        assert time.time() < deadline, ctr("task", "ls").stdout
        time.sleep(0.5)
    r = ctr("task", "delete", "c3")
    assert r.returncode == 0, r.stderr
    r = ctr("container", "delete", "c3")
    assert r.returncode == 0, r.stderr
    assert b"c3" not in ctr("task", "ls").stdout
