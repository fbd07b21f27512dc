"""The security boundary seen from real Arrows (docs/security.md): the volume ownership
policy against a hostile guest, a guest pinning arrowh's descriptors, the jailed VMM as
/proc shows it, and the seccomp filter killing a forbidden call."""
import json
import os
import socket
import stat
import struct
import time

import pytest

from conftest import BUSYBOX, arrow, guest

pytestmark = pytest.mark.usefixtures("stop_all")

HOSTCTL_MAGIC = 0x41435452
HOSTCTL_SELFTEST = 6


def sh(*args, script):
    return arrow("run", "--rm", "--network", "none", *args, BUSYBOX, "sh", "-c", script)


def state_of(name):
    r = arrow("inspect", name)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)[0]
    with open(os.path.join(info["StateDir"], "state.json")) as f:
        return info, json.load(f)


def wait_for_log(name, text, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = arrow("logs", name).stdout.decode(errors="replace")
        if text in out:
            return out
        time.sleep(0.5)
    pytest.fail(f"{name} never printed {text!r}; its log: {out[-2000:]}")


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


@pytest.mark.parametrize("sandbox", ["jailed", "no-sandbox"])
def test_guest_cannot_plant_setuid_files_chown_or_change_the_volume_root(tmp_path, sandbox):
    """The 9P ownership policy holds whoever arrowh runs as (root with --no-sandbox)."""
    vol = tmp_path / "v"
    vol.mkdir()
    os.chmod(vol, 0o777)
    before = os.stat(vol)
    extra = ["--no-sandbox"] if sandbox == "no-sandbox" else []
    r = sh(*extra, "-v", f"{vol}:/v", script=(
        "touch /v/s; chmod 4755 /v/s; echo chmod=$?; chown 0:0 /v/s; echo chown=$?; "
        "chown 4242:4242 /v/s; echo chown2=$?; mkdir /v/d; chmod 2777 /v/d; "
        "chmod 2777 /v; echo rootchmod=$?; chown 4242 /v; echo rootchown=$?; "
        "touch -d '2001-01-01' /v; echo roottouch=$?; ls -ln /v"))
    out = r.stdout.decode()
    assert r.returncode == 0, (out, r.stderr)
    st = os.lstat(vol / "s")
    assert not st.st_mode & (stat.S_ISUID | stat.S_ISGID), oct(st.st_mode)
    assert st.st_mode & 0o777 == 0o755  # the permission bits were kept
    assert st.st_uid != 4242 and "chown2=1" in out
    if sandbox == "jailed":
        assert st.st_uid != 0, "a jailed arrowh creates files as its own user"
    assert not os.lstat(vol / "d").st_mode & stat.S_ISGID
    after = os.stat(vol)
    assert (after.st_mode, after.st_uid, after.st_gid) == \
        (before.st_mode, before.st_uid, before.st_gid)
    assert "rootchmod=1" in out and "rootchown=1" in out and "roottouch=1" in out, out


def test_a_guest_holding_thousands_of_files_cannot_stop_a_graceful_stop(tmp_path):
    vol = tmp_path / "many"
    vol.mkdir()
    r = arrow("run", "-d", "--name", "hog", "--network", "none", "-v", f"{vol}:/many:U",
              guest("holdfiles"), "/many", "6000")
    assert r.returncode == 0, r.stderr
    out = wait_for_log("hog", "held ")
    held = int(out.split("held ")[1].split()[0])
    # arrowh caps what one guest may pin below its own descriptor reserve
    assert held < 6000, out
    info, st = state_of("hog")
    vmm = st["vmm_pid"]
    # control connections still work while the guest holds everything it may
    for _ in range(3):
        assert arrow("logs", "hog").returncode == 0
    assert proc_status(vmm)["State"][0] in "SR"
    r = arrow("stop", "-t", "60", "hog")
    assert r.returncode == 0, r.stderr
    r = arrow("inspect", "hog")
    state = json.loads(r.stdout)[0]["State"]
    # SIGTERM reached the app (the default action ends it: 143), no hard stop (137)
    assert state["ExitCode"] == 143, state


def test_the_running_vmm_is_jailed(tmp_path):
    vol = tmp_path / "v"
    vol.mkdir()
    r = arrow("run", "-d", "--name", "jailed", "-v", f"{vol}:/v:U", BUSYBOX, "sh", "-c",
              "echo in > /v/made && echo ready && sleep 600")
    assert r.returncode == 0, r.stderr
    wait_for_log("jailed", "ready")
    info, st = state_of("jailed")
    vmm, sup = st["vmm_pid"], st["pid"]
    assert vmm != sup
    s = proc_status(vmm)
    assert s["Uid"].split()[0] != "0" and s["Gid"].split()[0] != "0", s
    assert set(s["Uid"].split()) == {s["Uid"].split()[0]}  # real, effective, saved, fs
    assert int(s["CapEff"], 16) == 0 and int(s["CapPrm"], 16) == 0 and int(s["CapBnd"], 16) == 0
    assert s["NoNewPrivs"] == "1" and s["Seccomp"] == "2", s
    assert s["PPid"] == str(sup)
    for ns in ("mnt", "net", "pid", "ipc", "uts"):
        assert os.readlink(f"/proc/{vmm}/ns/{ns}") != os.readlink(f"/proc/{sup}/ns/{ns}"), ns
    # its root is empty: nothing of the host's file system is there
    assert sorted(os.listdir(f"/proc/{vmm}/root")) == ["proc"]
    # and its /proc is read-only, processes only (no /proc/sys), its own PID namespace's
    with open(f"/proc/{vmm}/mountinfo") as f:
        procs = [line.split() for line in f if line.split()[4] == "/proc"]
    assert len(procs) == 1, procs
    fields = procs[0]
    opts, sup_opts = fields[5].split(","), fields[fields.index("-") + 3].split(",")
    assert "ro" in opts, fields
    assert "subset=pid" in sup_opts and "hidepid=invisible" in sup_opts, fields
    assert not os.path.exists(f"/proc/{vmm}/root/proc/sys")
    assert (vol / "made").read_text() == "in\n"
    sandbox = info["Sandbox"]
    assert sandbox["Jailed"] is True and sandbox["Seccomp"] == "2" and sandbox["VmmPid"] == vmm
    # the network and the control socket keep working jailed
    assert arrow("stop", "jailed").returncode == 0


def test_a_forbidden_system_call_kills_the_vmm(tmp_path, monkeypatch):
    monkeypatch.setenv("ARROW_SECCOMP_SELFTEST", "1")
    r = arrow("run", "-d", "--name", "victim", "--network", "none", BUSYBOX, "sh", "-c",
              "echo ready; sleep 600")
    assert r.returncode == 0, r.stderr
    wait_for_log("victim", "ready")
    info, st = state_of("victim")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(info["StateDir"], "ctl.sock"))
    s.sendall(struct.pack("<IIII", HOSTCTL_MAGIC, HOSTCTL_SELFTEST, 0, 0))
    s.settimeout(120)
    assert s.recv(4) == b""  # no reply: the VMM died on the call
    s.close()
    deadline = time.time() + 120
    while time.time() < deadline:
        state = json.loads(arrow("inspect", "victim").stdout)[0]["State"]
        if not state["Running"]:
            break
        time.sleep(0.2)
    assert state["ExitCode"] == 128 + 31, state  # SIGSYS
    log = open(os.path.join(info["StateDir"], "arrowh.log")).read()
    assert "seccomp" in log and "SIGSYS" in log, log


def test_no_sandbox_is_loud_and_unjailed():
    r = arrow("run", "-d", "--name", "open", "--no-sandbox", "--network", "none", BUSYBOX,
              "sh", "-c", "echo ready; sleep 600")
    assert r.returncode == 0, r.stderr
    assert b"--no-sandbox" in r.stderr and b"warning" in r.stderr
    wait_for_log("open", "ready")
    info, st = state_of("open")
    assert info["Sandbox"]["Jailed"] is False
    assert proc_status(st["vmm_pid"])["Uid"].split()[0] == "0"
    assert arrow("stop", "open").returncode == 0
