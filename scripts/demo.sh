#!/bin/sh
# Run a demo Arrow with the installed arrow: natively where /dev/kvm boots a standard
# guest, otherwise inside the machine-mode helper VM (and say so).
set -eu
cd "$(dirname "$0")/.."
arrow=$(command -v arrow || echo build/bin/arrow)
demo='echo "Hello from an Arrow: $(uname -s) $(uname -r), $(nproc) vCPUs, I am PID $$ under $(cat /proc/1/comm)"'

echo "demo: $arrow run --timing --cpus 2 /bin/busybox sh -c '...'"
if [ -e /sys/module/kvm_pvm ] || [ ! -e /dev/kvm ]; then
	echo "demo: this host's /dev/kvm cannot boot a standard guest (kvm-pvm or none);"
	echo "demo: running it through machine mode: arrow machine -- arrow run ... (everything emulated, slow)"
	exec "$arrow" machine -- "$arrow" run --timing --cpus 2 /bin/busybox sh -c "$demo"
fi
exec "$arrow" run --timing --cpus 2 /bin/busybox sh -c "$demo"
