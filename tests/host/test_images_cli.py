"""The image store through the CLI: build --from-host, images, tag, rmi (no VM needed)."""
import json
import os
import subprocess
import sys
import tarfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from oci_layout import make_layout  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARROW = os.environ.get("ARROW_CLI", os.path.join(ROOT, "build", "bin", "arrow"))


@pytest.fixture
def store(tmp_path, monkeypatch):
    d = tmp_path / "images"
    monkeypatch.setenv("ARROW_IMAGES", str(d))
    return d


def arrow(*args):
    return subprocess.run([ARROW, *args], capture_output=True, text=True, timeout=120)


def ok(*args):
    r = arrow(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def blobs(store):
    return sorted(os.listdir(store / "blobs" / "sha256"))


def layer_names(store, ref):
    index = json.load(open(store / "index.json"))
    desc = next(m for m in index["manifests"]
                if m["annotations"]["org.opencontainers.image.ref.name"] == ref)
    manifest = json.load(open(store / "blobs" / "sha256" / desc["digest"][7:]))
    layer = manifest["layers"][0]["digest"][7:]
    with tarfile.open(store / "blobs" / "sha256" / layer) as t:
        return manifest, t.getnames()


def test_build_from_host_collects_loader_and_libraries(store, tmp_path):
    conf = tmp_path / "redis.conf"
    conf.write_text("port 6379\n")
    out = ok("build", "-t", "redis", "--from-host", "redis-server", "--file",
             f"{conf}:/etc/redis/redis.conf", "-e", "A=1", "--expose", "6379", "--",
             "/etc/redis/redis.conf")
    assert "redis:latest" in out and "image id" in out
    manifest, names = layer_names(store, "redis:latest")
    # the program, its ELF interpreter and libraries it really needs (DT_NEEDED, transitively)
    for need in ("usr/bin/redis-server", "lib64/ld-linux-x86-64.so.2",
                 "lib/x86_64-linux-gnu/libc.so.6", "etc/redis/redis.conf"):
        assert need in names, names
    assert any(n.startswith("lib/x86_64-linux-gnu/libssl.so") for n in names)
    cfg = json.load(open(store / "blobs" / "sha256" / manifest["config"]["digest"][7:]))
    assert cfg["config"]["Entrypoint"] == ["/usr/bin/redis-server"]
    assert cfg["config"]["Cmd"] == ["/etc/redis/redis.conf"]
    assert "A=1" in cfg["config"]["Env"]
    assert cfg["config"]["ExposedPorts"] == {"6379/tcp": {}}
    assert cfg["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
    assert json.load(open(store / "oci-layout")) == {"imageLayoutVersion": "1.0.0"}


def test_identical_layers_are_stored_once_and_rmi_collects_garbage(store):
    ok("build", "-t", "a", "--from-host", "/usr/bin/env")
    before = blobs(store)
    ok("build", "-t", "b:v2", "--from-host", "/usr/bin/env", "--", "-i")
    after = blobs(store)
    # a second config and manifest, but the same layer: 3 blobs + 2
    assert len(before) == 3 and len(after) == 5
    assert layer_names(store, "a:latest")[0]["layers"] == layer_names(store, "b:v2")[0]["layers"]
    lines = ok("images").splitlines()
    assert lines[0].split()[:3] == ["REPOSITORY", "TAG", "IMAGE"]
    assert sorted(l.split()[0] + ":" + l.split()[1] for l in lines[1:]) == ["a:latest", "b:v2"]
    rows = [json.loads(l) for l in ok("images", "--format", "json").splitlines()]
    assert {r["Repository"] for r in rows} == {"a", "b"}

    ok("tag", "a", "c:x")
    assert "Untagged: a:latest" in ok("rmi", "a")
    assert len(blobs(store)) == 5  # c:x still names that image
    out = ok("rmi", "c:x")
    assert "Untagged: c:x" in out and "Deleted: sha256:" in out
    assert len(blobs(store)) == 3  # b's manifest, config and the shared layer
    ok("rmi", "b:v2")
    assert blobs(store) == []
    assert os.listdir(store / "pieces") == []


def test_image_id_prefix_and_errors(store):
    out = ok("build", "-q", "-t", "e", "--from-host", "/usr/bin/env")
    image_id = out.strip()[7:]
    assert ok("images", "-q") == image_id[:12] + "\n"
    ok("tag", image_id[:8], "f")
    out = ok("rmi", image_id[:12])  # an id removes every name of the image
    assert "Untagged: e:latest" in out and "Untagged: f:latest" in out
    assert ok("images", "-q") == ""

    r = arrow("rmi", "nothing-here")
    assert r.returncode == 125 and "no such image" in r.stderr
    r = arrow("build", "-t", "Bad_Name", "--from-host", "/usr/bin/env")
    assert r.returncode == 125 and "invalid image name" in r.stderr
    r = arrow("build", "-t", "x", "--from-host", "/no/such/program")
    assert r.returncode == 127 and "not found" in r.stderr
    r = arrow("build", "-t", "x", "--from-host", "/etc/passwd")
    assert r.returncode == 125 and "not a well-formed" in r.stderr
    r = arrow("build", "-t", "x", "--from-host", "/usr/bin/env", "--file", "/etc/hostname")
    assert r.returncode == 125 and "SRC:DST" in r.stderr
    r = arrow("build", "-t", "x", "--from-host", "/usr/bin/env", "--expose", "http")
    assert r.returncode == 125 and "--expose" in r.stderr
    r = arrow("tag", "nothing-here", "y")
    assert r.returncode == 125 and "no such image" in r.stderr
    # failed builds left nothing behind
    assert blobs(store) == [] and os.listdir(store / "tmp") == []


def test_a_damaged_index_is_reported_not_overwritten(store):
    ok("build", "-t", "g", "--from-host", "/usr/bin/env")
    (store / "index.json").write_text("{not json")
    r = arrow("images")
    assert r.returncode == 125 and "index.json is damaged" in r.stderr
    r = arrow("build", "-t", "h", "--from-host", "/usr/bin/env")
    assert r.returncode == 125
    assert (store / "index.json").read_text() == "{not json"
    assert len(blobs(store)) == 3  # g's blobs, nothing added


def store_state(store):
    return (sorted(os.listdir(store / "blobs" / "sha256")),
            (store / "index.json").read_text() if (store / "index.json").exists() else None)


def layer_blobs(store):
    return [b for b in blobs(store)
            if os.path.getsize(store / "blobs" / "sha256" / b) > 100000]


def test_import_oci_layout_from_umoci_shares_layers(store, tmp_path):
    layout = make_layout(tmp_path)
    r = arrow("import", str(layout))
    assert r.returncode == 125 and "only by the tag 'base'" in r.stderr
    assert "Loaded image: demo:base" in ok("import", "-t", "demo:base", f"{layout}:base")
    assert "Loaded image: demo:app" in ok("import", "-t", "demo:app", f"{layout}:app")
    # app = base's busybox layer + one more: the busybox layer is stored once
    assert len(layer_blobs(store)) == 1
    names = {l.split()[0] + ":" + l.split()[1] for l in ok("images").splitlines()[1:]}
    assert names == {"demo:base", "demo:app"}
    # a docker archive of the same image (skopeo): its layers come uncompressed, so they are
    # other blobs, but it is the same image (same config: same id)
    archive = tmp_path / "app.tar"
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:app",
                    f"docker-archive:{archive}:demo/app:docker"], check=True, timeout=120)
    assert "Loaded image: docker.io/demo/app:docker" in ok("import", str(archive))
    ids = {l.split()[2] for l in ok("images").splitlines()[1:] if "app" in l}
    assert len(ids) == 1


def test_import_refuses_damage_and_leaves_the_store_as_it_was(store, tmp_path):
    layout = make_layout(tmp_path)
    ok("import", "-t", "keep", f"{layout}:base")
    before = store_state(store)
    archive = tmp_path / "app.tar"
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}:app",
                    f"docker-archive:{archive}:demo/app:docker"], check=True, timeout=120)

    # a corrupt tarball: cut in the middle of a layer
    cut = tmp_path / "cut.tar"
    cut.write_bytes(archive.read_bytes()[:archive.stat().st_size // 2])
    r = arrow("import", str(cut))
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert "damaged" in r.stderr or "missing" in r.stderr, r.stderr
    assert store_state(store) == before

    # a digest mismatch: one byte of the top layer changed
    index = json.load(open(layout / "index.json"))
    app = next(m for m in index["manifests"]
               if m["annotations"]["org.opencontainers.image.ref.name"] == "app")
    manifest = json.load(open(layout / "blobs" / "sha256" / app["digest"][7:]))
    top = layout / "blobs" / "sha256" / manifest["layers"][-1]["digest"][7:]
    data = bytearray(top.read_bytes())
    data[len(data) // 2] ^= 0xff
    top.write_bytes(bytes(data))
    r = arrow("import", "-t", "bad", f"{layout}:app")
    assert r.returncode == 125 and "digest mismatch" in r.stderr, r.stderr
    assert store_state(store) == before

    # a missing layer
    top.unlink()
    r = arrow("import", "-t", "bad", f"{layout}:app")
    assert r.returncode == 125 and "missing from the source" in r.stderr, r.stderr
    assert store_state(store) == before

    # neither kind of image, and a path climbing out of a docker archive
    r = arrow("import", str(tmp_path / "b1"))
    assert r.returncode == 125 and "neither an OCI image layout" in r.stderr
    evil = tmp_path / "evil.tar"
    (tmp_path / "manifest.json").write_text(json.dumps(
        [{"Config": "../../etc/passwd", "RepoTags": ["e:1"], "Layers": []}]))
    subprocess.run(["tar", "-C", str(tmp_path), "-cf", str(evil), "manifest.json"], check=True)
    r = arrow("import", str(evil))
    assert r.returncode == 125 and "outside itself" in r.stderr, r.stderr
    assert store_state(store) == before
    assert os.listdir(store / "tmp") == []


def test_save_writes_an_oci_archive_that_imports_and_skopeo_reads(store, tmp_path, monkeypatch):
    ok("build", "-t", "s1", "--from-host", "/usr/bin/env")
    ok("tag", "s1", "s2:v")
    archive = tmp_path / "out.tar"
    ok("save", "-o", str(archive), "s1", "s2:v")
    with tarfile.open(archive) as t:
        names = t.getnames()
    assert {"oci-layout", "index.json"} <= set(names)
    assert len([n for n in names if n.startswith("blobs/sha256/")]) == 3  # one image, 2 names
    r = subprocess.run(["skopeo", "inspect", f"oci-archive:{archive}:s2:v"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and '"Layers"' in r.stdout, r.stderr
    ids = ok("images", "-q", "--no-trunc")
    monkeypatch.setenv("ARROW_IMAGES", str(tmp_path / "other"))
    out = ok("import", str(archive))
    assert "Loaded image: s1:latest" in out and "Loaded image: s2:v" in out
    assert ok("images", "-q", "--no-trunc").splitlines() == ids.splitlines()  # same ids
    r = arrow("save", "-o", str(tmp_path / "no.tar"), "nothing")
    assert r.returncode == 125 and "no such image" in r.stderr
    assert not os.path.exists(tmp_path / "no.tar")


def test_arrowfile_build_and_its_errors(store, tmp_path):
    app = tmp_path / "app"
    (app / "bin").mkdir(parents=True)
    (app / "conf").mkdir()
    subprocess.run(["cp", "/bin/busybox", str(app / "bin")], check=True)
    (app / "conf" / "app.conf").write_text("x=1\n")
    (app / "Arrowfile").write_text(json.dumps({
        "program": "bin/busybox", "args": ["sh", "-c", "cat /etc/app.conf; echo $MODE; pwd"],
        "env": {"MODE": "prod"}, "workdir": "/etc", "expose": [8080, "53/udp"],
        "files": {"conf/app.conf": "/etc/app.conf"}}))
    ok("build", "-t", "af", str(app))
    manifest, names = layer_names(store, "af:latest")
    assert names == ["app", "app/busybox", "etc", "etc/app.conf"]
    cfg = json.load(open(store / "blobs" / "sha256" / manifest["config"]["digest"][7:]))["config"]
    assert cfg["Entrypoint"] == ["/app/busybox"] and cfg["Cmd"][0] == "sh"
    assert "MODE=prod" in cfg["Env"] and cfg["WorkingDir"] == "/etc"
    assert cfg["ExposedPorts"] == {"8080/tcp": {}, "53/udp": {}}
    for bad, why in (({"program": "../etc/passwd"}, "must name a file inside"),
                     ({"program": "bin/busybox", "prog": 1}, "unknown key 'prog'"),
                     ({"program": "bin/busybox", "files": {"/etc/shadow": "/x"}}, "bad \"files\""),
                     ({"program": "bin/busybox", "files": {"conf": "relative"}}, "bad \"files\""),
                     ({"program": "bin/busybox", "args": [1]}, "must be strings")):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        r = arrow("build", "-t", "bad", "-f", str(tmp_path / "bad.json"), str(app))
        assert r.returncode == 125 and why in r.stderr, (bad, r.stderr)
    (tmp_path / "bad.json").write_text("{not json")
    r = arrow("build", "-t", "bad", "-f", str(tmp_path / "bad.json"), str(app))
    assert r.returncode == 125 and "bad.json" in r.stderr
    assert ok("images", "-q").count("\n") == 1


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on a free loopback port, storing under tmp_path."""
    import socket
    import time
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "registry.yml").write_text(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'registry'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    p = subprocess.Popen(["docker-registry", "serve", str(tmp_path / "registry.yml")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2)
            break
        except OSError:
            assert time.time() < deadline and p.poll() is None, "docker-registry did not start"
            time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    p.terminate()
    p.wait(timeout=30)


def test_push_and_pull_through_a_registry(store, tmp_path, monkeypatch, registry):
    ok("build", "-t", "env1", "--from-host", "/usr/bin/env", "--", "-0")
    image_id = ok("images", "-q", "--no-trunc").strip()
    out = ok("push", "env1", f"{registry}/demo/env:1")
    assert f"{registry}/demo/env:1: digest sha256:" in out
    ok("push", "env1", f"{registry}/demo/env:1")  # again: the registry has every blob

    monkeypatch.setenv("ARROW_IMAGES", str(tmp_path / "other"))
    assert ok("pull", "-q", f"{registry}/demo/env:1") == f"{registry}/demo/env:1\n"
    assert ok("images", "-q", "--no-trunc").strip() == image_id
    ok("tag", f"{registry}/demo/env:1", f"{registry}/demo/env:2")
    ok("push", f"{registry}/demo/env:2")  # the name says where

    r = arrow("pull", f"{registry}/demo/none:1")
    assert r.returncode == 125 and "not found in the registry (HTTP 404)" in r.stderr
    r = arrow("pull", "demo/env:1")
    assert r.returncode == 125 and "names no registry" in r.stderr
    r = arrow("push", "nothing", f"{registry}/x:1")
    assert r.returncode == 125 and "no such image" in r.stderr

    # a registry that hands out a damaged layer: refused, nothing added
    monkeypatch.setenv("ARROW_IMAGES", str(tmp_path / "third"))
    data = [p for p in (tmp_path / "registry").rglob("data")
            if p.stat().st_size > 10000]
    assert len(data) == 1
    raw = bytearray(data[0].read_bytes())
    raw[len(raw) // 2] ^= 0xff
    data[0].write_bytes(bytes(raw))
    r = arrow("pull", "-q", f"{registry}/demo/env:1")
    assert r.returncode == 125 and "digest mismatch" in r.stderr, r.stderr
    assert store_state(tmp_path / "third") == ([], (tmp_path / "third" / "index.json").read_text())
    assert ok("images", "-q") == ""


def test_what_an_interrupted_import_left_is_collected(store, tmp_path):
    ok("build", "-t", "k", "--from-host", "/usr/bin/env")
    before = store_state(store)
    # a killed import: a half-written blob in tmp/ and a stored but unnamed blob
    (store / "tmp" / "blob-half").write_bytes(b"half")
    (store / "tmp" / "import-x").mkdir()
    (store / "tmp" / "import-x" / "manifest.json").write_text("[]")
    orphan = "0" * 64
    (store / "blobs" / "sha256" / orphan).write_bytes(b"orphan")
    assert ok("images", "-q").count("\n") == 1  # the index never named them
    ok("build", "-t", "k", "--from-host", "/usr/bin/env")  # the next writer collects first
    assert os.listdir(store / "tmp") == []
    assert orphan not in os.listdir(store / "blobs" / "sha256")
    assert len(store_state(store)[0]) == len(before[0])


# Resource bounds (docs/images.md, "Limits"): decompression bombs and oversized documents.

def write_blob(layout, data):
    import hashlib
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return "sha256:" + digest, len(data)


def gzip_tar_layer(path, files):
    """Write a gzip'd tar of files [(name, size)] whose contents are zeros, streaming (never
    more than 1 MiB in memory): its size, and the diff id (SHA-256 of the uncompressed tar)."""
    import hashlib
    import zlib
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip stream
    diff = hashlib.sha256()
    zeros = bytes(1 << 20)
    with open(path, "wb") as out:
        def put(data):
            diff.update(data)
            out.write(comp.compress(data))
        for name, size in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = size, 1, 0o644
            put(info.tobuf(format=tarfile.GNU_FORMAT))
            left = size
            while left:
                put(zeros[:min(left, len(zeros))])
                left -= min(left, len(zeros))
            put(bytes(-size % 512))
        put(bytes(1024))  # the end-of-archive blocks
        out.write(comp.flush())
    return os.path.getsize(path), "sha256:" + diff.hexdigest()


def layout_of(layout, layer_path, diff_id, ref="bomb"):
    """An OCI layout around one gzip layer (moved into its blobs)."""
    import hashlib
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    h = hashlib.sha256()
    with open(layer_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    size = os.path.getsize(layer_path)
    os.rename(layer_path, layout / "blobs" / "sha256" / h.hexdigest())
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/f0"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    cd, cs = write_blob(layout, config)
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": cd, "size": cs},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": "sha256:" + h.hexdigest(), "size": size}]}).encode()
    md, ms = write_blob(layout, manifest)
    (layout / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
             "annotations": {"org.opencontainers.image.ref.name": ref}}]}))
    return layout


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """An OCI layout whose one gzip layer holds 1 GiB of zeros in about 1 MiB."""
    d = tmp_path_factory.mktemp("bomb")
    size, diff_id = gzip_tar_layer(d / "layer.tar.gz", [("f0", 1 << 30)])
    assert size < 2 << 20, size
    return layout_of(d / "layout", d / "layer.tar.gz", diff_id)


def run_env(env, *args):
    return subprocess.run([ARROW, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


def test_import_refuses_a_decompression_bomb_and_leaves_the_store_as_it_was(store, bomb):
    ok("build", "-t", "keep", "--from-host", "/usr/bin/env")
    before = store_state(store)
    r = run_env({"ARROW_MAX_LAYER_SIZE": "64M"}, "import", "-t", "bomb", str(bomb))
    assert r.returncode == 125 and r.stderr.count("\n") == 1, r.stderr
    assert "layer 1 (sha256:" in r.stderr and "more than 64 MiB" in r.stderr, r.stderr
    assert "ARROW_MAX_LAYER_SIZE" in r.stderr, r.stderr
    assert store_state(store) == before and os.listdir(store / "tmp") == []
    # the image's bound, the layer's left at its default
    r = run_env({"ARROW_MAX_IMAGE_SIZE": "100M"}, "import", "-t", "bomb", str(bomb))
    assert r.returncode == 125, r.stderr
    assert "more than 100 MiB, the limit per image (ARROW_MAX_IMAGE_SIZE)" in r.stderr, r.stderr
    assert store_state(store) == before and os.listdir(store / "tmp") == []
    # the same layer as a tar of the layout (an OCI archive): the same refusal
    archive = bomb.parent / "bomb.tar"
    if not archive.exists():
        subprocess.run(["tar", "-C", str(bomb), "-cf", str(archive), "."], check=True)
    r = run_env({"ARROW_MAX_LAYER_SIZE": "64M"}, "import", "-t", "bomb", str(archive))
    assert r.returncode == 125 and "ARROW_MAX_LAYER_SIZE" in r.stderr, r.stderr
    assert store_state(store) == before and os.listdir(store / "tmp") == []
    # garbage in the variables: refused before the store is touched
    for var, value in (("ARROW_MAX_LAYER_SIZE", "12X"), ("ARROW_MAX_IMAGE_SIZE", "1.5G"),
                       ("ARROW_MAX_LAYER_ENTRIES", "-3"), ("ARROW_MAX_IMAGE_SIZE", "0")):
        r = run_env({var: value}, "import", "-t", "bomb", str(bomb))
        assert r.returncode == 125 and f"{var}='{value}' is not a limit" in r.stderr, r.stderr
    assert store_state(store) == before
    # with room for it the same layout imports: the refusals above were the bounds' doing
    r = run_env({"ARROW_MAX_LAYER_SIZE": "2G"}, "import", "-t", "bomb", str(bomb))
    assert r.returncode == 0, r.stderr
    assert "bomb " in ok("images")


def test_too_many_entries_and_the_bounds_of_build_and_run(store, tmp_path):
    size, diff_id = gzip_tar_layer(tmp_path / "l.tar.gz", [(f"f{i}", 1) for i in range(50)])
    layout = layout_of(tmp_path / "many", tmp_path / "l.tar.gz", diff_id)
    r = run_env({"ARROW_MAX_LAYER_ENTRIES": "20"}, "import", "-t", "many", str(layout))
    assert r.returncode == 125, r.stderr
    assert "layer 1 (sha256:" in r.stderr and "more than 20 entries" in r.stderr, r.stderr
    assert blobs(store) == [] and os.listdir(store / "tmp") == []
    r = run_env({"ARROW_MAX_LAYER_ENTRIES": "50"}, "import", "-t", "many", str(layout))
    assert r.returncode == 0, r.stderr

    # build: the layer it writes is bounded too, and nothing stays behind
    before = store_state(store)
    r = run_env({"ARROW_MAX_LAYER_SIZE": "16K"}, "build", "-t", "e", "--from-host",
                "/usr/bin/env")
    assert r.returncode == 125 and "more than 16 KiB, the limit per layer" in r.stderr, r.stderr
    assert store_state(store) == before and os.listdir(store / "tmp") == []

    # run: converting a layer into an initramfs piece stops at the bounds, before any boot
    ok("build", "-t", "e", "--from-host", "/usr/bin/env")
    for env, words in (({"ARROW_MAX_LAYER_SIZE": "16K"}, "ARROW_MAX_LAYER_SIZE"),
                       ({"ARROW_MAX_LAYER_ENTRIES": "3"}, "ARROW_MAX_LAYER_ENTRIES")):
        r = run_env({**env, "ARROW_ROOT": str(tmp_path / "root")}, "run", "--rm",
                    "--network", "none", "e")
        assert r.returncode == 125 and "cannot become an initramfs piece" in r.stderr, r.stderr
        assert words in r.stderr, r.stderr
    assert os.listdir(store / "pieces") == []


def test_json_documents_are_bounded(store, tmp_path):
    layout = tmp_path / "big"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    with open(layout / "index.json", "w") as f:  # 5 MiB of valid JSON
        f.write('{"schemaVersion": 2, "manifests": [], "pad": "' + "x" * (5 << 20) + '"}')
    r = arrow("import", "-t", "x", str(layout))
    assert r.returncode == 125 and "too large for a JSON document (the limit is 4 MiB)" in r.stderr
    (layout / "index.json").unlink()
    os.mkfifo(layout / "index.json")  # would never end
    r = arrow("import", "-t", "x", str(layout))
    assert r.returncode == 125 and "not a regular file" in r.stderr, r.stderr


def test_pull_bounds_declared_and_decompressed_sizes(store, tmp_path, monkeypatch, registry, bomb):
    r = run_env({"ARROW_MAX_LAYER_SIZE": "2G"}, "import", "-t", "bomb", str(bomb))
    assert r.returncode == 0, r.stderr
    ok("push", "bomb", f"{registry}/demo/bomb:1")
    ok("build", "-t", "env1", "--from-host", "/usr/bin/env")
    ok("push", "env1", f"{registry}/demo/env:1")

    monkeypatch.setenv("ARROW_IMAGES", str(tmp_path / "other"))
    # the layer of 1 MiB decompresses past the bound: refused, nothing added
    r = run_env({"ARROW_MAX_LAYER_SIZE": "64M"}, "pull", "-q", f"{registry}/demo/bomb:1")
    assert r.returncode == 125 and "more than 64 MiB" in r.stderr, r.stderr
    empty = ([], (tmp_path / "other" / "index.json").read_text())
    assert store_state(tmp_path / "other") == empty
    # a layer the manifest declares larger than the bound is not even fetched
    r = run_env({"ARROW_MAX_LAYER_SIZE": "16K"}, "pull", "-q", f"{registry}/demo/env:1")
    assert r.returncode == 125 and "more than 16 KiB, the limit per layer" in r.stderr, r.stderr
    assert "pulling" not in r.stderr
    assert store_state(tmp_path / "other") == empty
    assert ok("pull", "-q", f"{registry}/demo/env:1") == f"{registry}/demo/env:1\n"
