"""arrow attach, run -i/-t, and the run options --env-file, --argv0, --user."""
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time

from conftest import ARROW, BUSYBOX, arrow
from test_lifecycle import ok, run_d, wait_for_log


def test_attach_feeds_stdin_and_returns_the_exit_status():
    run_d("-i", "--name", "cat", BUSYBOX, "sh", "-c", "cat; echo done >&2; exit 6")
    r = arrow("attach", "cat", input=b"line one\nline two\n")
    assert r.returncode == 6, r.stderr
    assert r.stdout == b"line one\nline two\n"
    assert r.stderr == b"done\n"
    assert ok("logs", "cat") == "line one\nline two\n"


def test_detach_leaves_the_arrow_running():
    run_d("--name", "ticker", BUSYBOX, "sh", "-c", "while true; do echo tick; sleep 1; done")
    p = subprocess.Popen([ARROW, "attach", "--no-stdin", "--sig-proxy=false", "ticker"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()
    assert line == b"tick\n"
    p.send_signal(signal.SIGINT)                   # with --sig-proxy=false: detach
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and b"detached" in err
    assert "Up " in ok("ps")
    ok("rm", "-f", "ticker")


def test_attach_forwards_signals_to_the_app():
    run_d("-i", "--name", "trap", BUSYBOX, "sh", "-c",
          "trap 'echo caught; exit 9' INT; echo ready; while true; do sleep 1; done")
    wait_for_log("trap", "ready")
    p = subprocess.Popen([ARROW, "attach", "--no-stdin", "trap"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 9, err
    assert b"caught" in out


def test_attach_to_an_exited_arrow_is_an_error():
    r = arrow("run", "--name", "old", BUSYBOX, "true")
    assert r.returncode == 0
    r = arrow("attach", "old")
    assert r.returncode == 125 and r.stderr == b"arrow attach: old is not running\n"


def test_run_t_gives_the_app_a_terminal():
    r = arrow("run", "-t", BUSYBOX, "sh", "-c", "tty; echo $TERM; [ -t 0 ] && echo stdin-is-tty")
    assert r.returncode == 0, r.stderr
    assert r.stdout.replace(b"\r\n", b"\n") == b"/dev/hvc1\nxterm\nstdin-is-tty\n"


def test_run_it_runs_an_interactive_shell_on_a_real_terminal():
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(ARROW, [ARROW, "run", "-it", BUSYBOX, "sh"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    out = b""
    resized = False
    sent = False
    deadline = time.time() + 120
    status = None
    while time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        if not resized and b"#" in out:          # the shell's prompt
            os.write(fd, b"echo $((6*7)); stty size\r")
            resized = True
        if resized and not sent and b"31 97" in out:
            # the local terminal changes size: SIGWINCH to arrowh, a virtio-console resize
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 44, 120, 0, 0))
            time.sleep(1)
            os.write(fd, b"stty size; exit 3\r")
            sent = True
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
    if status is None:
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 3, out
    assert b"42" in out
    # the app's terminal has the host terminal's size, and follows it
    assert b"31 97" in out and b"44 120" in out, out


def test_env_file_argv0_and_user(tmp_path):
    env = tmp_path / "env"
    env.write_text("# comment\n\nGREETING=hello world\nEMPTY=\n")
    r = arrow("run", "--env-file", str(env), BUSYBOX, "sh", "-c", 'echo "$GREETING|$EMPTY|"')
    assert r.stdout == b"hello world||\n", r.stderr
    r = arrow("run", "--argv0", "echo", BUSYBOX, "via", "argv0")  # busybox picks the applet by argv[0]
    assert r.stdout == b"via argv0\n", r.stderr
    r = arrow("run", "-u", "65534", BUSYBOX, "id", "-u")
    assert r.stdout == b"65534\n", r.stderr
    bad = tmp_path / "bad"
    bad.write_text("1BAD=x\n")
    r = arrow("run", "--env-file", str(bad), BUSYBOX, "true")
    assert r.returncode == 125 and b"bad:1: expected KEY=VALUE" in r.stderr
