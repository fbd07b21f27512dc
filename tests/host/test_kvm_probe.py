"""On a host whose /dev/kvm cannot boot a standard guest, arrowh says so in one line."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARROW = os.path.join(ROOT, "build", "bin", "arrow")
HELLO = os.path.join(ROOT, "build", "tests", "guest", "hello")

UNUSABLE = os.path.exists("/sys/module/kvm_pvm") or not os.path.exists("/dev/kvm")


@pytest.mark.skipif(not UNUSABLE, reason="this host's /dev/kvm is usable; nothing to refuse")
def test_unusable_kvm_points_to_machine_mode():
    r = subprocess.run([ARROW, "run", HELLO], capture_output=True, timeout=60)
    assert r.returncode == 125
    assert b"arrow machine" in r.stderr
    assert r.stderr.count(b"\n") == 1


def test_machine_mode_runs_a_command_and_returns_its_status(tmp_path):
    r = subprocess.run([ARROW, "machine", "--", "sh", "-c",
                        "test -c /dev/kvm && pwd && echo err >&2 && exit 3"],
                       capture_output=True, timeout=300, cwd=ROOT)
    assert r.returncode == 3, r.stderr
    assert r.stdout == (ROOT + "\n").encode()
    assert r.stderr == b"err\n"


def test_machine_mode_needs_a_command():
    r = subprocess.run([ARROW, "machine"], capture_output=True, timeout=60)
    assert r.returncode == 125


def test_machine_mode_shares_the_working_directory_read_write(tmp_path):
    # tmp_path lives under /tmp, which the helper covers with its own tmpfs
    (tmp_path / "in").write_text("from the host\n")
    r = subprocess.run([ARROW, "machine", "--", "sh", "-c", "cat in; echo from the helper > out"],
                       capture_output=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"from the host\n"
    assert (tmp_path / "out").read_text() == "from the helper\n"
