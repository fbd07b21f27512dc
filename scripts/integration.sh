#!/bin/sh
# Run the integration tests. They boot real Arrows, so they need a /dev/kvm that
# boots a standard Linux guest; where the host has none (or only kvm-pvm) they run
# inside one helper VM started by `arrow machine` (see docs/machine.md).
set -eu
cd "$(dirname "$0")/.."
arrow=build/bin/arrow
cache=build/pytest-cache
pytest="/usr/bin/python3 -m pytest -v --durations=10 -o cache_dir=$cache"

echo "== host checks (machine mode, KVM probe)"
$pytest -p no:cacheprovider tests/host

if [ ! -e /sys/module/kvm_pvm ] && [ -e /dev/kvm ]; then
	echo "== integration tests on this host's KVM"
	exec $pytest tests/integration
fi

# A helper VM session can go bad (inner guests stall; docs/machine.md, "Known
# problem"), and then every later test in it would time out. So each session
# first boots a canary Arrow (a session that cannot is replaced without counting
# a failure), and the tests run stepwise (pytest --sw): a failure ends the helper
# session, and a fresh helper goes on from the failed test. The same test failing
# twice in a row is a real failure; every failure stays in the output.
# A helper VM can also stop as a whole (docs/machine.md): then no test ends and no output
# comes. A session silent for $quiet_limit seconds (the longest test is silent for about 5
# minutes) is ended and counted as a bad session.
quiet_limit=${ARROW_TEST_QUIET_S:-900}
watch_quiet() {
	pid=$1 log=$2 last=-1 quiet=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 10
		size=$(wc -c <"$log" 2>/dev/null || echo 0)
		if [ "$size" = "$last" ]; then quiet=$((quiet + 10)); else quiet=0 last=$size; fi
		if [ "$quiet" -ge "$quiet_limit" ]; then
			echo "== no output for $quiet_limit s: this helper VM session hangs; ending it"
			touch build/helper-hung
			kill "$pid"
			return
		fi
	done
}

echo "== integration tests inside the helper VM: this host's /dev/kvm cannot boot a standard guest"
rm -rf "$cache/v/cache/stepwise"
last=
bad_sessions=0
bad_limit=${ARROW_TEST_BAD_SESSIONS:-6}
bad_window=${ARROW_TEST_BAD_WINDOW_S:-3000}
started=$(date +%s)
for attempt in 1 2 3 4 5 6 7 8 9 10 11 12; do
	rm -f build/helper-hung build/helper-session.log
	{
		status=0
		$arrow machine -- sh scripts/helper-tests.sh $pytest --sw tests/integration &
		machine=$!
		watch_quiet "$machine" build/helper-session.log &
		watcher=$!
		wait "$machine" || status=$?
		kill "$watcher" 2>/dev/null || true
		echo "$status" >build/helper-status
	} 2>&1 | tee build/helper-session.log
	status=$(cat build/helper-status)
	if [ "$status" = 0 ]; then
		exit 0
	fi
	if [ -e build/helper-hung ]; then
		status=99 # a bad session, as below; pytest goes on from its last recorded failure
	fi
	# A guest whose vCPU never ran its first instruction is the helper's stall, not a
	# test's; a helper VM that stopped without a result (its kernel panicked or QEMU
	# ended) failed as a whole.
	if grep -q -e "it never ran guest code" -e "the helper VM stopped without a result" \
		build/helper-session.log; then
		status=99
	fi
	# Bad sessions are replaced while the run is young enough to finish in CI's time.
	if [ "$status" = 99 ] && [ "$bad_sessions" -lt "$bad_limit" ] &&
		[ $(($(date +%s) - started)) -lt "$bad_window" ]; then
		bad_sessions=$((bad_sessions + 1))
		echo "== bad helper VM session ($bad_sessions); starting a fresh one"
		continue
	fi
	failed=$(cat "$cache/v/cache/stepwise" 2>/dev/null || echo unknown)
	if [ "$failed" = "$last" ] || [ "$failed" = unknown ] || [ "$failed" = null ]; then
		echo "== $failed failed again in a fresh helper VM: a real failure"
		exit 1
	fi
	last=$failed
	echo "== $failed failed; going on from it in a fresh helper VM (attempt $((attempt + 1)); see docs/machine.md)"
done
echo "== too many helper VM sessions failed"
exit 1
