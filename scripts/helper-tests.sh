#!/bin/sh
# Inside the helper VM (scripts/integration.sh): first boot one throwaway Arrow. A helper
# session that cannot boot it is a bad session (docs/machine.md, "Known problem"): exit 99
# so that the caller starts a fresh helper VM without counting a test failure. Then run
# pytest with the given arguments.
set -u
root=$(mktemp -d /tmp/canary-XXXXXX)
t0=$(date +%s)
if ! ARROW_ROOT=$root timeout -s KILL 150 build/bin/arrow run --rm /bin/busybox true; then
	echo "== this helper VM session cannot boot an Arrow (canary failed): a bad session"
	exit 99
fi
echo "== canary Arrow booted and ended in $(($(date +%s) - t0)) s"
rm -rf "$root"
exec "$@"
