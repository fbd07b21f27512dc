"""arrow exec and arrow top (docs/exec.md): programs run beside a running Arrow's app,
over vsock to ainit's exec service."""
import concurrent.futures
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

from conftest import ARROW, BUSYBOX, arrow, open_files_under
from test_lifecycle import inspect, ok, run_d, wait_for_log

BB = "/app/busybox"  # where `arrow run /bin/busybox` puts it in the guest
LOOP = "while true; do sleep 1; done"


def box(name="box", *extra):
    run_d("--name", name, *extra, BUSYBOX, "sh", "-c", f"echo ready; {LOOP}")
    wait_for_log(name, "ready")


def sh(name, script, *opts, **kw):
    return arrow("exec", *opts, name, BB, "sh", "-c", script, **kw)


def test_exit_codes_and_programs_that_cannot_run():
    box()
    assert arrow("exec", "box", BB, "true").returncode == 0
    assert sh("box", "exit 7").returncode == 7
    assert sh("box", "kill -9 $$").returncode == 137
    r = arrow("exec", "box", "/no/such/program")
    assert r.returncode == 127 and b"no such file or directory" in r.stderr, r.stderr
    r = arrow("exec", "box", "no-such-program")
    assert r.returncode == 127 and b"not found in $PATH" in r.stderr, r.stderr
    assert sh("box", "echo plain >/tmp/plain").returncode == 0
    r = arrow("exec", "box", "/tmp/plain")                  # not executable
    assert r.returncode == 126 and b"Permission denied" in r.stderr, r.stderr
    assert arrow("exec", "box", "/tmp").returncode == 126    # a directory
    ok("rm", "-f", "box")


def test_stdout_and_stderr_apart_and_stdin_only_with_i():
    box()
    r = sh("box", "echo out; echo err >&2; echo out2")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"out\nout2\n", b"err\n")
    r = sh("box", "cat; echo done", input=b"ignored\n")      # no -i: /dev/null
    assert r.stdout == b"done\n", r.stderr
    r = sh("box", "cat; echo done", "-i", input=b"fed\n")
    assert r.stdout == b"fed\ndone\n", r.stderr
    ok("rm", "-f", "box")


def test_ten_mib_stdin_to_stdout_byte_exact():
    box()
    data = os.urandom(10 << 20)
    r = arrow("exec", "-i", "box", BB, "cat", input=data)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == len(data) and r.stdout == data
    ok("rm", "-f", "box")


def test_env_workdir_and_user():
    box()
    r = sh("box", 'id -u; id -g; pwd; echo "$GREETING|$NEW"', "-u", "65534:65533", "-w", "/tmp",
           "-e", "GREETING=hello world", "-e", "NEW=x")
    assert r.stdout == b"65534\n65533\n/tmp\nhello world|x\n", r.stderr
    r = sh("box", "id -u; id -g", "-u", "1000")              # GID defaults to UID
    assert r.stdout == b"1000\n1000\n", r.stderr
    r = sh("box", "pwd", "-w", "/no/such/dir")
    assert r.returncode == 126 and b"/no/such/dir" in r.stderr
    r = arrow("exec", "-u", "root", "box", BB, "true")
    assert r.returncode == 125 and b"numeric" in r.stderr
    ok("rm", "-f", "box")


def test_signals_reach_the_program():
    box()
    p = subprocess.Popen([ARROW, "exec", "box", BB, "sh", "-c",
                          f"trap 'echo caught; exit 9' TERM; echo ready; {LOOP}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 9, err
    assert out == b"caught\n"
    p = subprocess.Popen([ARROW, "exec", "box", BB, "sh", "-c", f"echo ready; {LOOP}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=60)
    assert p.returncode == 130
    ok("rm", "-f", "box")


def read_until(fd, want, timeout=120):
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline and want not in out:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
    return out


def test_it_runs_an_interactive_shell_on_a_real_terminal_and_follows_resizes():
    box()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(ARROW, [ARROW, "exec", "-it", "box", BB, "sh"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = read_until(fd, b"#")                               # the prompt
    assert b"#" in out, out
    os.write(fd, b"tty; echo $TERM; stty size\r")
    out = read_until(fd, b"24 80")
    assert b"/dev/pts/" in out and b"xterm" in out and b"24 80" in out, out
    # the local terminal changes size: SIGWINCH to arrow exec, RESIZE to the guest
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
    time.sleep(1)
    os.write(fd, b"stty size; exit 3\r")
    out = read_until(fd, b"50 132")
    assert b"50 132" in out, out
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 3
    ok("rm", "-f", "box")


def test_it_without_a_terminal_is_refused():
    box()
    r = arrow("exec", "-it", "box", BB, "true", input=b"")
    assert r.returncode == 125 and b"not a TTY" in r.stderr
    r = arrow("exec", "-t", "box", BB, "sh", "-c", "[ -t 1 ] && echo tty")  # -t alone: fine
    assert r.returncode == 0 and r.stdout == b"tty\r\n", r.stderr
    ok("rm", "-f", "box")


def test_ten_concurrent_execs():
    box()

    def one(i):
        return sh("box", f"sleep 1; echo {i}; echo e{i} >&2; exit {i}")

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(10)))
    for i, r in enumerate(results):
        assert (r.returncode, r.stdout, r.stderr) == (i, f"{i}\n".encode(), f"e{i}\n".encode())
    ok("rm", "-f", "box")


def test_exec_while_the_app_floods_its_log():
    run_d("--name", "flood", BUSYBOX, "sh", "-c",
          "echo ready; while true; do echo 0123456789012345678901234567890123456789; done")
    wait_for_log("flood", "ready")
    for _ in range(3):
        r = sh("flood", "echo beside")
        assert (r.returncode, r.stdout) == (0, b"beside\n"), r.stderr
    data = os.urandom(1 << 20)
    r = arrow("exec", "-i", "flood", BB, "cat", input=data)
    assert r.returncode == 0 and r.stdout == data, r.stderr
    ok("rm", "-f", "flood")


def test_detached_exec_returns_at_once_and_runs_on():
    box()
    r = sh("box", "sleep 1; echo later >/tmp/d", "-d")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    deadline = time.time() + 60
    while time.time() < deadline:
        r = arrow("exec", "box", BB, "cat", "/tmp/d")
        if r.returncode == 0:
            break
        time.sleep(0.5)
    assert r.stdout == b"later\n", r.stderr
    ok("rm", "-f", "box")


def test_the_apps_exit_still_ends_the_arrow():
    run_d("--name", "short", BUSYBOX, "sh", "-c", "echo ready; sleep 5; exit 4")
    wait_for_log("short", "ready")
    assert sh("short", "sleep 1000", "-d").returncode == 0
    r = arrow("wait", "short")
    assert r.stdout == b"4\n", r.stderr
    ok("rm", "short")


def test_top_lists_the_guests_processes():
    box()
    p = subprocess.Popen([ARROW, "exec", "box", BB, "sleep", "300"])
    time.sleep(2)
    out = ok("top", "box")
    lines = out.splitlines()
    assert re.match(r"UID\s+PID\s+PPID\s+TIME\s+CMD$", lines[0]), out
    cmds = [line.split(None, 4)[4] for line in lines[1:]]
    assert any(c.startswith("busybox sh -c echo ready") for c in cmds), out
    assert re.search(r"^0\s+1\s+0\s+\S+\s+ainit$", out, re.M), out
    assert any(c == "ainit-exec" for c in cmds), out
    assert any(c == f"{BB} sleep 300" for c in cmds), out
    assert all(re.match(r"\d+\s+\d+\s+\d+\s+\d\d:\d\d:\d\d\s", line) for line in lines[1:]), out
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    ok("rm", "-f", "box")


def test_exec_into_stopped_or_unknown_arrows_is_one_clear_error():
    assert arrow("run", "--name", "done", BUSYBOX, "true").returncode == 0
    r = arrow("exec", "done", BB, "true")
    assert (r.returncode, r.stderr) == (125, b"arrow exec: done is not running\n")
    r = arrow("top", "done")
    assert (r.returncode, r.stderr) == (125, b"arrow top: done is not running\n")
    r = arrow("exec", "nosuch", BB, "true")
    assert (r.returncode, r.stderr) == (125, b"arrow exec: no such Arrow: nosuch\n")
    r = arrow("exec", "done")
    assert r.returncode == 125 and b"required" in r.stderr


def test_kill_9_of_arrowh_during_an_exec_leaves_no_stale_state(state_root):
    id_ = run_d("--name", "victim", BUSYBOX, "sh", "-c", f"echo ready; {LOOP}")
    wait_for_log("victim", "ready")
    p = subprocess.Popen([ARROW, "exec", "victim", BB, "sh", "-c", f"echo started; {LOOP}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline() == b"started\n"
    os.kill(inspect("victim")["State"]["Pid"], signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 125 and b"ended before" in err, err
    deadline = time.time() + 10
    while "Exited (137)" not in ok("ps", "-a") and time.time() < deadline:
        time.sleep(0.1)
    assert "Exited (137)" in ok("ps", "-a")
    r = arrow("exec", "victim", BB, "true")
    assert (r.returncode, r.stderr) == (125, b"arrow exec: victim is not running\n")
    ok("rm", "victim")
    assert not os.path.exists(os.path.join(state_root, id_))
    assert open_files_under(state_root) == []


def test_exec_into_clones_of_a_template_and_of_a_snapshot():
    ok("template", "create", "t", BUSYBOX, "sh", "-c", f"echo ready; {LOOP}")
    ok("run", "-d", "--name", "c1", "--template", "t")
    r = sh("c1", "echo in-clone; hostname")
    assert r.stdout == b"in-clone\nc1\n", r.stderr
    ok("snapshot", "c1", "s1")
    assert sh("c1", "echo still").stdout == b"still\n"     # the snapshotted one keeps going
    ok("run", "-d", "--name", "c2", "--from", "s1")
    r = sh("c2", "echo in-snapshot-clone; hostname")
    assert r.stdout == b"in-snapshot-clone\nc2\n", r.stderr
    ok("rm", "-f", "c1", "c2")
    ok("snapshot", "rm", "s1")
    ok("template", "rm", "t")
