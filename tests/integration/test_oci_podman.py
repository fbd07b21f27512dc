"""podman's command line with arrow-oci as the runtime, as a podman user types it (issue 14's
list): -e/-w/-u, exit codes (7, and 137 after a kill), -d with logs, a graceful stop and one
that ends in SIGKILL after -t, rm; -it on a real terminal; -v HOST:GUEST and :ro; kill -9 of
arrowh leaves podman consistent; twenty running at once (started four at a time). (run --rm, exec, pause, diff, cp and commit: test_oci.py; -p and podman's networks: test_oci_net.py.) Rootful, vfs
storage on the test's tmpfs, cgroupfs, no network: each container is a real Arrow. And the
containers.conf entry docs/oci.md gives (a named runtime, --cgroups=disabled)."""
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

from podmanutil import podman_with_image

APPLETS = ("sh", "echo", "cat", "id", "pwd", "sleep", "true", "ls", "tty", "stty")
IMG = "localhost/bbp"


def image(tmp_path, request):
    return podman_with_image(tmp_path, request, IMG, APPLETS, files={"work/.keep": ""})


def run(pm, *args, **kw):
    return pm("run", "--network", "none", "--log-driver", "k8s-file", *args, **kw)


def status_of(pm, name):
    r = pm("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().split()


def wait_status(pm, name, want, timeout=120):
    """Poll podman's view until the container's status is want; its [status, exit code]."""
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = status_of(pm, name)
        if got[0] == want:
            return got
        time.sleep(0.5)
    raise AssertionError(f"{name}: {got}, never {want}")


def wait_log(pm, name, text, timeout=120):
    deadline = time.time() + timeout
    out = b""
    while time.time() < deadline:
        out = pm("logs", name).stdout
        if text in out:
            return out
        time.sleep(0.5)
    raise AssertionError(f"{name}: {text!r} never in its log: {out!r}")


def test_podman_env_workdir_user_exit_codes_logs_stop_and_kill(tmp_path, request):
    pm = image(tmp_path, request)
    r = run(pm, "--rm", "-e", "FOO=bar baz", "-w", "/work", "-u", "1000:1001", IMG,
            "sh", "-c", 'echo "$FOO|$(pwd)|$(id -u):$(id -g)"')
    assert (r.returncode, r.stdout) == (0, b"bar baz|/work|1000:1001\n"), r.stderr
    r = run(pm, "--rm", IMG, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr.endswith(b"err\n")) == (7, b"out\n", True), r.stderr
    names = []
    try:
        # -d, logs, a graceful stop: SIGTERM reaches the app, which exits 0 on its own
        names.append("graceful")
        r = run(pm, "-d", "--name", "graceful", IMG, "sh", "-c",
                "trap 'echo got-term; exit 0' TERM; echo started; while :; do sleep 1; done")
        assert r.returncode == 0, r.stderr
        wait_log(pm, "graceful", b"started\n")
        t = time.monotonic()
        r = pm("stop", "-t", "60", "graceful")
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t < 55  # it did not wait for the SIGKILL
        assert status_of(pm, "graceful") == ["exited", "0"]
        assert b"got-term" in pm("logs", "graceful").stdout
        # an app that ignores SIGTERM: SIGKILL after -t, podman's 137
        names.append("stubborn")
        r = run(pm, "-d", "--name", "stubborn", IMG, "sh", "-c",
                "trap '' TERM; echo started; while :; do sleep 1; done")
        assert r.returncode == 0, r.stderr
        wait_log(pm, "stubborn", b"started\n")
        t = time.monotonic()
        r = pm("stop", "-t", "3", "stubborn")
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t >= 3
        assert status_of(pm, "stubborn") == ["exited", "137"]
        # podman kill (SIGKILL): 137 too, and wait says so
        names.append("killed")
        r = run(pm, "-d", "--name", "killed", IMG, "sh", "-c", "echo started; sleep 600")
        assert r.returncode == 0, r.stderr
        wait_log(pm, "killed", b"started\n")
        assert pm("kill", "killed").returncode == 0
        r = pm("wait", "killed")
        assert (r.returncode, r.stdout.strip()) == (0, b"137"), (r.stdout, r.stderr)
        for n in names:
            r = pm("rm", n)
            assert r.returncode == 0, r.stderr
        names = []
        assert pm("ps", "-aq").stdout.strip() == b""
    finally:
        for n in names:
            pm("rm", "-f", n)


def test_podman_it_on_a_real_terminal(tmp_path, request):
    pm = image(tmp_path, request)
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(pm.argv[0], [*pm.argv, "run", "--rm", "-it", "--network", "none",
                               "--log-driver", "k8s-file", IMG, "sh"], pm.env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    out = b""
    deadline = time.time() + 300
    stage = 0
    status = None
    while time.time() < deadline and status is None:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:  # EIO: podman ended and closed the terminal
                pass
        if stage == 0 and b"# " in out:
            os.write(fd, b"tty; stty size; echo $((6*7))\r")
            stage = 1
        if stage == 1 and b"30 100" in out and b"42" in out:
            # podman's terminal changes size: conmon resizes the container's, arrowh's
            # console follows (SIGWINCH, a virtio-console resize)
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            time.sleep(2)
            os.write(fd, b"stty size; exit 3\r")
            stage = 2
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError(f"podman run -it did not end: {out!r}")
    # a real terminal inside (the Arrow's console port), with podman's size, then the new one
    assert b"/dev/hvc" in out and b"not a tty" not in out, out
    assert b"30 100" in out and b"42" in out and b"40 120" in out, out
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3, (status, out)


def test_podman_volumes_and_a_killed_arrowh(tmp_path, request):
    pm = image(tmp_path, request)
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir(mode=0o777)
    ro.mkdir()
    os.chmod(rw, 0o777)
    (ro / "given").write_text("from the host\n")
    r = run(pm, "--rm", "-v", f"{rw}:/data", "-v", f"{ro}:/ro:ro", IMG, "sh", "-c",
            "cat /ro/given; echo made >/data/made; "
            "if echo x >/ro/nope 2>/dev/null; then echo ro-written; fi; ls /data")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"from the host\nmade\n", r.stdout
    assert (rw / "made").read_text() == "made\n"
    assert sorted(os.listdir(ro)) == ["given"]
    # kill -9 of the container's process (arrowh): podman sees it end and cleans up
    r = run(pm, "-d", "--name", "victim", IMG, "sh", "-c", "echo started; sleep 600")
    assert r.returncode == 0, r.stderr
    try:
        wait_log(pm, "victim", b"started\n")
        r = pm("inspect", "--format", "{{.State.Pid}}", "victim")
        pid = int(r.stdout)
        assert pid > 0 and "arrowh" in open(f"/proc/{pid}/comm").read(), r.stdout
        os.kill(pid, signal.SIGKILL)
        assert wait_status(pm, "victim", "exited")[1] == "137"
        r = pm("rm", "victim")
        assert r.returncode == 0, r.stderr
        assert pm("ps", "-aq").stdout.strip() == b""
        # and a new container starts as if nothing happened
        r = run(pm, "--rm", IMG, "echo", "again")
        assert (r.returncode, r.stdout) == (0, b"again\n"), r.stderr
    finally:
        pm("rm", "-f", "victim")


def test_podman_containers_conf_entry_and_no_cgroups(tmp_path, request):
    """docs/oci.md's containers.conf entry: arrow-oci as a named runtime, and with it in
    runtime_supports_nocgroups podman runs it with --cgroups=disabled (else podman refuses)."""
    pm = image(tmp_path, request)
    argv = [a for a in pm.argv if a not in ("--runtime", pm.argv[-1])]  # no --runtime PATH
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '[engine]\n'
        'runtime_supports_json = ["crun", "runc", "arrow"]\n'
        'runtime_supports_kvm = ["arrow"]\n'
        # podman 4.3 (Debian 12) reads runtime_supports_nocgroup, later ones ...nocgroups
        'runtime_supports_nocgroup = ["crun", "arrow"]\n'
        'runtime_supports_nocgroups = ["crun", "arrow"]\n'
        '[engine.runtimes]\n'
        f'arrow = ["{pm.argv[-1]}"]\n')

    def named(*args, conf_file=conf):
        env = dict(pm.env, CONTAINERS_CONF=str(conf_file))
        return subprocess.run([*argv, "--runtime", "arrow", *args], capture_output=True,
                              env=env, timeout=300)

    r = named("run", "--rm", "--network", "none", IMG, "echo", "named runtime")
    assert (r.returncode, r.stdout) == (0, b"named runtime\n"), r.stderr
    r = named("run", "--rm", "--network", "none", "--cgroups", "disabled", IMG, "sh", "-c",
              "echo no cgroups; exit 4")
    assert (r.returncode, r.stdout) == (4, b"no cgroups\n"), r.stderr
    # without the entry podman refuses, as the docs say
    bare = tmp_path / "bare.conf"
    bare.write_text(f'[engine.runtimes]\narrow = ["{pm.argv[-1]}"]\n')
    r = named("run", "--rm", "--network", "none", "--cgroups", "disabled", IMG, "true",
              conf_file=bare)
    assert r.returncode != 0 and b"not compatible with NoCgroups" in r.stderr, r.stderr


def test_podman_twenty_running_at_once(tmp_path, request):
    """Twenty containers running at the same time, each answering exec and logs, all
    stopped and removed. Started in waves of four: twenty *boots* at the same instant is the
    helper VM's known failure for QEMU microvm as much as for arrowh (docs/machine.md), so
    here the boots overlap only four at a time while the twenty then run together."""
    pm = image(tmp_path, request)
    names = [f"c{i:02d}" for i in range(20)]
    try:
        for wave in range(0, 20, 4):
            for n in names[wave:wave + 4]:
                r = run(pm, "-d", "--name", n, "--memory", "64m", IMG, "sh", "-c",
                        f"echo up {n}; sleep 600")
                assert r.returncode == 0, (n, r.stderr)
            for n in names[wave:wave + 4]:
                wait_log(pm, n, f"up {n}\n".encode())
        assert [n for n in names if status_of(pm, n)[0] != "running"] == []
        for n in names:
            r = pm("exec", n, "sh", "-c", f"echo exec in {n}")
            assert (r.returncode, r.stdout) == (0, f"exec in {n}\n".encode()), (n, r.stderr)
        r = pm("stop", "-t", "2", *names, timeout=600)
        assert r.returncode == 0, r.stderr
        for n in names:
            assert status_of(pm, n)[0] == "exited", n
    finally:
        r = pm("rm", "-f", *names, timeout=600)
    assert r.returncode == 0, r.stderr
    assert pm("ps", "-aq").stdout.strip() == b""
