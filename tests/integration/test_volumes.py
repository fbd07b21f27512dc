"""Volumes (-v HOSTDIR:GUESTDIR[:ro]): host directories served by arrowh over virtio-9p
(docs/volumes.md), seen from real Arrows."""
import hashlib
import os
import sys

import pytest

from conftest import BUSYBOX, arrow, http_get

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from nginx_conf import NGINX_CONF  # noqa: E402


pytestmark = pytest.mark.usefixtures("images")


def sh(*args, script):
    return arrow("run", "--rm", "--network", "none", *args, BUSYBOX, "sh", "-c", script)


def test_read_write_volume_both_ways(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "from-host.txt").write_text("written on the host\n")
    big = os.urandom(5 << 20)
    (data / "big").write_bytes(big)
    # :U gives the directory to the sandbox's user (docs/volumes.md): arrowh serves it as that user
    r = sh("-v", f"{data}:/data:U", script=(
        "cat /data/from-host.txt && echo made-inside > /data/new.txt && mkdir /data/d && "
        "echo x > /data/d/f && mv /data/d/f /data/d/g && ln -s new.txt /data/link && "
        "rm /data/from-host.txt && sha256sum /data/big && ls /data"))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("written on the host\n")
    assert hashlib.sha256(big).hexdigest() in out
    assert (data / "new.txt").read_text() == "made-inside\n"
    assert (data / "d" / "g").read_text() == "x\n"
    assert os.readlink(data / "link") == "new.txt"
    assert not (data / "from-host.txt").exists()


def test_read_only_volume_refuses_writes(tmp_path):
    data = tmp_path / "ro"
    data.mkdir()
    (data / "f").write_text("keep\n")
    r = sh("-v", f"{data}:/ro:ro", script=(
        "cat /ro/f; echo x > /ro/f; echo rc=$?; touch /ro/new; echo rc=$?; rm /ro/f; echo rc=$?"))
    out = r.stdout.decode()
    assert out.startswith("keep\n") and out.count("rc=1") == 3, (out, r.stderr)
    assert b"Read-only file system" in r.stderr
    assert (data / "f").read_text() == "keep\n" and os.listdir(data) == ["f"]


def test_nothing_outside_the_shared_directory_is_reachable(tmp_path):
    (tmp_path / "secret").write_text("host secret\n")
    share = tmp_path / "share"
    share.mkdir()
    os.symlink("../secret", share / "up")
    os.symlink("/", share / "root")
    os.symlink(str(tmp_path / "secret"), share / "abs")
    # symlinks are resolved by the guest, inside the guest: none of them reaches the host file
    r = sh("-v", f"{share}:/share", script=(
        "cat /share/up /share/abs /share/root/secret 2>&1; ls /share/..; "
        f"ls /share/root{tmp_path} 2>&1; echo end"))
    out = r.stdout.decode()
    assert "host secret" not in out, out
    assert out.rstrip().endswith("end")
    assert "app" in out  # /share/.. is the guest's own root


def test_nginx_serves_a_read_only_volume(stop_all, tmp_path):
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("served from a volume\n")
    r = arrow("build", "-t", "webv", "--from-host", "/usr/sbin/nginx", "--file",
              f"{tmp_path / 'nginx.conf'}:/etc/nginx/nginx.conf", "--", "-e", "stderr", "-c",
              "/etc/nginx/nginx.conf")
    assert r.returncode == 0, r.stderr
    r = arrow("run", "-d", "--name", "webv", "-p", "18081:80", "-v", f"{www}:/srv/www:ro", "webv")
    assert r.returncode == 0, r.stderr
    got = http_get("http://127.0.0.1:18081/index.html")
    assert got.returncode == 0 and got.stdout == b"served from a volume\n", got.stderr
    # the host changes the page: the next request sees it (no cache in the guest)
    (www / "index.html").write_text("changed on the host\n")
    got = http_get("http://127.0.0.1:18081/index.html")
    assert got.stdout == b"changed on the host\n"


def test_volume_errors(tmp_path, stop_all):
    r = sh("-v", f"{tmp_path}/nope:/data", script="true")
    assert r.returncode == 125 and b"volume" in r.stderr and b"No such file" in r.stderr
    (tmp_path / "file").write_text("x")
    r = sh("-v", f"{tmp_path}/file:/data", script="true")
    assert r.returncode == 125 and b"not a directory" in r.stderr
    for bad in (f"{tmp_path}:/proc", f"{tmp_path}:relative", f"{tmp_path}", f"{tmp_path}:/etc"):
        r = sh("-v", bad, script="true")
        assert r.returncode == 125 and b"--volume" in r.stderr, (bad, r.stderr)
    r = arrow("template", "create", "tv", "-v", f"{tmp_path}:/data", BUSYBOX, "true")
    assert r.returncode == 125 and b"templates" in r.stderr
    r = arrow("run", "-d", "--name", "withvol", "--network", "none", "-v", f"{tmp_path}:/data",
              BUSYBOX, "sleep", "60")
    assert r.returncode == 0, r.stderr
    r = arrow("snapshot", "withvol", "s1")
    assert r.returncode == 125 and b"volumes" in r.stderr
