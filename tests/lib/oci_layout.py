"""OCI image layouts made by Debian's umoci from local directories, for the image tests."""
import subprocess


def umoci(*args):
    r = subprocess.run(["umoci", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def make_layout(tmp_path):
    """An OCI layout made by Debian's umoci from local directories: 'base' (static busybox,
    Entrypoint busybox, Cmd echo hello) and 'app' (base plus a second layer)."""
    layout = tmp_path / "layout"
    umoci("init", "--layout", str(layout))
    umoci("new", "--image", f"{layout}:base")
    umoci("unpack", "--image", f"{layout}:base", str(tmp_path / "b1"))
    (tmp_path / "b1" / "rootfs" / "bin").mkdir()
    subprocess.run(["cp", "/bin/busybox", str(tmp_path / "b1" / "rootfs" / "bin")], check=True)
    umoci("repack", "--image", f"{layout}:base", str(tmp_path / "b1"))
    umoci("config", "--image", f"{layout}:base", "--config.entrypoint", "/bin/busybox",
          "--config.cmd", "echo", "--config.cmd", "hello")
    umoci("unpack", "--image", f"{layout}:base", str(tmp_path / "b2"))
    (tmp_path / "b2" / "rootfs" / "greeting").write_text("second layer\n")
    umoci("repack", "--image", f"{layout}:app", str(tmp_path / "b2"))
    return layout
