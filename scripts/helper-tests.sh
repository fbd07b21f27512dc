#!/bin/sh
# Inside the helper VM (scripts/integration.sh): first boot one throwaway Arrow. A helper
# session that cannot boot it is a bad session (docs/machine.md, "Known problem"): exit 99
# so that the caller starts a fresh helper VM without counting a test failure. Then run
# pytest with the given arguments.
set -u
root=$(mktemp -d /tmp/canary-XXXXXX)
if ! ARROW_ROOT=$root timeout -s KILL 90 build/bin/arrow run --rm /bin/busybox true; then
	echo "== this helper VM session cannot boot an Arrow (canary failed): a bad session"
	exit 99
fi
rm -rf "$root"
exec "$@"
