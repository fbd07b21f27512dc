#!/bin/sh
# Run the host checks and the integration tests (scripts/integration.py; docs/testing.md
# says when a failure is forgiven: never twice for the same test).
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 scripts/integration.py "$@"
