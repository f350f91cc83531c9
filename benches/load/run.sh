#!/usr/bin/env bash
# Load test of `csip serve` at portfolio scale with wrk (Debian's `wrk`
# package): a synthetic portfolio of $ACCOUNTS accounts (default 10,000;
# 1,000,000 metric rows) in a workbook file, one CSM token, then, against a
# server that evaluates every view afresh (--no-view-cache):
#   1. GET the Renewal Risk view (every at-risk account, ~2,900 rows at 10k)
#   2. GET the CSM Command Center view for one CSM
#   3. POST one metric edit per request (a random metric of the million)
#   4. 1 and 3 at the same time
# and against a default server (views kept until the workbook changes):
#   5. 1 again, and 1 and 3 at the same time
# each for $DURATION seconds with $CONNECTIONS connections, printing
# p50/p95/p99. Not part of CI. Usage: benches/load/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
accounts="${ACCOUNTS:-10000}"
duration="${DURATION:-15}"
connections="${CONNECTIONS:-4}"
today=2026-11-24

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >/dev/null; else sudo apt-get install -y wrk >/dev/null; fi
fi

cd "$root"
cargo build --release --locked -q -p csip-cli
csip="$root/target/release/csip"
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

db="$work/portfolio.db"
"$csip" synth --accounts "$accounts" --today "$today" --db "$db"
csm="CSM 00000"
token="$("$csip" token create --db "$db" --person "$csm" --role csm | head -1)"

start_server() { # extra serve flags...
  # Access logs on (as served), to a file.
  "$csip" serve --db "$db" --addr 127.0.0.1:0 --today "$today" "$@" > "$work/serve.log" 2>> "$work/access.log" &
  server=$!
  for _ in $(seq 1 300); do grep -q "listening on" "$work/serve.log" && break; sleep 1; done
  url="$(sed -n 's/.*listening on //p' "$work/serve.log")"
  # It answers /healthz at once: 503 "loading" until the workbook is open.
  for _ in $(seq 1 600); do [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] && break; sleep 0.5; done
  cat "$work/serve.log"
  rss_kb="$(ps -o rss= -p "$server" | tr -d ' ')"
  echo "server resident memory: $((rss_kb / 1024)) MB"
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=""; }

export CSIP_LOAD_DIR="$here" CSIP_TOKEN="$token" CSIP_METRICS=$((accounts * 100))
run() { # name script [view]
  local name="$1" script="$2"
  printf '%-44s ' "$name"
  CSIP_VIEW="${3:-}" wrk -t2 -c"$connections" -d"${duration}s" -s "$here/$script" "$url" | grep '^RESULT' | sed 's/^RESULT //'
}
mixed() { # label
  run "  metric write (with reads$1)" write.lua &
  local writer=$!
  run "  view Renewal Risk (with writes$1)" view.lua "$renewal" > "$work/mixed_read"
  wait "$writer"
  cat "$work/mixed_read"
}
renewal="/api/v1/views/Renewal%20Risk"
command_center="/api/v1/views/CSM%20Command%20Center?user=CSM%2000000"
echo "$accounts accounts, $connections connections, ${duration}s each, $(nproc) cores shared by wrk and the server"

echo "-- every view evaluated afresh (csip serve --no-view-cache)"
start_server --no-view-cache
run "view Renewal Risk" view.lua "$renewal"
run "view CSM Command Center" view.lua "$command_center"
run "metric write" write.lua
echo "reads and writes at the same time:"
mixed ""
stop_server

echo "-- views kept until the workbook changes (the default)"
start_server
run "view Renewal Risk (cached)" view.lua "$renewal"
echo "reads and writes at the same time:"
mixed ", cached"
stop_server
echo "server log: $(wc -l < "$work/access.log") lines, $(grep -c -E ' (ERROR|WARN) ' "$work/access.log" || true) errors or warnings"
