#!/bin/sh
# `make bench`: measure arrowh against QEMU microvm (same kernel, same initramfs, same run)
# where this host's KVM can boot a standard guest, else inside one machine-mode helper VM,
# then regenerate docs/performance.md from every result kept in bench/results/.
set -eu
cd "$(dirname "$0")/.."
if [ -e /sys/module/kvm_pvm ] || [ ! -e /dev/kvm ]; then
	env_name=helper-vm
	echo "bench: /dev/kvm here cannot boot a standard guest; measuring inside the helper VM (all emulated)"
	build/bin/arrow machine -- sh -c "/usr/bin/python3 bench/boot.py $env_name bench/results/$env_name.json && /usr/bin/python3 bench/lifecycle.py $env_name bench/results/$env_name.lifecycle.json && /usr/bin/python3 bench/network.py $env_name bench/results/$env_name.network.json"
else
	env_name=native-kvm
	echo "bench: measuring on this host's KVM"
	/usr/bin/python3 bench/boot.py "$env_name" "bench/results/$env_name.json"
	/usr/bin/python3 bench/lifecycle.py "$env_name" "bench/results/$env_name.lifecycle.json"
	/usr/bin/python3 bench/network.py "$env_name" "bench/results/$env_name.network.json"
fi
/usr/bin/python3 bench/report.py bench/results docs/performance.md
echo "bench: wrote bench/results/$env_name.json and docs/performance.md"
