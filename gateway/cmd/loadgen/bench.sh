#!/usr/bin/env bash
# Gateway-only load run: an embedded JetStream server, one gateway and the load generator, on
# loopback. Usage (from the repository root):
#
#   gateway/cmd/loadgen/bench.sh idle  [loadgen idle flags]    # e.g. -n 10000 -procs 5
#   gateway/cmd/loadgen/bench.sh chat  [loadgen chat flags]    # e.g. -customers 1000 -agents 100 -rate 1 -duration 60s
#
# ATTACK="-kind sync -conc 8" runs one attacker (loadgen attack, tenant abuse, source 127.0.0.9)
# beside the run, from before the sessions open until after it ends. ATTACK_NICE=19 runs it at
# the lowest CPU priority: on one machine the attacker's own work (in production, on the
# attacker's machines) otherwise comes out of the cores the gateway and the clients measure on,
# while the gateway still pays for every request it refuses.
# UPGRADES="-rate 1000 [-users N]" runs authenticated upgrades the same way, in a process of
# their own from 127.0.0.10-13 (loadgen upgrades); KEYS=eddsa gives the gateway an Ed25519 key
# instead of the default P-256 one. New visitors' tokens are signed before the upgrades start
# (-mint; "-mint 0" signs each on its schedule), so the generator's CPU during the run is what
# a client's upgrade costs, not a signature each.
#
# UPGRADES_NICE=19 runs that generator at the lowest CPU priority, as ATTACK_NICE does the attacker:
# the clients' dials, handshakes and closes are then taken from what the gateway and the chat
# clients leave, as if they ran on their own machines; the gateway still does every upgrade.
#
# GATEWAY=path runs that gateway binary instead of this tree's (the load generator is still built
# from this tree), to compare two gateways with the same load.
#
# Ports: NATS 14222, gateway 18080, ops 19090 (override with NATS_PORT, GW_PORT, OPS_PORT).
# `loadgen nats` provisions the streams; the gateway runs with FRONTDESK_OPS_DEBUG=true because the
# load generator measures RSS after a forced GC (POST /debug/gc, off by default).
set -euo pipefail
mode=${1:?idle or chat}; shift
root=$(cd "$(dirname "$0")/../../.." && pwd)
bin=$(mktemp -d)
pids=()
cleanup() { for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[i]}" 2>/dev/null || true; wait "${pids[i]}" 2>/dev/null || true; done; rm -rf "$bin"; }
trap cleanup EXIT
(cd "$root" && go build -o "$bin/" ./gateway/cmd/gateway ./gateway/cmd/loadgen)
[ -n "${GATEWAY:-}" ] && cp "$GATEWAY" "$bin/gateway"
NATS_PORT=${NATS_PORT:-14222} GW_PORT=${GW_PORT:-18080} OPS_PORT=${OPS_PORT:-19090}
"$bin/loadgen" nats -addr "127.0.0.1:$NATS_PORT" >"$bin/nats.log" 2>&1 & pids+=($!)
sleep 1
export FRONTDESK_GATEWAY_DEV_SECRET=loadtest-development-secret-0123456789
export FRONTDESK_GATEWAY_DEV_TENANTS=load,loadz,abuse
"$bin/loadgen" "keys${KEYS:+-$KEYS}" >"$bin/keys.json"; export FRONTDESK_GATEWAY_SIGNING_KEYS_FILE="$bin/keys.json"
FRONTDESK_NATS_URL="nats://127.0.0.1:$NATS_PORT" FRONTDESK_GATEWAY_LISTEN="127.0.0.1:$GW_PORT" \
FRONTDESK_OPS_ADDR="127.0.0.1:$OPS_PORT" FRONTDESK_OPS_DEBUG=true FRONTDESK_TENANTS_FILE="$root/gateway/cmd/loadgen/tenants.yaml" \
FRONTDESK_LOG_LEVEL=warn "$bin/gateway" >"$bin/gateway.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$OPS_PORT/readyz" >/dev/null && break; sleep 0.2; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
args=(-url "http://127.0.0.1:$GW_PORT" -ops "http://127.0.0.1:$OPS_PORT")
[ "$mode" = chat ] && args+=(-nats "nats://127.0.0.1:$NATS_PORT" -upgrade-keys "$bin/keys.json")
if [ -n "${ATTACK:-}" ]; then
  # shellcheck disable=SC2086
  ${ATTACK_NICE:+nice -n "$ATTACK_NICE"} "$bin/loadgen" attack -url "http://127.0.0.1:$GW_PORT" -ops "http://127.0.0.1:$OPS_PORT" -tenant abuse -duration "${ATTACK_FOR:-120s}" $ATTACK >"$bin/attack.log" 2>&1 & att=$!; pids+=($att)
  sleep 5
fi
if [ -n "${UPGRADES:-}" ]; then
  # shellcheck disable=SC2086
  ${UPGRADES_NICE:+nice -n "$UPGRADES_NICE"} "$bin/loadgen" upgrades -url "http://127.0.0.1:$GW_PORT" -ops "http://127.0.0.1:$OPS_PORT" -keys "$bin/keys.json" $UPGRADES >"$bin/upgrades.log" 2>&1 & up=$!; pids+=($up)
fi
"$bin/loadgen" "$mode" "${args[@]}" "$@"
if [ -n "${UPGRADES:-}" ]; then
  kill -INT "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  cat "$bin/upgrades.log"
fi
if [ -n "${ATTACK:-}" ]; then
  kill -INT "$att" 2>/dev/null || true
  wait "$att" 2>/dev/null || true
  cat "$bin/attack.log"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
