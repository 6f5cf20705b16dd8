set -eu
# helm test (templates/tests/websocket.yaml); also run by the chart's Go tests against a real
# gateway. Needs BASE (http://host:port of the gateway) and TENANT.
body=$(curl -fsS --max-time 10 -X POST -H 'Content-Type: application/json' \
  -d "{\"tenant\":\"$TENANT\",\"name\":\"helm test\"}" "$BASE/v1/visitors")
token=$(printf '%s' "$body" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
  echo "no visitor token from $BASE/v1/visitors: $body" >&2
  exit 1
fi
echo "visitor token for tenant $TENANT: ok"
# The WebSocket handshake by hand (any curl): the server answers 101, then sends the welcome
# frame; curl stops at --max-time (exit 28), which is expected.
out=/tmp/ws.out
curl -sS -i -N --http1.1 --max-time 5 -o "$out" \
  -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: frontdesk.v1.json' \
  "$BASE/v1/ws?token=$token" || true
if ! head -n 1 "$out" | grep -q ' 101'; then
  echo "WebSocket upgrade refused:" >&2
  head -c 2000 "$out" >&2
  exit 1
fi
if ! grep -q '"welcome"' "$out"; then
  echo "no welcome frame after the upgrade:" >&2
  head -c 2000 "$out" >&2
  exit 1
fi
echo "WebSocket: 101 and welcome frame: ok"
