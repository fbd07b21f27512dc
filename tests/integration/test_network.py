"""Arrow networks: real Arrows on bridges inside the helper VM (which has no way out:
every packet here stays on its bridges and loopback)."""
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import (BUSYBOX, HELPER_WEDGE_RIP, arrow, guest, http_get, in_helper_vm,
                      record_retry)

NET_ROOT = os.environ.get("ARROW_NET_ROOT", "/run/arrow/networks")
CYCLES = int(os.environ.get("ARROW_TEST_NET_CYCLES", "100"))


def run_d(*args):
    r = arrow("run", "-d", *args)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode().strip()


def ok(r):
    assert r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")
    return r.stdout.decode()


def inspect(ref):
    return json.loads(ok(arrow("inspect", ref)))[0]


def taps():
    return sorted(n for n in os.listdir("/sys/class/net") if n.startswith("at"))


def arrow_rules():
    """nftables rules owned by Arrows (published ports), across Arrow's table."""
    r = subprocess.run(["nft", "-j", "list", "table", "ip", "arrow"], capture_output=True)
    if r.returncode:
        return []
    return [i["rule"] for i in json.loads(r.stdout)["nftables"]
            if "rule" in i and i["rule"].get("comment", "").startswith("arrow:")]


def leases(net="arrow"):
    try:
        with open(os.path.join(NET_ROOT, net + ".leases")) as f:
            return json.load(f)
    except FileNotFoundError:
        return []


# A client inside an Arrow that retries while the server Arrow boots.
RETRY = "for i in $(seq 150); do {cmd} && exit 0; sleep 0.2; done; exit 1"


@pytest.fixture
def user_networks():
    made = []
    yield made
    for name in made:
        arrow("network", "rm", name)


def test_network_none_has_no_eth0_and_no_ip_stack():
    r = ok(arrow("run", "--rm", "--network", "none", BUSYBOX, "sh", "-c",
                 "ls /sys/class/net; cat /proc/net/dev; ls /proc/net"))
    assert "eth0" not in r
    # the kernel of Arrows without a network has neither IPv4 nor IPv6 (docs/network.md)
    assert "tcp" not in r.split() and "if_inet6" not in r.split() and "unix" in r.split(), r


def test_default_network_identity(stop_all):
    r = ok(arrow("run", "--rm", "--name", "idcheck", "--dns", "192.0.2.53", BUSYBOX, "sh", "-c",
                 "ip -o -4 addr show eth0; ip route; cat /etc/resolv.conf /etc/hosts; hostname; "
                 "cat /sys/class/net/eth0/address"))
    assert "inet 10.201." in r
    assert "default via 10.201.0.1 dev eth0" in r
    assert "nameserver 192.0.2.53" in r
    assert "127.0.0.1\tlocalhost" in r
    ip = r.split("inet ")[1].split("/")[0]
    assert f"{ip}\tidcheck" in r
    assert "\nidcheck\n" in r
    a, b, c, d = (int(x) for x in ip.split("."))
    assert f"02:a7:{a:02x}:{b:02x}:{c:02x}:{d:02x}" in r


def bridge_mac(br="arrow0"):
    with open(f"/sys/class/net/{br}/address") as f:
        return f.read().strip()


def test_the_bridge_keeps_its_mac_while_arrows_come_and_go(stop_all):
    """A bridge whose address was never set takes the lowest of its ports' and changes it as
    taps come and go; the guests keep the old one for their gateway and the host drops their
    frames as not its own (functions lost answers so). The bridge's address is set once:
    02:a7 and the gateway's address, and it holds while Arrows start and stop."""
    first = run_d(BUSYBOX, "sleep", "600")
    want = "02:a7:0a:c9:00:01"  # the default network's gateway, 10.201.0.1
    with open("/sys/class/net/arrow0/addr_assign_type") as f:
        assert f.read().strip() == "3"  # NET_ADDR_SET: the kernel leaves it alone
    assert bridge_mac() == want
    others = [run_d(BUSYBOX, "sleep", "600") for _ in range(3)]
    assert bridge_mac() == want
    for a in [first, *others]:
        ok(arrow("rm", "-f", a))
        assert bridge_mac() == want
    # and a guest's neighbour entry for its gateway is that address
    r = ok(arrow("run", "--rm", BUSYBOX, "sh", "-c", "ping -c 1 -W 5 10.201.0.1 >/dev/null; "
                 "cat /proc/net/arp"))
    assert want in r, r


def test_tcp_echo_and_ping_by_ip_and_name(stop_all):
    server = run_d("--name", "echo", BUSYBOX, "nc", "-ll", "-p", "7000", "-e", "/app/busybox",
                   "cat")
    ip = inspect(server)["NetworkSettings"]["ip"]
    by_ip = RETRY.format(cmd=f"echo hello-by-ip | nc -w 3 {ip} 7000 | grep -q hello-by-ip")
    ok(arrow("run", "--rm", BUSYBOX, "sh", "-c", by_ip))
    by_name = RETRY.format(cmd="echo hello-by-name | nc -w 3 echo 7000 | grep -q hello-by-name")
    ok(arrow("run", "--rm", BUSYBOX, "sh", "-c", by_name))
    r = ok(arrow("run", "--rm", BUSYBOX, "sh", "-c",
                 f"ping -c 2 -W 5 {ip} && ping -c 2 -W 5 echo && ping -c 1 -W 5 10.201.0.1"))
    assert "0% packet loss" in r
    # the host reaches the Arrow's address directly over the bridge
    with socket.create_connection((ip, 7000), timeout=10) as s:
        s.sendall(b"from-host\n")
        assert s.recv(100) == b"from-host\n"


def test_published_http_port(stop_all, tmp_path):
    web = run_d("--name", "web", "-p", "8080:80", BUSYBOX, "httpd", "-f", "-p", "80", "-h", "/etc")
    r = http_get("http://127.0.0.1:8080/hosts")
    assert r.returncode == 0, r.stderr.decode()
    assert b"\tweb\n" in r.stdout
    r = http_get("http://10.201.0.1:8080/hosts")
    assert r.returncode == 0 and b"\tweb\n" in r.stdout, r.stderr.decode()
    ps = ok(arrow("ps"))
    assert "0.0.0.0:8080->80/tcp" in ps
    # another Arrow cannot take the same host port
    r = arrow("run", "--rm", "-p", "8080:80", BUSYBOX, "true")
    assert r.returncode == 125
    assert b"8080" in r.stderr and b"already in use" in r.stderr
    ok(arrow("stop", web))
    r = subprocess.run(["curl", "-sS", "-m", "3", "http://127.0.0.1:8080/hosts"],
                       capture_output=True)
    assert r.returncode != 0


def test_published_udp_port(stop_all):
    run_d("-p", "127.0.0.1:5353:53/udp", guest("udpecho"), "53")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    deadline = time.time() + 90
    while True:
        s.sendto(b"ping-udp", ("127.0.0.1", 5353))
        try:
            data, _ = s.recvfrom(100)
            break
        except socket.timeout:
            assert time.time() < deadline, "no UDP echo through the published port"
    assert data == b"ping-udp"


def test_user_networks_are_isolated(stop_all, user_networks):
    for name in ("front", "back"):
        ok(arrow("network", "create", name))
        user_networks.append(name)
    nets = {n["Name"]: n for n in json.loads(ok(arrow("network", "inspect", "front", "back")))}
    assert nets["front"]["Subnet"] != nets["back"]["Subnet"]
    assert nets["front"]["Bridge"] != nets["back"]["Bridge"]
    server = run_d("--network", "front", "--name", "svc", BUSYBOX, "nc", "-ll", "-p", "7000",
                   "-e", "/app/busybox", "cat")
    ip = inspect(server)["NetworkSettings"]["ip"]
    assert ip.startswith(nets["front"]["Subnet"].rsplit(".", 2)[0])
    # same network: by name and by address
    ok(arrow("run", "--rm", "--network", "front", BUSYBOX, "sh", "-c",
             RETRY.format(cmd="echo x | nc -w 3 svc 7000 | grep -q x")))
    # the other network: neither the name nor the address
    r = arrow("run", "--rm", "--network", "back", BUSYBOX, "sh", "-c",
              f"echo x | nc -w 5 {ip} 7000; ping -c 1 -W 3 {ip}; grep -c svc /etc/hosts")
    assert r.returncode != 0
    assert b"x" not in r.stdout.split(b"\n")[0]
    assert r.stdout.strip().endswith(b"0")
    listed = ok(arrow("network", "ls"))
    assert "front" in listed and "back" in listed
    r = arrow("network", "rm", "front")
    assert r.returncode == 125 and b"running Arrows" in r.stderr
    ok(arrow("rm", "-f", server))
    ok(arrow("network", "rm", "front"))
    user_networks.remove("front")
    assert "front" not in ok(arrow("network", "ls"))


def test_fixed_ip_and_mac(stop_all, user_networks):
    ok(arrow("network", "create", "--subnet", "10.230.0.0/24", "fixed"))
    user_networks.append("fixed")
    r = ok(arrow("run", "--rm", "--network", "fixed", "--ip", "10.230.0.77", "--mac-address",
                 "02:11:22:33:44:55", BUSYBOX, "sh", "-c",
                 "ip -o -4 addr show eth0; cat /sys/class/net/eth0/address"))
    assert "inet 10.230.0.77/24" in r
    assert "02:11:22:33:44:55" in r


def test_network_errors(user_networks):
    r = arrow("run", "--rm", "--network", "nosuch", BUSYBOX, "true")
    assert r.returncode == 125 and b"network 'nosuch' not found" in r.stderr
    r = arrow("run", "--rm", "--ip", "192.0.2.9", BUSYBOX, "true")
    assert r.returncode == 125 and b"--ip 192.0.2.9" in r.stderr
    for bad in ("80", "a:80", "8080:0", "8080:80/sctp", "1.2.3:8080:80"):
        r = arrow("run", "--rm", "-p", bad, BUSYBOX, "true")
        assert r.returncode == 125 and b"invalid --publish" in r.stderr, bad
    r = arrow("run", "--rm", "--network", "none", "-p", "8080:80", BUSYBOX, "true")
    assert r.returncode == 125 and b"need a network" in r.stderr
    ok(arrow("network", "create", "--subnet", "10.231.0.0/16", "dup"))
    user_networks.append("dup")
    r = arrow("network", "create", "dup")
    assert r.returncode == 125 and b"already exists" in r.stderr
    r = arrow("network", "create", "--subnet", "10.231.128.0/17", "overlap")
    assert r.returncode == 125 and b"overlaps the Arrow network 'dup'" in r.stderr
    r = arrow("network", "create", "--subnet", "10.232.0.1/16", "hostbits")
    assert r.returncode == 125 and b"invalid subnet" in r.stderr
    r = arrow("network", "rm", "nosuch")
    assert r.returncode == 125 and b"no such network" in r.stderr
    # nothing was left behind by the failed runs
    assert not [l for l in leases() if l.get("name") is None]


def test_cycles_leave_nothing_behind(stop_all):
    before_taps, before_rules = taps(), arrow_rules()
    for i in range(CYCLES):
        a = run_d("-p", f"{9000 + i % 50}:80", BUSYBOX, "sleep", "600")
        ok(arrow("stop", "-t", "0", a))
        ok(arrow("rm", a))
    assert taps() == before_taps
    assert arrow_rules() == before_rules
    assert leases() == []


def test_kill_9_releases_tap_and_address(stop_all):
    a = run_d("-p", "8181:80", BUSYBOX, "sleep", "600")
    info = inspect(a)
    tap, ip = info["NetworkSettings"]["tap"], info["NetworkSettings"]["ip"]
    assert tap in taps()
    assert any(l["ip"] == ip for l in leases())
    assert len(arrow_rules()) == 1
    os.kill(info["State"]["Pid"], 9)
    deadline = time.time() + 10
    while tap in taps() and time.time() < deadline:
        time.sleep(0.1)
    assert tap not in taps()  # the kernel removed it with arrowh's descriptor
    assert "Exited (137)" in ok(arrow("ps", "-a"))
    assert not any(l["ip"] == ip for l in leases())
    assert arrow_rules() == []
    ok(arrow("rm", a))


def test_running_arrows_learn_peers_that_come_and_go(stop_all):
    watcher = run_d("--name", "first", BUSYBOX, "sh", "-c",
                    "until grep -q second /etc/hosts; do sleep 0.2; done; echo joined; "
                    "while grep -q second /etc/hosts; do sleep 0.2; done; echo left")
    second = run_d("--name", "second", BUSYBOX, "sleep", "600")
    deadline = time.time() + 90
    while b"joined" not in arrow("logs", watcher).stdout:
        assert time.time() < deadline, "the running Arrow never saw its new peer"
        time.sleep(0.5)
    ok(arrow("stop", "-t", "0", second))
    r = arrow("wait", watcher, timeout=90)
    assert r.stdout.strip() == b"0", r
    assert arrow("logs", watcher).stdout == b"joined\nleft\n"


def test_bulk_tcp_to_an_arrow_is_byte_exact(stop_all):
    """20 MiB from the host into an Arrow (offloads on: a device bug that corrupted, dropped
    or repeated data would show in the digest)."""
    import hashlib
    size = 20 * 1024 * 1024
    # host -> Arrow: the Arrow's sha256sum of what arrived
    sink = run_d("--memory", "256m", BUSYBOX, "nc", "-l", "-p", "7001", "-e", "/app/busybox",
                 "sha256sum")
    ip = inspect(sink)["NetworkSettings"]["ip"]
    data = os.urandom(size)
    deadline = time.time() + 90
    while True:
        try:
            s = socket.create_connection((ip, 7001), timeout=5)
            break
        except OSError:
            assert time.time() < deadline
            time.sleep(0.5)
    s.settimeout(120)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
    s.close()
    assert reply.split()[0].decode() == hashlib.sha256(data).hexdigest()


def arrowh_threads(pid):
    """Each arrowh thread's name, state and CPU ticks (user, of which in the guest, and
    system), twice 2 s apart."""
    text = ""
    for sample in range(2):
        for tid in sorted(os.listdir(f"/proc/{pid}/task")):
            try:
                d = f"/proc/{pid}/task/{tid}"
                stat = open(f"{d}/stat").read().rsplit(")", 1)[1].split()
                text += (f"{tid} {open(d + '/comm').read().strip()} state {stat[0]} "
                         f"utime {stat[11]} (guest {stat[40]}) stime {stat[12]}\n")
            except OSError as e:
                text += f"{tid}: {e}\n"
        time.sleep(2)
    return text


def stall_report(src, port, phase, got):
    """What both ends looked like when a stream stopped: the host socket (ss) and, after a
    host stop, arrowh's queue and counter report."""
    ss = subprocess.run(["ss", "-tinoe", "state", "all", f"( sport = :{port} or dport = :{port} )"],
                        capture_output=True).stdout.decode(errors="replace")
    dev = open("/proc/net/dev").read()
    logs = arrow("logs", src).stdout.decode(errors="replace")
    state = inspect(src)["State"]
    # the vCPUs are the jailed VMM's threads (docs/security.md)
    vmm = inspect(src).get("Sandbox", {}).get("VmmPid", state["Pid"])
    threads = arrowh_threads(vmm) if state["Running"] else "(not running)"
    arrow("kill", src)
    time.sleep(2)
    log = open(os.path.join(os.environ["ARROW_ROOT"], inspect(src)["Id"], "arrowh.log"),
               errors="replace").read()
    return f"stalled while {phase} after {got} bytes; Arrow state {state}\n--- ss:\n{ss}\n--- /proc/net/dev:\n{dev}" \
           f"\n--- arrowh threads (two samples 2 s apart):\n{threads}" \
           f"\n--- Arrow output (its /proc/net/tcp every 15 s):\n{logs[-6000:]}\n--- arrowh.log:\n{log}"


def guest_cpu_share(pid, seconds=2):
    """The largest share of one CPU that any arrowh thread spent running guest code over
    `seconds` (guest_time ticks from /proc/PID/task/TID/stat)."""
    def ticks():
        out = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                out[tid] = int(open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1]
                               .split()[40])
            except OSError:
                pass
        return out
    a = ticks()
    time.sleep(seconds)
    b = ticks()
    return max((b[t] - a.get(t, b[t]) for t in b), default=0) / (seconds * os.sysconf("SC_CLK_TCK"))


def send_from_an_arrow(size):
    """An Arrow sends `size` random bytes to a host socket. Returns (digest the Arrow logged,
    digest of what arrived, bytes arrived, Arrow id); or raises Stalled with a report."""
    import hashlib
    srv = socket.socket()
    srv.bind(("10.201.0.1", 0))
    srv.listen(1)
    srv.settimeout(240)
    port = srv.getsockname()[1]
    src = run_d("--memory", "256m", BUSYBOX, "sh", "-c",
                f"head -c {size} /dev/urandom >/tmp/f && sha256sum /tmp/f && "
                f"{{ (while sleep 15; do cat /proc/net/tcp; done) & m=$!; "
                f"nc 10.201.0.1 {port} </tmp/f; r=$?; kill $m; exit $r; }}")
    h, got, phase = hashlib.sha256(), 0, "waiting for the connection"
    try:
        conn, _ = srv.accept()
        conn.settimeout(90)
        phase = "receiving"
        while chunk := conn.recv(1 << 16):
            h.update(chunk)
            got += len(chunk)
    except socket.timeout:
        info = inspect(src)
        state = info["State"]
        vmm = info.get("Sandbox", {}).get("VmmPid", state["Pid"])
        share = guest_cpu_share(vmm) if state["Running"] else 0
        raise Stalled(share, stall_report(src, port, phase, got))
    finally:
        srv.close()
    conn.close()
    assert arrow("wait", src).stdout.strip() == b"0"
    return arrow("logs", src).stdout.split()[0].decode(), h.hexdigest(), got, src


class Stalled(Exception):
    def __init__(self, guest_share, report):
        super().__init__(report)
        self.guest_share, self.report = guest_share, report


def test_bulk_tcp_from_an_arrow_is_byte_exact(stop_all):
    """20 MiB from an Arrow to the host: the host's digest against the one the Arrow logged.

    Inside the helper VM a guest vCPU sometimes wedges in the nested virtualization below
    arrowh (docs/machine.md): it runs guest code at one rip with a timer interrupt pending
    that is never delivered. That case — inside the helper VM, the vCPU thread spending most
    of a CPU in guest mode at the wedge address while the stream has been silent for 90 s —
    is recorded as a failure (record_retry) and retried once with a fresh Arrow; anything
    else, a triple fault included, fails."""
    size = 20 * 1024 * 1024
    if not os.path.exists("/sys/class/net/arrow0"):
        ok(arrow("run", "--rm", BUSYBOX, "true"))  # the default network comes with a first Arrow
    for attempt in (1, 2):
        try:
            logged, arrived, got, _ = send_from_an_arrow(size)
            break
        except Stalled as e:
            # Only inside the helper VM, and only on the signature docs/testing.md lists
            # (measured against QEMU microvm under the same stress, docs/machine.md): a vCPU
            # busy in guest mode at the helper's wedge address. A triple fault is not
            # retried here: QEMU showed none under the same stress.
            wedged = (in_helper_vm() and HELPER_WEDGE_RIP is not None
                      and e.guest_share >= 0.5 and f"rip {HELPER_WEDGE_RIP}" in e.report)
            if attempt == 2 or not wedged:
                pytest.fail(f"guest CPU share {e.guest_share:.2f}\n{e.report}")
            record_retry("helper VM: a vCPU wedged in guest mode at the helper's wedge address "
                         f"{HELPER_WEDGE_RIP} (share {e.guest_share:.0%} of a CPU, stream silent) "
                         "during the Arrow-to-host stream; retried with a fresh Arrow", e.report)
    assert got == size
    assert logged == arrived


OUTSIDE_SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.250.0.2", 9000))
s.listen(1)
print("listening", flush=True)
c, peer = s.accept()
c.sendall(("seen-from %s\\n" % peer[0]).encode())
c.close()
"""


def test_outbound_traffic_is_masqueraded(stop_all):
    """An "outside" host in a network namespace behind a veth pair: an Arrow reaches it and
    it sees the host's address, not the Arrow's private one."""
    ns = "arrow-outside"
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", "ao-host"], capture_output=True)
    for cmd in (["ip", "netns", "add", ns],
                ["ip", "link", "add", "ao-host", "type", "veth", "peer", "name", "ao-ns",
                 "netns", ns],
                ["ip", "addr", "add", "10.250.0.1/24", "dev", "ao-host"],
                ["ip", "link", "set", "ao-host", "up"],
                ["ip", "netns", "exec", ns, "ip", "addr", "add", "10.250.0.2/24", "dev", "ao-ns"],
                ["ip", "netns", "exec", ns, "ip", "link", "set", "ao-ns", "up"]):
        subprocess.run(cmd, check=True, capture_output=True)
    server = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
                               OUTSIDE_SERVER], stdout=subprocess.PIPE)
    try:
        assert server.stdout.readline() == b"listening\n"
        r = ok(arrow("run", "--rm", BUSYBOX, "sh", "-c",
                     RETRY.format(cmd="nc -w 5 10.250.0.2 9000")))
        assert "seen-from 10.250.0.1" in r
    finally:
        server.kill()
        server.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", "ao-host"], capture_output=True)


def cpu_seconds(pid):
    """utime + stime of every thread of pid, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_an_idle_arrow_with_a_network_does_not_spin(stop_all):
    a = run_d(BUSYBOX, "sleep", "600")
    pid = inspect(a)["State"]["Pid"]
    time.sleep(5)  # let the boot settle
    before = cpu_seconds(pid)
    time.sleep(10)
    used = cpu_seconds(pid) - before
    # a spinning thread would burn ~10 s here; an idle Arrow burns (almost) nothing
    assert used < 1.0, f"arrowh used {used:.2f} s of CPU in 10 s while idle"


def test_removing_every_network_leaves_nothing_in_nftables_or_links(stop_all):
    ok(arrow("run", "--rm", BUSYBOX, "true"))  # the default network exists now
    names = ok(arrow("network", "ls", "-q")).split()
    assert "arrow" in names
    ok(arrow("network", "rm", *names))
    assert ok(arrow("network", "ls", "-q")) == ""
    r = subprocess.run(["nft", "list", "table", "ip", "arrow"], capture_output=True)
    assert r.returncode != 0, r.stdout.decode()
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith(("arrow", "at"))]
    # and the default network comes back on first use
    r = ok(arrow("run", "--rm", BUSYBOX, "sh", "-c", "ip -o -4 addr show eth0"))
    assert "inet 10.201." in r
