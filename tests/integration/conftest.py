"""Shared helpers for integration tests: they boot real Arrows with the built tools.

They need a /dev/kvm that boots a standard guest; scripts/integration.sh runs them
inside the helper VM (`arrow machine`) where the host's KVM cannot.
"""
import os
import shutil
import signal
import sys
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
ARROW = os.path.join(BUILD, "bin", "arrow")
GUEST = os.path.join(BUILD, "tests", "guest")
BUSYBOX = "/bin/busybox"

# Everything runs under emulation in machine mode: generous, but never unbounded.
TIMEOUT = int(os.environ.get("ARROW_TEST_TIMEOUT", "180"))


def guest(name):
    return os.path.join(GUEST, name)


def detached_reports():
    """Stop this test's detached Arrows hard (each arrowh then reports where its vCPUs were)
    and return what they wrote to their arrowh.log."""
    root = os.environ.get("ARROW_ROOT")
    text = ""
    if not root or not os.path.isdir(root):
        return text
    running = subprocess.run([ARROW, "ps", "-q", "--no-trunc"], capture_output=True,
                             timeout=60).stdout.split()
    if running:
        subprocess.run([ARROW, "kill", *[i.decode() for i in running]], capture_output=True,
                       timeout=60)
    for id_ in sorted(os.listdir(root)):
        log = os.path.join(root, id_, "arrowh.log")
        if os.path.exists(log) and os.path.getsize(log):
            text += f"\n--- arrowh.log of {id_[:12]}:\n" + open(log, errors="replace").read()
        state = os.path.join(root, id_, "state.json")
        if os.path.exists(state) and '"exited"' in open(state).read():
            out = subprocess.run([ARROW, "logs", id_], capture_output=True, timeout=60)
            text += (f"\n--- state and last output of the exited {id_[:12]}: "
                     f"{open(state).read().strip()}\n"
                     + (out.stdout + out.stderr)[-2000:].decode(errors="replace"))
    return text


def arrow(*args, input=None, timeout=TIMEOUT, **kw):
    """Run the arrow CLI; returns CompletedProcess with bytes stdout/stderr.

    An Arrow that does not finish in time is stopped with three SIGINTs, which makes
    arrowh print where each vCPU was; the test then fails with that in its message.
    """
    stdin = kw.pop("stdin", subprocess.PIPE if input is not None else subprocess.DEVNULL)
    p = subprocess.Popen([ARROW, *args], stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, **kw)
    try:
        out, err = p.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        for _ in range(3):
            p.send_signal(signal.SIGINT)
            time.sleep(0.5)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        pytest.fail(f"arrow {' '.join(args)} did not finish in {timeout}s "
                    f"({len(out)} bytes of stdout came); stderr: {err.decode(errors='replace')}"
                    + detached_reports())
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def in_helper_vm():
    return os.environ.get("ARROW_IN_MACHINE") == "1"


def helper_wedge_rip():
    """The helper VM's wedge (docs/machine.md, "Peer comparison"): a vCPU reported at this
    address, timer interrupt pending, forever. It is the instruction after `vmrun` in the
    helper's own KVM (__svm_vcpu_run), and QEMU microvm wedged there too under the same
    stress. Found in the running helper kernel by scripts/wedgesig.py (its offset inside the
    function changes with the helper kernel's build: +0x9c compiled here, +0xa0 in Debian's
    packaged kernel). None outside the helper or when it cannot be found."""
    if not in_helper_vm():
        return None
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from wedgesig import post_vmrun_rip
    rip = post_vmrun_rip()
    return None if rip is None else f"0x{rip:x}"


HELPER_WEDGE_RIP = helper_wedge_rip()


def record_retry(reason, report):
    """An in-test retry is a failure: write its full report to a file under build/test-reports
    (printed in the run's summary) and tell the harness (scripts/integration.py), which
    counts it as this test's failure; a second failure of the test, in any session, fails
    the run. Only for signatures docs/testing.md lists, and only inside the helper VM."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "unknown").split(" ")[0]
    d = os.path.join(BUILD, "test-reports")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{test.replace('/', '_').replace(':', '_')}-{int(time.time())}.txt")
    with open(path, "w") as f:
        f.write(f"{test}\n{reason}\n\n{report}\n")
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from resultlog import write_event
    write_event({"event": "retry", "test": test, "reason": reason, "report": path})
    print(f"\nIN-TEST RETRY ({reason}); full report in {path}:\n{report}", flush=True)


def http_get(url, timeout=90):
    """curl url until it answers (the server Arrow may still be booting)."""
    deadline = time.time() + timeout
    while True:
        r = subprocess.run(["curl", "-sS", "-m", "5", url], capture_output=True)
        if r.returncode == 0 or time.time() > deadline:
            return r
        time.sleep(0.5)


def arrowh_pids():
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "arrowh":
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def _kvm_problem():
    if os.path.exists("/sys/module/kvm_pvm"):
        return "/dev/kvm is kvm-pvm here; run the tests through scripts/integration.sh (machine mode)"
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm; run the tests through scripts/integration.sh (machine mode)"
    return None


def pytest_collection_modifyitems(config, items):
    problem = _kvm_problem()
    if problem:
        # Not a silent skip: every VM test reports why it did not run.
        for item in items:
            if "host_only" not in item.keywords:
                item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture(autouse=True)
def state_root():
    """Each test gets its own state root (ARROW_ROOT), short enough for socket paths.

    Yields its path; at the end no file under it may still be open by any process.
    """
    root = tempfile.mkdtemp(prefix="ar-", dir="/tmp")
    old = os.environ.get("ARROW_ROOT")
    os.environ["ARROW_ROOT"] = root
    try:
        yield root
    finally:
        if old is None:
            del os.environ["ARROW_ROOT"]
        else:
            os.environ["ARROW_ROOT"] = old
        shutil.rmtree(root, ignore_errors=True)


def open_files_under(path):
    """(pid, fd target) for every descriptor of any process that points under path."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith(path + "/"):
                    found.append((int(pid), target))
        except OSError:
            pass
    return found


def pytest_configure(config):
    config.addinivalue_line("markers", "host_only: runs without a usable /dev/kvm")


@pytest.fixture(autouse=True)
def no_arrowh_left_behind():
    """Every test must leave no arrowh process running."""
    before = set(arrowh_pids())
    yield
    deadline = time.time() + 10
    while time.time() < deadline:
        left = set(arrowh_pids()) - before
        if not left:
            return
        time.sleep(0.1)
    for pid in left:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    pytest.fail(f"arrowh left running after the test: {sorted(left)}")


@pytest.fixture
def stop_all():
    """Remove every Arrow of the test's state root when the test ends, running or not."""
    yield
    ids = arrow("ps", "-aq", "--no-trunc").stdout.split()
    if ids:
        arrow("rm", "-f", *[i.decode() for i in ids], timeout=600)


@pytest.fixture
def images(tmp_path, monkeypatch):
    """An image store of the test's own."""
    d = tmp_path / "images"
    monkeypatch.setenv("ARROW_IMAGES", str(d))
    return d
