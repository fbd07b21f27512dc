#!/bin/sh
# Stand-in for arrowh used by the benchmarks (ARROW_ARROWH=bench/capture-arrowh.sh):
# instead of booting, it writes the initramfs pieces `arrow run` assembled, concatenated
# in order, to $CAPTURE_INITRAMFS, so that QEMU can boot exactly the same bytes.
set -eu
out=${CAPTURE_INITRAMFS:?}
: >"$out.tmp"
while [ $# -gt 0 ]; do
	case $1 in
	--initrd) cat "$2" >>"$out.tmp"; shift 2 ;;
	*) shift ;;
	esac
done
mv "$out.tmp" "$out"
