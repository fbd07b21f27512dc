"""arrow-oci joining the network namespace its caller prepared (docs/oci.md, "Networking"),
as podman/netavark, CNI and Docker leave one: a veth pair with one end in a namespace, an
address, a default route. The Arrow's guest must take that interface's address, MAC and
route, answer on the address from outside the namespace, and delete must give the
namespace back as it was."""
import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import TIMEOUT
from podmanutil import podman_with_image, require_podman
from test_oci import create, make_bundle, oci, root, subreaper, wait_pid  # noqa: F401

NS = f"arrowoci{os.getpid()}"
HOST_IF = f"ah{os.getpid() % 100000}"
HOST_IP, GUEST_IP = "10.123.7.1", "10.123.7.2"


def ip(*args, ns=None, check=True):
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, f"{' '.join(cmd)}: {r.stderr}"
    return r


def ns_link(name):
    return json.loads(ip("-j", "addr", "show", "dev", name, ns=NS).stdout)[0]


def ns_state():
    eth0 = ns_link("eth0")
    addrs = [f"{a['local']}/{a['prefixlen']}" for a in eth0.get("addr_info", [])
             if a["family"] == "inet"]
    routes = json.loads(ip("-j", "-4", "route", "show", "default", ns=NS).stdout)
    bridge = ip("link", "show", "arrowbr0", ns=NS, check=False).returncode == 0
    return eth0["address"], addrs, [r.get("gateway") for r in routes], bridge


@pytest.fixture
def netns():
    """What a network plugin leaves for the runtime: eth0 in a namespace, addressed, routed."""
    ip("netns", "add", NS)
    try:
        ip("link", "add", HOST_IF, "type", "veth", "peer", "name", "eth0", "netns", NS)
        ip("addr", "add", f"{HOST_IP}/24", "dev", HOST_IF)
        ip("link", "set", HOST_IF, "up")
        ip("link", "set", "lo", "up", ns=NS)
        ip("addr", "add", f"{GUEST_IP}/24", "dev", "eth0", ns=NS)
        ip("link", "set", "eth0", "up", ns=NS)
        ip("route", "add", "default", "via", HOST_IP, ns=NS)
        yield f"/run/netns/{NS}"
    finally:
        ip("link", "del", HOST_IF, check=False)
        ip("netns", "del", NS, check=False)


def get(url, deadline):
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except OSError as e:
            last = e
            time.sleep(0.5)
    pytest.fail(f"{url} never answered: {last}")


def web_bundle(tmp_path, nspath):
    files = tmp_path / "files"
    files.mkdir()
    (files / "resolv.conf").write_text("search example.test\nnameserver 10.123.7.53\n"
                                       "nameserver not-an-address\n")
    (files / "hosts").write_text("127.0.0.1 localhost\n10.123.7.9 peerhost peer\n# comment\n")
    script = ("cat /sys/class/net/eth0/address; grep nameserver /etc/resolv.conf; "
              "grep peerhost /etc/hosts; ip -4 addr show eth0; ip route; "
              "exec httpd -f -p 80 -h /www")
    bundle = make_bundle(
        tmp_path / "b", ["sh", "-c", script],
        mounts=[{"destination": "/etc/resolv.conf", "type": "bind",
                 "source": str(files / "resolv.conf"), "options": ["rbind", "ro"]},
                {"destination": "/etc/hosts", "type": "bind", "source": str(files / "hosts"),
                 "options": ["rbind", "ro"]}],
        extra={"linux": {"namespaces": [{"type": "pid"}, {"type": "mount"},
                                        {"type": "network", "path": nspath}]}})
    www = tmp_path / "b" / "rootfs" / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from the arrow\n")
    return bundle


def test_the_guest_takes_the_namespaces_interface_and_gives_it_back(tmp_path, root, netns):
    mac, addrs, gws, bridge = ns_state()
    assert addrs == [f"{GUEST_IP}/24"] and gws == [HOST_IP] and not bridge
    bundle = web_bundle(tmp_path, netns)
    pid = create(root, "web", bundle, tmp_path)
    assert oci(root, "start", "web").returncode == 0
    status, body = get(f"http://{GUEST_IP}/", time.time() + TIMEOUT)
    assert status == 200 and body == "hello from the arrow\n"
    out = (tmp_path / "web.out").read_text()
    lines = out.splitlines()
    assert lines[0] == mac                          # the guest has the interface's MAC
    assert "nameserver 10.123.7.53" in out and "not-an-address" not in out
    assert "10.123.7.9 peerhost peer" in out        # the caller's /etc/hosts lines
    assert f"inet {GUEST_IP}/24" in out
    assert f"default via {HOST_IP}" in out
    # in the namespace: the address is the guest's now, the interface bridged to the tap
    ns_mac, ns_addrs, ns_gws, ns_bridge = ns_state()
    assert ns_addrs == [] and ns_bridge and ns_mac != mac
    # one Arrow per namespace: a second create is refused and leaves nothing behind
    (tmp_path / "second").mkdir()
    bundle2 = web_bundle(tmp_path / "second", netns)
    r = oci(root, "create", "--bundle", bundle2, "second")
    assert r.returncode == 1 and b"already uses it" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(root, "second"))
    assert ns_state()[1] == [] and ns_state()[3]    # the first one's network untouched
    assert get(f"http://{GUEST_IP}/", time.time() + 60)[0] == 200
    assert oci(root, "kill", "web", "KILL").returncode == 0
    wait_pid(pid)
    assert oci(root, "delete", "web").returncode == 0
    assert ns_state() == (mac, [f"{GUEST_IP}/24"], [HOST_IP], False)


def test_a_bad_network_namespace_is_refused_at_create(tmp_path, root):
    for path, says in (("/nonexistent/netns", b"cannot open network namespace"),
                       ("/proc/self/ns/pid", b"is not a network namespace"),
                       ("relative/ns", b"must be an absolute path"),
                       # the caller's own (the host's): never stripped of its interface
                       ("/proc/1/ns/net", b"the caller's own network namespace")):
        bundle = make_bundle(tmp_path / path.replace("/", "_"), ["true"],
                             extra={"linux": {"namespaces": [{"type": "network", "path": path}]}})
        r = oci(root, "create", "--bundle", bundle, "bad")
        assert r.returncode == 1 and says in r.stderr, (path, r.stderr)
        assert not os.path.exists(os.path.join(root, "bad"))


def test_a_namespace_without_an_address_is_refused(tmp_path, root):
    ns = f"arrowempty{os.getpid()}"
    ip("netns", "add", ns)
    try:
        bundle = make_bundle(tmp_path / "b", ["true"],
                             extra={"linux": {"namespaces": [
                                 {"type": "network", "path": f"/run/netns/{ns}"}]}})
        r = oci(root, "create", "--bundle", bundle, "empty")
        assert r.returncode == 1 and b"no interface with an IPv4 address" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(root, "empty"))
    finally:
        ip("netns", "del", ns, check=False)


FURNISH = """#!/bin/sh
# A prestart hook furnishing the container's own network namespace the way Docker's
# libnetwork-setkey does: it finds the namespace as /proc/PID/ns/net of the state's pid.
set -e
pid=$(sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
echo "$pid" > "$0.pid"
ip link add {host_if} type veth peer name eth0 netns "$pid"
ip addr add {host_ip}/24 dev {host_if}
ip link set {host_if} up
nsenter --net=/proc/$pid/ns/net sh -c 'ip link set lo up; ip addr add {guest_ip}/24 dev eth0; \\
    ip link set eth0 up; ip route add default via {host_ip}'
"""


def test_a_fresh_namespace_furnished_by_a_prestart_hook(tmp_path, root):
    """Docker's shape: linux.namespaces asks for a new network namespace (no path), and a
    prestart hook puts a veth end with an address and route in it through /proc/PID/ns/net.
    The container process makes the namespace before the hooks run, so the hook furnishes
    the container's namespace, never the caller's, and the guest takes the interface."""
    host_if = f"ad{os.getpid() % 100000}"
    hook = tmp_path / "furnish.sh"
    hook.write_text(FURNISH.format(host_if=host_if, host_ip=HOST_IP, guest_ip=GUEST_IP))
    hook.chmod(0o755)
    bundle = web_bundle(tmp_path, None)
    config = json.loads((tmp_path / "b" / "config.json").read_text())
    config["linux"]["namespaces"] = [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]
    config["hooks"] = {"prestart": [{"path": str(hook), "args": [str(hook)]}]}
    (tmp_path / "b" / "config.json").write_text(json.dumps(config))
    host_links = ip("-o", "link", "show").stdout
    try:
        pid = create(root, "fresh", bundle, tmp_path)
        assert (tmp_path / "furnish.sh.pid").read_text().strip() == str(pid)
        own = os.readlink(f"/proc/{pid}/ns/net")
        assert own != os.readlink("/proc/self/ns/net")       # a namespace of its own
        # taken over as for a namespace given by path: bridged to the tap, address gone
        # (links by `ip link`: `ip addr` lists only those with an address, and whether the
        # bridge has its IPv6 link-local one yet is a matter of timing)
        def inside(*what):
            return subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-o", *what],
                                  capture_output=True, text=True, timeout=30).stdout
        links = inside("link")
        assert "arrowbr0" in links and "arrowtap0" in links and GUEST_IP not in inside("addr")
        assert "arrowbr0" not in ip("-o", "link", "show").stdout  # never in the caller's
        assert oci(root, "start", "fresh").returncode == 0
        status, body = get(f"http://{GUEST_IP}/", time.time() + TIMEOUT)
        assert status == 200 and body == "hello from the arrow\n"
        assert f"inet {GUEST_IP}/24" in (tmp_path / "fresh.out").read_text()
        assert oci(root, "kill", "fresh", "KILL").returncode == 0
        wait_pid(pid)
        assert oci(root, "delete", "fresh").returncode == 0
    finally:
        ip("link", "del", host_if, check=False)
    # the veth went with the namespace; the caller's links are as they were
    assert ip("-o", "link", "show").stdout.count("\n") == host_links.count("\n")


def test_a_fresh_namespace_left_empty_gives_loopback_only(tmp_path, root):
    """No hook gives it an interface (docker --network none): the Arrow runs, loopback only."""
    hook = tmp_path / "nothing.sh"
    hook.write_text("#!/bin/sh\ncat >/dev/null\n")
    hook.chmod(0o755)
    bundle = make_bundle(tmp_path / "b", ["sh", "-c", "ip -o link; ip -4 -o addr"],
                         extra={"hooks": {"prestart": [{"path": str(hook)}]}})
    pid = create(root, "empty", bundle, tmp_path)
    assert oci(root, "start", "empty").returncode == 0
    assert wait_pid(pid) == 0
    out = (tmp_path / "empty.out").read_text()
    assert "lo" in out and "eth0" not in out, out
    assert oci(root, "delete", "empty").returncode == 0


@pytest.fixture
def podman(tmp_path, request):
    """podman with arrow-oci as its runtime, storage and state on the test's tmpfs, its
    networks from a directory of ours (the helper's /etc and /var are read-only), and an
    image localhost/web: busybox httpd serving /www."""
    require_podman()
    nets = tmp_path / "networks"
    nets.mkdir()
    # podman's default bridge network, with host-local's leases where they can be written
    (nets / "arrowtest.conflist").write_text(json.dumps({
        "cniVersion": "0.4.0", "name": "arrowtest",
        "plugins": [
            {"type": "bridge", "bridge": "cni-arrow0", "isGateway": True, "ipMasq": True,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": str(tmp_path / "cni-leases"),
                      "routes": [{"dst": "0.0.0.0/0"}],
                      "ranges": [[{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall"}, {"type": "tuning"}]}))
    # libcni keeps its cache in /var/lib/cni, whatever podman is told: in the helper VM the
    # host's tree is read-only, so the test gives the helper a tmpfs there (made by setup.sh)
    probe = "/var/lib/cni/.arrow-write-test"
    try:
        open(probe, "w").close()
        os.unlink(probe)
    except OSError:
        assert os.path.isdir("/var/lib/cni"), "no /var/lib/cni: run scripts/setup.sh"
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "arrow-cni", "/var/lib/cni"],
                       check=True)
        request.addfinalizer(lambda: subprocess.run(["umount", "/var/lib/cni"]))
    pm = podman_with_image(tmp_path, request, "localhost/web", ("sh", "httpd"),
                           {"www/index.html": "podman's arrow\n"}, network_dir=nets)
    yield pm
    for name in ("web", "webp"):
        pm("rm", "-f", name)


def test_podman_runs_an_arrow_in_the_namespace_it_is_given(podman, netns):
    """podman --network ns:PATH hands arrow-oci that namespace, as netavark/CNI would after
    setting it up; the Arrow serves on its address and podman rm gives it back."""
    mac = ns_state()[0]
    r = podman("run", "-d", "--name", "web", "--network", f"ns:{netns}", "localhost/web",
               "httpd", "-f", "-p", "80", "-h", "/www")
    assert r.returncode == 0, r.stderr
    status, body = get(f"http://{GUEST_IP}/", time.time() + TIMEOUT)
    assert (status, body) == (200, "podman's arrow\n")
    assert ns_state()[1] == []                      # the address is the guest's
    r = podman("rm", "-f", "web")
    assert r.returncode == 0, r.stderr
    assert ns_state() == (mac, [f"{GUEST_IP}/24"], [HOST_IP], False)


def test_podman_publishes_a_port_of_an_arrow_on_its_bridge_network(podman):
    """podman's own bridge network (CNI: bridge, portmap, firewall) and -p, unchanged: the
    runtime is handed the namespace CNI prepared and the published port reaches the guest."""
    r = podman("run", "-d", "--name", "webp", "--network", "arrowtest", "-p", "8089:80",
               "localhost/web", "httpd", "-f", "-p", "80", "-h", "/www")
    assert r.returncode == 0, r.stderr
    status, body = get("http://127.0.0.1:8089/", time.time() + TIMEOUT)
    assert (status, body) == (200, "podman's arrow\n")
    r = podman("inspect", "--format", "{{.NetworkSettings.Networks.arrowtest.IPAddress}}", "webp")
    assert r.returncode == 0 and r.stdout.decode().startswith("10.89.0."), r.stderr
    status, body = get(f"http://{r.stdout.decode().strip()}/", time.time() + 60)
    assert status == 200
    r = podman("rm", "-f", "webp")
    assert r.returncode == 0, r.stderr
