#!/bin/sh
# `make bench`: measure arrowh against its peers (QEMU microvm with the same kernel and
# initramfs, an OCI runtime, native exec; for `arrow exec`, podman/crun/runc exec and
# nsenter; for vsock, TCP over the Arrow network; for arrow-oci, podman with crun/runc and
# arrow run) in one run, where this host's KVM can boot a
# standard guest, else inside one machine-mode helper VM; then regenerate
# docs/performance.md and its charts from every result kept in bench/results/.
#
# Every result file carries a stamp (bench/stamp.py) with the run id set here once, so that
# bench/report.py can tell which sections came from this run. `arrow machine` passes the
# environment on into the helper VM, with the outer host's kernel release and CPU count.
set -eu
cd "$(dirname "$0")/.."
ARROW_BENCH_RUN_ID=${ARROW_BENCH_RUN_ID:-$(date -u +%Y%m%dT%H%M%SZ)-$(git rev-parse --short HEAD 2>/dev/null || echo nogit)-$$}
export ARROW_BENCH_RUN_ID
echo "bench: run id $ARROW_BENCH_RUN_ID"
steps='py=/usr/bin/python3; r=bench/results/$0
$py bench/boot.py $0 $r.json &&
$py bench/density.py $0 $r.density.json &&
$py bench/clones.py $0 $r.clones.json &&
$py bench/sandbox.py $0 $r.sandbox.json &&
$py bench/images.py $0 $r.images.json &&
$py bench/lifecycle.py $0 $r.lifecycle.json &&
$py bench/network.py $0 $r.network.json &&
$py bench/exec.py $0 $r.exec.json &&
$py bench/functions.py $0 $r.functions.json &&
$py bench/oci.py $0 $r.oci.json'
if [ -e /sys/module/kvm_pvm ] || [ ! -e /dev/kvm ]; then
	env_name=helper-vm
	echo "bench: /dev/kvm here cannot boot a standard guest; measuring inside the helper VM (all emulated)"
	ARROW_BENCH_OUTER_KERNEL=$(uname -r)
	ARROW_BENCH_OUTER_CPUS=$(nproc)
	export ARROW_BENCH_OUTER_KERNEL ARROW_BENCH_OUTER_CPUS
	# The helper mounts no cgroup file system; a pure cgroup v2 one lets crun run there.
	# 8 GiB: 50 idle QEMU guests and 50 Arrows side by side (bench/density.py).
	# Each helper session first boots a canary Arrow (scripts/helper-tests.sh); a session in
	# which neither arrowh nor QEMU microvm can boot a guest is the helper's (docs/machine.md)
	# and is replaced, at most twice, and said so; an arrowh canary failing where QEMU boots
	# ends the benchmark.
	attempt=0
	while :; do
		attempt=$((attempt + 1))
		status=0
		# The build is measured from a copy in the helper's own tmpfs (bench/boot.py, BUILD):
		# the working directory is an uncached 9p share there, QEMU's binary is not.
		build/bin/arrow machine --memory 8g -- sh scripts/helper-tests.sh sh -c \
			"mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup;
			b=/tmp/arrow-bench-build; rm -rf \$b
			mkdir -p \$b/lib/arrow \$b/tests && cp -a build/bin \$b/ &&
			cp -a build/lib/arrow/ainit build/lib/arrow/vmlinux build/lib/arrow/vmlinux-net \$b/lib/arrow/ &&
			cp -a build/tests/guest \$b/tests/ ||
			{ echo 'bench: cannot copy build/ into the helper' >&2; exit 1; }
			export ARROW_BENCH_BUILD=\$b; $steps" \
			"$env_name" || status=$?
		if [ "$status" = 99 ] && [ "$attempt" -lt 3 ]; then
			echo "bench: bad helper session $attempt (neither arrowh nor QEMU microvm booted a guest in it); a fresh one"
			continue
		fi
		[ "$status" = 0 ] || { echo "bench: the helper session failed (status $status)" >&2; exit 1; }
		[ "$attempt" = 1 ] || echo "bench: $((attempt - 1)) bad helper session(s) replaced before this run"
		break
	done
else
	env_name=native-kvm
	echo "bench: measuring on this host's KVM"
	sh -c "$steps" "$env_name"
fi
/usr/bin/python3 bench/report.py bench/results docs/performance.md
echo "bench: wrote bench/results/$env_name*.json, docs/performance.md and its charts (run $ARROW_BENCH_RUN_ID)"
