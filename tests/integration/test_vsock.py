"""virtio-vsock (docs/vsock.md): a host program reaches a guest service through the
Arrow's vsock.sock ("CONNECT <port>\\n", "OK <port>\\n"), a guest program reaches a host
service listening on vsock.sock_<port>, bytes are exact both ways, refusals are clean, and
a clone's connections are reset while its guest's listener keeps working."""
import os
import re
import socket
import threading
import time

import pytest

from conftest import arrow, guest, TIMEOUT

ECHO = guest("vsockecho")
PORT = 1234
MIB = 1 << 20


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stderr.decode(errors="replace"))
    return r.stdout.decode()


def pattern(n):
    return bytes((i * 131 + (i >> 11) + (i >> 19)) & 0xff for i in range(n))


def state_dir(name):
    """The Arrow's state directory (where vsock.sock is), found by its name."""
    root = os.environ["ARROW_ROOT"]
    for d in os.listdir(root):
        cfg = os.path.join(root, d, "config.json")
        if os.path.exists(cfg) and f'"{name}"' in open(cfg).read():
            return os.path.join(root, d)
    pytest.fail(f"no state directory for {name}")
def vsock_connect(sdir, port, deadline_s=120):
    """CONNECT to the guest's port through the Arrow's socket: (socket, host port).
    Retries while the guest's listener is not up yet (the connection is then closed)."""
    deadline = time.time() + deadline_s
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        try:
            s.connect(os.path.join(sdir, "vsock.sock"))
            s.sendall(f"CONNECT {port}\n".encode())
            line = b""
            while not line.endswith(b"\n"):
                c = s.recv(1)
                if not c:
                    break
                line += c
            m = re.fullmatch(rb"OK (\d+)\n", line)
            if m:
                return s, int(m.group(1))
        except OSError:
            pass
        s.close()
        if time.time() > deadline:
            pytest.fail(f"no guest listener on vsock port {port} in {sdir}")
        time.sleep(0.5)


def echo_through(s, data):
    """Send data while reading its echo back; returns what came back."""
    got = bytearray()
    err = []

    def send():
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=send)
    t.start()
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    t.join(TIMEOUT)
    assert not err, err
    return bytes(got)


def echo_through_open(s, data):
    """Send data and read its echo, leaving the connection open."""
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def wait_log(name, regex, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = arrow("logs", name).stdout.decode(errors="replace")
        if re.search(regex, out):
            return out
        time.sleep(0.5)
    pytest.fail(f"{regex!r} not in the logs of {name}: {out}")


def test_host_to_guest_byte_exact(stop_all):
    ok(arrow("run", "-d", "--name", "srv", "--network", "none", ECHO, "listen", str(PORT)))
    sdir = state_dir("srv")
    s, hport = vsock_connect(sdir, PORT)
    assert hport >= 0x40000000
    data = os.urandom(4 * MIB)
    assert echo_through(s, data) == data
    s.close()
    wait_log("srv", f"vsockecho: done {4 * MIB}\\b")
    # a port nobody listens on: closed without an OK
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.settimeout(60)
    r.connect(os.path.join(sdir, "vsock.sock"))
    r.sendall(b"CONNECT 999\n")
    assert r.recv(64) == b""
    r.close()
    # a bad handshake line: closed too
    r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    r.settimeout(60)
    r.connect(os.path.join(sdir, "vsock.sock"))
    r.sendall(b"HELLO 1234\n")
    assert r.recv(64) == b""
    r.close()
    # the service still answers
    s, _ = vsock_connect(sdir, PORT)
    assert echo_through(s, b"again") == b"again"
    s.close()


def host_echo_server(path, ready, result):
    """A host service on path: echo one connection, record the bytes it carried."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)
    srv.settimeout(TIMEOUT)
    ready.set()
    try:
        c, _ = srv.accept()
        c.settimeout(TIMEOUT)
        got = bytearray()
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
            got += b
        result.append(bytes(got))
        c.close()
    except OSError as e:
        result.append(e)
    finally:
        srv.close()


def test_guest_to_host_byte_exact_and_refused(stop_all):
    # nothing listens on the host's port 4321: the guest's connect is refused at once
    r = arrow("run", "--rm", "--network", "none", ECHO, "connect", "4321", "10")
    assert r.returncode == 3, (r.stdout + r.stderr)
    assert b"vsockecho: refused" in r.stdout
    # the guest keeps trying until the host service below is up
    n = 3 * MIB
    ok(arrow("run", "-d", "--name", "cli", "--network", "none", ECHO, "connect", str(PORT),
             str(n), "120"))
    sdir = state_dir("cli")
    ready, result = threading.Event(), []
    t = threading.Thread(target=host_echo_server,
                         args=(os.path.join(sdir, f"vsock.sock_{PORT}"), ready, result))
    t.start()
    ready.wait(10)
    assert ok(arrow("wait", "cli", timeout=TIMEOUT)).strip() == "0"
    t.join(TIMEOUT)
    assert result == [pattern(n)], (result[:1] if result and isinstance(result[0], Exception)
                                    else [len(x) for x in result])
    assert f"vsockecho: ok {n}" in ok(arrow("logs", "cli"))


@pytest.fixture
def snapshots(tmp_path, monkeypatch):
    """A snapshot store of the test's own (sealed memory files unsealed afterwards)."""
    from test_snapshots import unseal
    store = str(tmp_path / "snapshots")
    monkeypatch.setenv("ARROW_SNAPSHOTS", store)
    yield store
    for d, _, files in os.walk(store):
        for f in files:
            try:
                unseal(os.path.join(d, f))
            except OSError:
                pass


def test_clone_resets_connections_and_its_listener_answers(stop_all, snapshots):
    ok(arrow("run", "-d", "--name", "orig", "--network", "none", ECHO, "listen", str(PORT)))
    orig = state_dir("orig")
    s, _ = vsock_connect(orig, PORT)
    assert echo_through_open(s, b"before") == b"before"
    ok(arrow("snapshot", "orig", "snap"))
    # the original's connection lives on
    assert echo_through_open(s, b"after") == b"after"
    ok(arrow("run", "-d", "--from", "snap", "--name", "clone", "--network", "none"))
    clone = state_dir("clone")
    # the clone's guest had that connection too: the transport reset ends it there (the
    # guest's read fails or sees the end, as its kernel decides; 6 bytes, not 11)
    wait_log("clone", r"vsockecho: (reset|done) 6\b")
    # its listener answers on the clone's own socket
    c, _ = vsock_connect(clone, PORT)
    data = os.urandom(MIB)
    assert echo_through(c, data) == data
    c.close()
    assert echo_through(s, b"still") == b"still"
    s.close()
