"""podman with arrow-oci as its runtime, as the tests drive it: rootful, vfs storage and
state on the test's tmpfs, cgroupfs, and an image imported from a busybox tree."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, BUSYBOX, TIMEOUT

OCI = os.path.join(BUILD, "bin", "arrow-oci")


def require_podman():
    """podman's path; the test is skipped, saying why, where podman or conmon is missing."""
    exe = shutil.which("podman")
    if not exe or not shutil.which("conmon"):
        pytest.skip("podman and conmon are not installed (apt-get install podman)")
    return exe


def podman_with_image(tmp_path, request, image, applets, files=None, network_dir=None):
    """A function running `podman ARGS...` (CompletedProcess) once image is imported: busybox
    with the given applets, plus files {path in the image: text}. network_dir: podman's
    --network-config-dir."""
    exe = require_podman()
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")
    for a in applets:
        os.symlink("busybox", rootfs / "bin" / a)
    for path, text in (files or {}).items():
        (rootfs / path).parent.mkdir(parents=True, exist_ok=True)
        (rootfs / path).write_text(text)
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tmp_path / "rootfs.tar"), "."],
                   check=True)
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    runroot = tempfile.mkdtemp(prefix="pr-", dir="/tmp")  # podman takes 50 bytes at most
    request.addfinalizer(lambda: shutil.rmtree(runroot, ignore_errors=True))
    base = [exe, "--root", str(tmp_path / "storage"), "--runroot", runroot,
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            *(["--network-config-dir", str(network_dir)] if network_dir else []),
            "--runtime", OCI]

    def pm(*args, timeout=TIMEOUT, **kw):
        return subprocess.run([*base, *args], capture_output=True, env=env, timeout=timeout, **kw)

    pm.argv, pm.env = base, env  # for a caller that runs podman itself (on a terminal)

    r = pm("import", str(tmp_path / "rootfs.tar"), image, timeout=300)
    assert r.returncode == 0, r.stderr
    return pm
