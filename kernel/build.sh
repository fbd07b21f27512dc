#!/bin/sh
# Build a kernel from Debian's linux-source package with one of our config fragments.
#
#   kernel/build.sh FRAGMENT TARGET OUTPUT
#
# TARGET is vmlinux (Arrow guest: uncompressed ELF, loaded directly by arrowh) or
# bzImage (machine-mode helper, booted by QEMU). The result is cached outside the work
# tree, keyed by a hash of the fragment, this script and the source version, so a second
# build with the same inputs only copies the cached file.
set -eu

fragment=$1
target=$2
output=$3

series=${ARROW_KERNEL_SERIES:-6.12}
tarball=/usr/src/linux-source-$series.tar.xz
cache=${ARROW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arrow}
jobs=$(nproc)

if [ ! -f "$tarball" ]; then
	echo "kernel/build.sh: $tarball is missing; install it with: apt-get install linux-source-$series" >&2
	exit 1
fi

srcver=$(dpkg-query -W -f '${Version}' "linux-source-$series" 2>/dev/null || stat -c %s "$tarball")
key=$( (cat "$fragment" "$0"; echo "$srcver $target") | sha256sum | cut -c1-16)
name=$(basename "$fragment" .config)
dir=$cache/kernel/$name-$key

if [ -f "$dir/$target" ]; then
	echo "  KERNEL  $output (cached: $dir)"
	mkdir -p "$(dirname "$output")"
	cp "$dir/$target" "$output.tmp" && mv "$output.tmp" "$output"
	exit 0
fi

src=$cache/src/linux-source-$series
if [ ! -f "$src/Makefile" ]; then
	echo "  UNPACK  $tarball"
	mkdir -p "$cache/src"
	rm -rf "$src.tmp" && mkdir -p "$src.tmp"
	tar -C "$src.tmp" -xf "$tarball"
	rm -rf "$src" && mv "$src.tmp/linux-source-$series" "$src" && rmdir "$src.tmp"
fi

build=$dir.build
rm -rf "$build" && mkdir -p "$build"
log=$build/build.log
echo "  KERNEL  $name $target from linux-source-$series ($srcver) with $jobs jobs; log: $log"
make -s -C "$src" O="$build" ARCH=x86_64 tinyconfig >"$log" 2>&1
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" >>"$log" 2>&1
make -C "$src" O="$build" ARCH=x86_64 olddefconfig >>"$log" 2>&1

# Every option the fragment asks for must have survived dependency resolution.
missing=0
grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment" | while read -r want; do
	grep -qx "$want" "$build/.config" || { echo "kernel/build.sh: $want did not take effect (a dependency is missing)" >&2; echo x; }
done >"$build/missing"
sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$fragment" | while read -r unwanted; do
	! grep -q "^$unwanted=" "$build/.config" || { echo "kernel/build.sh: $unwanted is still set (something selects it)" >&2; echo x; }
done >>"$build/missing"
if [ -s "$build/missing" ]; then
	exit 1
fi

# Progress: one line per 250 compiled files (a full build compiles about 1000-1500).
make -C "$src" O="$build" ARCH=x86_64 -j"$jobs" "$target" 2>&1 | tee -a "$log" |
	awk '/^  (CC|AS|LD|AR)/ { n++; if (n % 250 == 0) { printf "  ...     %d objects built\n", n; fflush() } }'
if [ ! -f "$build/arch/x86/boot/bzImage" ] && [ "$target" = bzImage ] || [ ! -f "$build/vmlinux" ]; then
	echo "kernel/build.sh: build failed; see $log" >&2
	tail -n 20 "$log" >&2
	exit 1
fi

mkdir -p "$dir"
if [ "$target" = bzImage ]; then
	cp "$build/arch/x86/boot/bzImage" "$dir/bzImage.tmp"
else
	cp "$build/vmlinux" "$dir/vmlinux.tmp"
fi
cp "$build/.config" "$dir/config"
mv "$dir/$target.tmp" "$dir/$target"
rm -rf "$build"
echo "  KERNEL  $output ($(du -h "$dir/$target" | cut -f1))"
mkdir -p "$(dirname "$output")"
cp "$dir/$target" "$output.tmp" && mv "$output.tmp" "$output"
