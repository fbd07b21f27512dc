#!/bin/sh
# Build a kernel from Debian's linux-source package with one of our config fragments.
#
#   kernel/build.sh FRAGMENT TARGET OUTPUT [TREE]
#
# TARGET is vmlinux (Arrow guest: uncompressed ELF, loaded directly by arrowh) or
# bzImage (machine-mode helper, booted by QEMU). The result is cached outside the work
# tree, keyed by a hash of the fragment, this script and the source version, so a second
# build with the same inputs only copies the cached file.
#
# Kernels that name the same TREE are built one after another in one kept build tree:
# the second only recompiles what its configuration changes (Kbuild tracks which files
# use which option), e.g. vmlinux-net after vmlinux recompiles the network stack and the
# files whose code depends on CONFIG_INET, not the whole kernel. A tree is used by one
# build at a time (flock). TREE defaults to the fragment's name (a tree of its own).
set -eu

fragment=$1
target=$2
output=$3

series=${ARROW_KERNEL_SERIES:-6.12}
tarball=/usr/src/linux-source-$series.tar.xz
cache=${ARROW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arrow}
jobs=$(nproc)
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -f "$tarball" ]; then
	echo "kernel/build.sh: $tarball is missing; install it with: apt-get install linux-source-$series" >&2
	exit 1
fi

srcver=$(dpkg-query -W -f '${Version}' "linux-source-$series" 2>/dev/null || stat -c %s "$tarball")
key=$( (cat "$fragment" "$0"; echo "$srcver $target") | sha256sum | cut -c1-16)
name=$(basename "$fragment" .config)
tree=${4:-$name}
dir=$cache/kernel/$name-$key

copy_out() {
	mkdir -p "$(dirname "$output")"
	cp "$dir/$target" "$output.tmp" && mv "$output.tmp" "$output"
}

if [ -f "$dir/$target" ]; then
	echo "  KERNEL  $output (cached: $dir)"
	copy_out
	exit 0
fi

mkdir -p "$cache/src" "$cache/tree"
src=$cache/src/linux-source-$series
# One unpack, even when make builds several kernels at once.
exec 8>"$cache/src/unpack.lock"
flock 8
if [ ! -f "$src/Makefile" ]; then
	echo "  UNPACK  $tarball"
	rm -rf "$src.tmp" && mkdir -p "$src.tmp"
	tar -C "$src.tmp" -xf "$tarball"
	rm -rf "$src" && mv "$src.tmp/linux-source-$series" "$src" && rmdir "$src.tmp"
fi
flock -u 8

build=$cache/tree/$tree-$series
exec 9>"$build.lock"
if ! flock -n 9; then
	echo "  KERNEL  $name waits for the build tree $tree (another kernel is being built in it)"
	flock 9
fi
mkdir -p "$build"
log=$cache/tree/$name.log
reused=no
[ -f "$build/vmlinux" ] && reused=yes
echo "  KERNEL  $name $target from linux-source-$series ($srcver) with $jobs jobs in tree $tree" \
	"($([ $reused = yes ] && echo "incremental" || echo "from scratch")); log: $log"
# The configuration is made from scratch (tinyconfig + fragment) whatever the tree held
# before; Kbuild then recompiles exactly the files whose options changed.
make -s -C "$src" O="$build" ARCH=x86_64 tinyconfig >"$log" 2>&1
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment" >>"$log" 2>&1
make -C "$src" O="$build" ARCH=x86_64 olddefconfig >>"$log" 2>&1

# Every option the fragment asks for must have survived dependency resolution.
grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment" | while read -r want; do
	grep -qx "$want" "$build/.config" || { echo "kernel/build.sh: $want did not take effect (a dependency is missing)" >&2; echo x; }
done >"$build/missing"
sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$fragment" | while read -r unwanted; do
	! grep -q "^$unwanted=" "$build/.config" || { echo "kernel/build.sh: $unwanted is still set (something selects it)" >&2; echo x; }
done >>"$build/missing"
if [ -s "$build/missing" ]; then
	exit 1
fi

# Progress: a line at every tenth of the expected objects, with the time left at the rate
# so far. The expected count is what the same kernel compiled last time on this machine
# (from scratch or incremental), else the figure in kernel/objects.
stats=$cache/tree/$name.$reused.objects
expect=$(cat "$stats" 2>/dev/null || awk -v n="$name" -v r="$reused" '$1 == n && $2 == r { print $3 }' "$here/objects")
expect=${expect:-1500}
start=$(date +%s)
rm -f "$build/vmlinux.o"
set +e
make -C "$src" O="$build" ARCH=x86_64 -j"$jobs" "$target" >>"$log" 2>&1 &
mk=$!
(
	step=$(((expect + 9) / 10)) next=$(((expect + 9) / 10))
	while kill -0 "$mk" 2>/dev/null; do
		sleep 5
		n=$(grep -c '^  \(CC\|AS\|LD\|AR\)' "$log")
		if [ "$n" -ge "$next" ]; then
			el=$(($(date +%s) - start))
			left=$(((expect - n) * el / (n > 0 ? n : 1)))
			[ "$left" -lt 0 ] && left=0
			echo "  ...     $name: $n of about $expect objects, ${el} s so far, about $(((left + 59) / 60)) min left"
			while [ "$next" -le "$n" ]; do next=$((next + step)); done
		fi
	done
) &
watcher=$!
wait "$mk"
rc=$?
wait "$watcher" 2>/dev/null
set -e
built="$build/vmlinux"
[ "$target" = bzImage ] && built="$build/arch/x86/boot/bzImage"
if [ "$rc" != 0 ] || [ ! -f "$built" ]; then
	echo "kernel/build.sh: build failed; see $log" >&2
	tail -n 20 "$log" >&2
	exit 1
fi
grep -c '^  \(CC\|AS\|LD\|AR\)' "$log" >"$stats" || true

mkdir -p "$dir"
cp "$built" "$dir/$target.tmp"
cp "$build/.config" "$dir/config"
mv "$dir/$target.tmp" "$dir/$target"
echo "  KERNEL  $output ($(du -h "$dir/$target" | cut -f1), $(cat "$stats") objects in $(($(date +%s) - start)) s)"
copy_out
