"""Images in real Arrows: Debian's redis-server and nginx, made into images with
`arrow build --from-host` and run from the image store (docs/images.md)."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import arrow, http_get

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from nginx_conf import NGINX_CONF  # noqa: E402
from oci_layout import make_layout  # noqa: E402


pytestmark = pytest.mark.usefixtures("images")


def ok(r):
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


def logs(name):
    r = arrow("logs", name)
    return (r.stdout + r.stderr).decode(errors="replace")


def redis_cli(port, *args, timeout=90):
    """redis-cli against the Arrow until it answers (it may still be booting)."""
    deadline = time.time() + timeout
    while True:
        r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                           text=True, timeout=30)
        if (r.returncode == 0 and "Connection refused" not in r.stdout + r.stderr) \
                or time.time() > deadline:
            return r
        time.sleep(0.5)


def test_redis_from_the_host_answers_ping_and_a_benchmark(stop_all):
    ok(arrow("build", "-t", "redis", "--from-host", "redis-server", "--expose", "6379", "--",
             "--protected-mode", "no", "--save", "", "--appendonly", "no"))
    assert "redis " in ok(arrow("images"))
    ok(arrow("run", "-d", "--name", "r1", "-p", "16379:6379", "redis"))
    r = redis_cli(16379, "PING")
    assert r.stdout.strip() == "PONG", (r.stdout, r.stderr, logs("r1"))
    assert redis_cli(16379, "SET", "k", "arrow").stdout.strip() == "OK"
    assert redis_cli(16379, "GET", "k").stdout.strip() == "arrow"
    b = subprocess.run(["redis-benchmark", "-p", "16379", "-n", "2000", "-c", "4", "-t",
                        "set,get", "-q"], capture_output=True, text=True, timeout=300)
    assert b.returncode == 0, b.stderr
    print(b.stdout)
    for op in ("SET", "GET"):
        line = next(l for l in b.stdout.replace("\r", "\n").splitlines()
                    if l.startswith(op + ":") and "requests per second" in l)
        assert float(line.split()[1]) > 0
    assert any(l.split()[1:3] == ["r1", "redis"] for l in ok(arrow("ps")).splitlines())
    # arguments after the image replace its Cmd
    out = ok(arrow("run", "--rm", "--network", "none", "redis", "--version"))
    assert out.startswith("Redis server v=")


def test_nginx_from_the_host_serves_a_page(stop_all, tmp_path):
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from an arrowized nginx\n")
    ok(arrow("build", "-t", "web", "--from-host", "/usr/sbin/nginx",
             "--file", f"{tmp_path / 'nginx.conf'}:/etc/nginx/nginx.conf",
             "--file", f"{www}:/srv/www", "--", "-e", "stderr", "-c", "/etc/nginx/nginx.conf"))
    ok(arrow("run", "-d", "--name", "web1", "-p", "18080:80", "web"))
    r = http_get("http://127.0.0.1:18080/index.html")
    assert r.returncode == 0 and r.stdout == b"hello from an arrowized nginx\n", \
        (r.stderr, logs("web1"))


def test_run_image_errors(images):
    r = arrow("run", "--rm", "no-such-image")
    assert r.returncode == 127 and b"not found in $PATH or the image store" in r.stderr
    ok(arrow("build", "-t", "envimg", "--from-host", "/usr/bin/env"))
    # an image whose layer blob went missing is refused with the reason, nothing booted
    index = json.load(open(images / "index.json"))
    manifest = json.load(open(images / "blobs" / "sha256" /
                              index["manifests"][0]["digest"][7:]))
    os.unlink(images / "blobs" / "sha256" / manifest["layers"][0]["digest"][7:])
    r = arrow("run", "--rm", "--network", "none", "envimg")
    assert r.returncode == 125 and b"cannot become an initramfs piece" in r.stderr
    assert arrow("ps", "-aq").stdout == b""


def test_an_image_made_by_umoci_imports_and_runs_its_layers_in_order(tmp_path):
    layout = make_layout(tmp_path)
    ok(arrow("import", "-t", "umoci-app", f"{layout}:app"))
    # Entrypoint busybox + Cmd "echo hello" from the image config
    assert ok(arrow("run", "--rm", "--network", "none", "umoci-app")) == "hello\n"
    # the second layer's file is there, the first layer's busybox runs it
    out = ok(arrow("run", "--rm", "--network", "none", "umoci-app", "cat", "/greeting"))
    assert out == "second layer\n"
    pieces = os.listdir(os.environ["ARROW_IMAGES"] + "/pieces")
    assert len(pieces) == 2 and all(p.endswith(".cpio") for p in pieces)


def test_an_arrowfile_image_runs_with_its_env_workdir_and_files(tmp_path):
    app = tmp_path / "app"
    (app / "bin").mkdir(parents=True)
    subprocess.run(["cp", "/bin/busybox", str(app / "bin")], check=True)
    (app / "app.conf").write_text("x=1\n")
    (app / "Arrowfile").write_text(json.dumps({
        "program": "bin/busybox", "args": ["sh", "-c", "cat /etc/app.conf; echo $MODE; pwd"],
        "env": {"MODE": "prod"}, "workdir": "/etc", "files": {"app.conf": "/etc/app.conf"}}))
    ok(arrow("build", "-t", "af", str(app)))
    assert ok(arrow("run", "--rm", "--network", "none", "af")) == "x=1\nprod\n/etc\n"
    # -e and -w override the image's
    out = ok(arrow("run", "--rm", "--network", "none", "-e", "MODE=dev", "-w", "/", "af"))
    assert out == "x=1\ndev\n/\n"
