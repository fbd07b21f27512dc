"""Signals from the host reach the app through ainit; Ctrl-C stops the Arrow."""
import signal
import subprocess
import time

from conftest import ARROW, BUSYBOX, TIMEOUT, guest


def start(*args):
    p = subprocess.Popen([ARROW, "run", *args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = p.stdout.readline()  # the app is running once it speaks
    assert line.startswith(b"ready"), (line, p.stderr.read() if p.poll() is not None else b"")
    return p


def finish(p):
    out, err = p.communicate(timeout=TIMEOUT)
    return p.returncode, out, err


def test_sigterm_reaches_the_app_which_exits_cleanly():
    p = start(guest("sigwait"))
    p.send_signal(signal.SIGTERM)
    rc, out, err = finish(p)
    assert rc == 0, err
    assert out == b"got SIGTERM, shutting down cleanly\n"


def test_sigint_reaches_the_app():
    p = start(guest("sigwait"))
    p.send_signal(signal.SIGINT)
    rc, out, _ = finish(p)
    assert rc == 0
    assert out == b"got SIGINT, shutting down cleanly\n"


def test_ctrl_c_stops_an_app_with_default_handlers():
    p = start(BUSYBOX, "sh", "-c", "echo ready; exec sleep 1000")
    p.send_signal(signal.SIGINT)
    rc, _, _ = finish(p)
    assert rc == 128 + signal.SIGINT


def test_sigterm_is_not_ignored_by_pid_1_semantics():
    # The original Arrow ran the app as PID 1, where SIGTERM without a handler is ignored.
    p = start(BUSYBOX, "sh", "-c", "echo ready; exec sleep 1000")
    p.send_signal(signal.SIGTERM)
    rc, _, _ = finish(p)
    assert rc == 128 + signal.SIGTERM


def test_three_ctrl_c_force_stop_an_app_that_ignores_them():
    p = start(guest("sigwait"), "--ignore")
    for _ in range(3):
        p.send_signal(signal.SIGINT)
        time.sleep(0.3)
    rc, _, err = finish(p)
    assert rc == 128 + signal.SIGINT
    assert b"stopping the Arrow now" in err


def test_kill_9_of_arrowh_leaves_nothing_behind():
    p = start(guest("sigwait"))
    p.kill()
    p.wait(timeout=TIMEOUT)
    assert p.returncode == -signal.SIGKILL
