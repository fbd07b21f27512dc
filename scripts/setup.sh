#!/bin/sh
# Install what building and testing Arrow needs on Debian 12 (bookworm), and nothing
# that is already there. Safe to run again. Needs root (or sudo) only when something
# is missing.
set -eu

# /dev/null must be the null device. Once, in CI, it was not: a unit test's `cat </dev/null`
# read back an error message that a `2>/dev/null` had written into it (stop 21; cause outside
# our tree not shown; `make test` now checks it again after each stage, so a test that breaks
# it is named). Recreated here, loudly, when we may.
if [ ! -c /dev/null ]; then
	echo "setup: /dev/null is not the null device:" >&2
	ls -l /dev/null >&2 || true
	[ "$(id -u)" = 0 ] || { echo "setup: run as root to recreate it" >&2; exit 1; }
	rm -f /dev/null && mknod -m 666 /dev/null c 1 3
	echo "setup: recreated /dev/null (character device 1,3)" >&2
fi

packages="make gcc libc6-dev musl-tools pkg-config libarchive-dev libjansson-dev libssl-dev libcmocka-dev zlib1g-dev libcurl4-openssl-dev libseccomp-dev libmicrohttpd-dev
python3 python3-pytest linux-source-6.12 flex bison bc libelf-dev xz-utils cpio kmod
libnftables-dev nftables iproute2 curl clang passt
busybox-static qemu-system-x86 qemu-system-data podman containerd docker.io
redis-server redis-tools nginx umoci skopeo docker-registry"
[ "${1:-}" = bench ] && packages="$packages hyperfine gnuplot-nox wrk crun runc"

missing=
for p in $packages; do
	status=$(dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
# The unprivileged user a jailed arrowh runs as (docs/security.md); make install makes it too.
if ! getent passwd arrow >/dev/null; then
	if [ -z "$sudo" ] || command -v sudo >/dev/null; then
		$sudo useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin arrow && echo "setup: created the system user arrow"
	fi
fi
# podman's CNI cache, which podman makes on first use: made now so that inside the machine-mode
# helper, whose view of this host is read-only, a test can mount a tmpfs on it.
[ -d /var/lib/cni ] || $sudo mkdir -p /var/lib/cni
if [ -z "$missing" ]; then
	echo "setup: all build and test dependencies are installed"
	exit 0
fi

if [ -n "$sudo" ]; then
	command -v sudo >/dev/null || { echo "setup: missing packages:$missing; run as root" >&2; exit 1; }
fi
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# redis-server and nginx are installed as programs to make images of (docs/images.md), not
# as services: keep their packages from starting them.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
	$sudo chmod 755 /usr/sbin/policy-rc.d
	trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
