#!/bin/sh
# The demo itself (scripts/demo.sh runs it natively or inside the helper VM): one Arrow in
# the foreground, then a detached service managed like a container, then a web server on the
# Arrow network.
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

# The Arrow network (docs/network.md): a web server with a published port, reached from the
# host and, by name, from another Arrow. Everything stays on this machine's bridge.
web=demo-web-$$
say arrow run -d --name "$web" -p 8080:80 /bin/busybox httpd -f -p 80 -h /etc
"$arrow" run -d --name "$web" -p 8080:80 /bin/busybox httpd -f -p 80 -h /etc
tries=0
say curl http://127.0.0.1:8080/hosts
until curl -sf http://127.0.0.1:8080/hosts; do
	tries=$((tries + 1))
	[ "$tries" -lt 120 ] || { echo "demo: the web Arrow did not answer" >&2; exit 1; }
	sleep 0.5
done
say arrow run --rm /bin/busybox wget -qO- "http://$web/hosts"
"$arrow" run --rm /bin/busybox wget -qO- "http://$web/hosts"
say arrow ps
"$arrow" ps
say arrow rm -f "$web"
"$arrow" rm -f "$web"
