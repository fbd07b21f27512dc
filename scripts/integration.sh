#!/bin/sh
# Run the integration tests. They boot real Arrows, so they need a /dev/kvm that
# boots a standard Linux guest; where the host has none (or only kvm-pvm) they run
# inside one helper VM started by `arrow machine` (see docs/machine.md).
set -eu
cd "$(dirname "$0")/.."
arrow=build/bin/arrow
pytest="/usr/bin/python3 -m pytest -p no:cacheprovider -v --durations=10"

echo "== host checks (machine mode, KVM probe)"
$pytest tests/host

if [ -e /sys/module/kvm_pvm ] || [ ! -e /dev/kvm ]; then
	echo "== integration tests inside the helper VM: this host's /dev/kvm cannot boot a standard guest"
	exec $arrow machine -- $pytest tests/integration
else
	echo "== integration tests on this host's KVM"
	exec $pytest tests/integration
fi
