#!/bin/sh
# Build the machine-mode helper's initramfs: static busybox plus machine/init.
#   machine/mkinitramfs.sh INIT OUTPUT
set -eu
init=$1
out=$2
busybox=/bin/busybox
if ! "$busybox" --help 2>/dev/null | grep -q 'BusyBox' || ldd "$busybox" >/dev/null 2>&1; then
	echo "machine/mkinitramfs.sh: $busybox must be a static busybox (apt-get install busybox-static)" >&2
	exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/dev" "$dir/proc" "$dir/sys" "$dir/host" "$dir/ctl"
cp "$busybox" "$dir/bin/busybox"
cp "$init" "$dir/init"
chmod 755 "$dir/init" "$dir/bin/busybox"
mkdir -p "$(dirname "$out")"
(cd "$dir" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
echo "  CPIO    $out"
