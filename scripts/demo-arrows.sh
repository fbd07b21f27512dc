#!/bin/sh
# The demo itself (scripts/demo.sh runs it natively or inside the helper VM): one Arrow in
# the foreground, then a detached service managed like a container.
set -eu
arrow=${1:?usage: demo-arrows.sh ARROW}
name=demo-service-$$
say() { printf '\n$ %s\n' "$*"; }

say arrow run --rm --timing --cpus 2 /bin/busybox sh -c '"echo Hello from an Arrow..."'
"$arrow" run --rm --timing --cpus 2 /bin/busybox sh -c \
	'echo "Hello from an Arrow: $(uname -s) $(uname -r), $(nproc) vCPUs, I am PID $$ under $(cat /proc/1/comm)"'

say arrow run -d --name "$name" /bin/busybox sh -c '"...a service that ticks and handles SIGTERM..."'
"$arrow" run -d --name "$name" /bin/busybox sh -c \
	'trap "echo got SIGTERM, shutting down cleanly; exit 0" TERM; while true; do echo tick; sleep 1; done'
sleep 4
say arrow ps
"$arrow" ps
say arrow logs "$name"
"$arrow" logs "$name"
say arrow stop "$name"
"$arrow" stop "$name"
say arrow ps -a
"$arrow" ps -a
say arrow logs --tail 2 "$name"
"$arrow" logs --tail 2 "$name"
say arrow rm "$name"
"$arrow" rm "$name"
