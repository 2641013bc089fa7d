#!/bin/sh
# ExecReload of tenant-gateway.service: graceful binary upgrade (deploy/UPGRADE.md).
# Usage: upgrade.sh OLD_PID. Exits non-zero, leaving the old process serving, when the new one
# cannot start.
set -eu
BIN=${TENANT_GATEWAY_BIN:-/usr/local/bin/tenant-gateway}
CONF=${TENANT_GATEWAY_CONF:-/etc/tenant-gateway/gateway.yaml}
SOCK=${TENANT_GATEWAY_UPGRADE_SOCK:-/run/tenant-gateway/upgrade.sock}
old=${1:?usage: upgrade.sh OLD_PID}

"$BIN" check -c "$CONF" >/dev/null
# The new process binds SOCK once everything else has started (config, TLS, DynamoDB...) and
# waits there about 6 s for the sockets; SIGQUIT makes the old process send them.
rm -f "$SOCK"
"$BIN" run --upgrade -c "$CONF" </dev/null &
new=$!
i=0
until [ -S "$SOCK" ]; do
    if ! kill -0 "$new" 2>/dev/null; then
        echo "upgrade: the new process exited before taking over; the old one keeps serving" >&2
        exit 1
    fi
    i=$((i + 1))
    if [ "$i" -gt 600 ]; then
        kill "$new"
        echo "upgrade: the new process was not ready within 60 s" >&2
        exit 1
    fi
    sleep 0.1
done
kill -QUIT "$old"
systemd-notify --pid="$new" "MAINPID=$new" || echo "upgrade: could not report MAINPID=$new" >&2
