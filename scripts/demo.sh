#!/bin/sh
# Run the demo Arrows with the installed arrow: natively where /dev/kvm boots a standard
# guest, otherwise inside the machine-mode helper VM (and say so).
set -eu
cd "$(dirname "$0")/.."
arrow=$(command -v arrow || echo "$PWD/build/bin/arrow")
if [ -e /sys/module/kvm_pvm ] || [ ! -e /dev/kvm ]; then
	echo "demo: this host's /dev/kvm cannot boot a standard guest (kvm-pvm or none);"
	echo "demo: running it through machine mode: arrow machine -- ... (everything emulated, slow)"
	exec "$arrow" machine -- sh scripts/demo-arrows.sh "$arrow"
fi
exec sh scripts/demo-arrows.sh "$arrow"
