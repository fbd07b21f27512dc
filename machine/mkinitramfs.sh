#!/bin/sh
# Build the machine-mode helper's initramfs: static busybox, machine/init, kvmhold
# (machine/kvmhold.c, static) and the kernel modules the init needs before it can mount the
# host's files (virtio-mmio and 9p, with their dependencies, in load order, decompressed).
#   machine/mkinitramfs.sh INIT KVMHOLD MACHINEDIR OUTPUT
# MACHINEDIR is what machine/kernel.sh wrote (release, modules/).
set -eu
init=$1
hold=$2
mdir=$3
out=$4
busybox=/bin/busybox
if ! "$busybox" --help 2>/dev/null | grep -q 'BusyBox' || ldd "$busybox" >/dev/null 2>&1; then
	echo "machine/mkinitramfs.sh: $busybox must be a static busybox (apt-get install busybox-static)" >&2
	exit 1
fi
release=$(cat "$mdir/release")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/dev" "$dir/proc" "$dir/sys" "$dir/host" "$dir/ctl" "$dir/lib/early"
cp "$busybox" "$dir/bin/busybox"
cp "$init" "$dir/init"
cp "$hold" "$dir/bin/kvmhold"
chmod 755 "$dir/init" "$dir/bin/busybox" "$dir/bin/kvmhold"
# modprobe prints each module once per module asking for it; keep the first.
modprobe -d "$mdir/modules" -S "$release" -a --show-depends virtio_mmio 9p 9pnet_virtio |
	awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
	name=$(basename "$ko")
	name=${name%.xz}
	case $ko in
	*.xz) xz -dc "$ko" >"$dir/lib/early/$name" ;;
	*) cp "$ko" "$dir/lib/early/$name" ;;
	esac
	echo "$name" >>"$dir/lib/early/order"
done
[ -s "$dir/lib/early/order" ] || { echo "machine/mkinitramfs.sh: no early modules found for $release" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
(cd "$dir" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
echo "  CPIO    $out ($(tr '\n' ' ' <"$dir/lib/early/order"))"
