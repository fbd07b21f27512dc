#!/bin/sh
# `make bench`: measure arrowh against its peers (QEMU microvm with the same kernel and
# initramfs, an OCI runtime, native exec) in one run, where this host's KVM can boot a
# standard guest, else inside one machine-mode helper VM; then regenerate
# docs/performance.md and its charts from every result kept in bench/results/.
set -eu
cd "$(dirname "$0")/.."
steps='py=/usr/bin/python3; r=bench/results/$0
$py bench/boot.py $0 $r.json &&
$py bench/density.py $0 $r.density.json &&
$py bench/clones.py $0 $r.clones.json &&
$py bench/images.py $0 $r.images.json &&
$py bench/lifecycle.py $0 $r.lifecycle.json &&
$py bench/network.py $0 $r.network.json'
if [ -e /sys/module/kvm_pvm ] || [ ! -e /dev/kvm ]; then
	env_name=helper-vm
	echo "bench: /dev/kvm here cannot boot a standard guest; measuring inside the helper VM (all emulated)"
	# The helper mounts no cgroup file system; a pure cgroup v2 one lets crun run there.
	# 8 GiB: 50 idle QEMU guests and 50 Arrows side by side (bench/density.py).
	build/bin/arrow machine --memory 8g -- sh -c \
		"mountpoint -q /sys/fs/cgroup || mount -t cgroup2 none /sys/fs/cgroup; $steps" "$env_name"
else
	env_name=native-kvm
	echo "bench: measuring on this host's KVM"
	sh -c "$steps" "$env_name"
fi
/usr/bin/python3 bench/report.py bench/results docs/performance.md
echo "bench: wrote bench/results/$env_name*.json, docs/performance.md and its charts"
