#!/bin/sh
# The machine-mode helper's kernel: Debian's packaged linux-image for the same 6.12 series
# as the guests' linux-source, not a compiled one (building it was about 45% of a fresh
# set-up's compile work). Everything the helper needs that the package has as modules
# (9p and virtio-mmio, KVM, tun, veth, bridge, netfilter) is loaded from a trimmed copy of
# its module tree: early ones from the helper's initramfs, the rest on demand (docs/machine.md).
#
#   machine/kernel.sh OUTDIR
#
# Writes OUTDIR/bzImage, OUTDIR/modules/lib/modules/RELEASE (with modules.dep) and
# OUTDIR/release. The package is downloaded once (apt-get download, verified by apt against
# the archive's signed index) and the result cached outside the work tree, keyed by its version.
set -eu

out=$1
series=${ARROW_KERNEL_SERIES:-6.12}
arch=amd64
cache=${ARROW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/arrow}

for tool in apt-get apt-cache dpkg-deb depmod modprobe; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "machine/kernel.sh: $tool is missing (scripts/setup.sh installs kmod and apt's tools)" >&2
		exit 1
	}
done

# The image package built from the same source version as linux-source-$series when the
# archive still has it, else the one the series' meta-package points to.
pick_package() {
	srcver=$(dpkg-query -W -f '${Version}' "linux-source-$series" 2>/dev/null || true)
	if [ -n "$srcver" ]; then
		for name in $(apt-cache pkgnames "linux-image-${srcver%%-*}+" 2>/dev/null | grep -E -- "-$arch-unsigned\$" | sort); do
			case $name in *-cloud-*|*-rt-*) continue ;; esac
			if apt-cache show "$name=$srcver" >/dev/null 2>&1; then
				echo "$name $srcver"
				return 0
			fi
		done
	fi
	name=$(apt-cache depends "linux-image-$series-$arch" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1)
	ver=$(apt-cache policy "$name" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	if [ -n "$name" ] && [ -n "$ver" ] && [ "$ver" != "(none)" ]; then
		echo "$name $ver"
		return 0
	fi
	return 1
}

if ! picked=$(pick_package); then
	echo "machine/kernel.sh: no linux-image package of the $series series for $arch in the apt sources" \
		"(apt-get update; Debian 12 has it in bookworm-security)" >&2
	exit 1
fi
pkg=${picked% *}
ver=${picked#* }
dir=$cache/kernel/machine-deb-$( (cat "$0"; echo "$pkg $ver") | sha256sum | cut -c1-16)

if [ ! -f "$dir/done" ]; then
	echo "  KERNEL  helper: $pkg $ver (Debian's package, downloaded once)"
	rm -rf "$dir" && mkdir -p "$dir/dl"
	# apt's download sandbox user must be able to write where it downloads.
	chmod 777 "$dir/dl"
	(cd "$dir/dl" && apt-get download -q "$pkg=$ver" >"$dir/download.log" 2>&1) || {
		echo "machine/kernel.sh: apt-get download $pkg=$ver failed:" >&2
		tail -n 5 "$dir/download.log" >&2
		exit 1
	}
	mkdir -p "$dir/x"
	dpkg-deb -x "$dir"/dl/*.deb "$dir/x"
	release=$(ls "$dir/x/lib/modules")
	src=$dir/x/lib/modules/$release
	dst=$dir/modules/lib/modules/$release
	# What a headless VM with virtio-mmio devices, KVM, namespaces, bridges and netfilter
	# can load, not hardware drivers, sound or media (four fifths of the package), plus
	# whatever those need wherever it lives (kvm_amd needs the ccp crypto driver): the
	# package's own dependency list (depmod over the whole tree) decides.
	depmod -b "$dir/x" "$release"
	awk -F'[: ]+' '
		$1 ~ /^kernel\/(arch|block|crypto|fs|lib|mm|net|virt)\// ||
		$1 ~ /^kernel\/drivers\/(virtio|vhost|char|block|md)\// ||
		($1 ~ /^kernel\/drivers\/net\// && $1 !~ /^kernel\/drivers\/net\/(wireless|ethernet|usb|can|wwan|ieee802154|hamradio|wan|fddi|arcnet|plip|slip|appletalk|dsa|hyperv|fjes|thunderbolt|ipa)\//) {
			for (i = 1; i <= NF; i++) if ($i != "") print $i
		}' "$src/modules.dep" | sort -u >"$dir/keep"
	mkdir -p "$dst"
	cp "$src"/modules.builtin "$src"/modules.builtin.modinfo "$src"/modules.order "$dst/"
	(cd "$src" && tar -cf - -T "$dir/keep") | (cd "$dst" && tar -xf -)
	depmod -b "$dir/modules" "$release"
	# The modules the helper's init loads before it can reach the host (docs/machine.md).
	modprobe -d "$dir/modules" -S "$release" -a --show-depends virtio_mmio 9p 9pnet_virtio >/dev/null
	cp "$dir/x/boot/vmlinuz-$release" "$dir/bzImage"
	cp "$dir/x/boot/config-$release" "$dir/config"
	echo "$release" >"$dir/release"
	echo "$pkg $ver" >"$dir/package"
	rm -rf "$dir/dl" "$dir/x"
	touch "$dir/done"
fi

mkdir -p "$out"
rm -rf "$out/modules.tmp"
cp -a "$dir/modules" "$out/modules.tmp"
rm -rf "$out/modules" && mv "$out/modules.tmp" "$out/modules"
cp "$dir/release" "$out/release"
cp "$dir/bzImage" "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"
echo "  KERNEL  $out/bzImage ($(cat "$dir/package"), $(du -sh "$out/modules" | cut -f1) of modules)"
