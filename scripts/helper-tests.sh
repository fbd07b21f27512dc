#!/bin/sh
# One helper VM session of scripts/integration.py, run inside the helper:
#   1. canary: boot one throwaway Arrow. If it fails, boot the same kernel and initramfs with
#      QEMU microvm: when QEMU fails too, nothing boots in this session whatever the VMM: a
#      bad session (exit 99; no test is charged). When QEMU boots, the failure is arrowh's
#      (exit 98; the harness charges it to the canary like a test failure).
#   2. the tests: the command given (pytest).
#   3. after a failing test, the QEMU canary again: its outcome is evidence, shown in the
#      summary, of whether the session could still boot a peer's guest. It excuses nothing.
set -u
here=$(dirname "$0")
if ! /usr/bin/python3 "$here/canary.py" arrowh; then
	if /usr/bin/python3 "$here/canary.py" qemu --why "the arrowh canary failed"; then
		exit 98
	fi
	exit 99
fi
"$@"
status=$?
if [ "$status" != 0 ]; then
	/usr/bin/python3 "$here/canary.py" qemu --why "after a test failure" || true
fi
exit "$status"
