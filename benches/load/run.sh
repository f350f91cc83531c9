#!/usr/bin/env bash
# Load test of `csip serve` at portfolio scale with wrk (Debian's `wrk`
# package): a synthetic portfolio of $ACCOUNTS accounts (default 10,000;
# 1,000,000 metric rows) in a workbook file (or a copy of $DB), one CSM
# token, and a default server (views kept in order; answers cached until a
# commit touches them).
# At 16 and at 100 connections ($CONNECTIONS to choose others):
#   the three dashboards' first page (Platform Health Dashboard, CSM
#   Command Center for one CSM, Strategic Alignment Board for one
#   account: views with a parameter), a page of rows, one metric edit;
#   reads and writes from the same connections (10 % writes, mix.lua);
# and reads and writes from two wrk processes at once (90 readers of the
# CSM Command Center, the dashboard or the board, 10 writers; and 100
# writers beside 20 dashboard readers); and Slack's signed slash commands
# (slack.lua). Each run $DURATION seconds; p50, p95,
# p99. Not part of CI. Usage: benches/load/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
accounts="${ACCOUNTS:-10000}"
duration="${DURATION:-15}"
connection_counts="${CONNECTIONS:-16 100}"
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
if [ -n "${DB:-}" ]; then
  cp "$DB" "$db"
else
  "$csip" synth --accounts "$accounts" --today "$today" --db "$db"
fi
csm="CSM 00000"
token="$("$csip" token create --db "$db" --person "$csm" --role csm | head -1)"

start_server() { # extra serve flags...
  # Access logs on (as served), to a file.
  "$csip" serve --db "$db" --addr 127.0.0.1:0 --today "$today" --config "$config" "$@" > "$work/serve.log" 2>> "$work/access.log" &
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
# Slack's commands are served (signed requests, slack.lua); no bot token,
# so the updates' confirmations wait in the outbox.
export CSIP_SLACK_SIGNING_SECRET="load-test-signing-secret"
config="$work/csip.toml"
printf '[slack]\nupdates_channel = "#cs-updates"\n' > "$config"
run() { # name connections script [path]
  local name="$1" c="$2" script="$3"
  printf '%-58s ' "$name"
  CSIP_VIEW="${4:-}" wrk -t2 -c"$c" -d"${duration}s" --timeout 30s -s "$here/$script" "$url" | grep '^RESULT' | sed 's/^RESULT //'
}
platform="/api/v1/views/Platform%20Health%20Dashboard"
command_center="/api/v1/views/CSM%20Command%20Center?user=CSM%2000000"
rows="/api/v1/tables/Account_Master/rows?offset=5000&limit=100"

start_server
account="$(curl -s -H "Authorization: Bearer $token" "$url/api/v1/tables/Account_Master/rows?limit=1" \
  | python3 -c 'import json, sys, urllib.parse; print(urllib.parse.quote(json.load(sys.stdin)["rows"][0]["values"]["Account_Name"]))')"
alignment="/api/v1/views/Strategic%20Alignment%20Board?account=$account"
for f in "$platform" "$command_center" "$alignment"; do
  printf '%-58s %s\n' "first page of ${f%%\?*}" "$(curl -s -o /dev/null -w '%{size_download} bytes, first answer in %{time_total} s' -H "Authorization: Bearer $token" "$url$f")"
done
# The first read of the dashboard after a one-metric write (which touches
# it: its cached answer is gone, its page read from the order kept of it):
# 20 rounds, the median and the worst.
for i in $(seq 1 20); do
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"operations\":[{\"op\":\"set\",\"table\":\"Platform_Health_Metrics\",\"row_id\":$((i * 4999)),\"column\":\"Current_Value\",\"value\":$((i % 7)).5}]}" \
    "$url/api/v1/transactions"
  curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$url$platform"
done | sort -n | awk '{ t[NR] = $1 } END { printf "%-58s median %.1f ms, max %.1f ms\n", "Platform Health Dashboard, first read after a write", t[int((NR + 1) / 2)] * 1000, t[NR] * 1000 }'
echo "$accounts accounts, ${duration}s each, $(nproc) cores shared by wrk and the server"
for c in $connection_counts; do
  echo "-- $c connections"
  run "Platform Health Dashboard, first page" "$c" view.lua "$platform"
  run "CSM Command Center (user = one CSM)" "$c" view.lua "$command_center"
  run "Strategic Alignment Board (account = one account)" "$c" view.lua "$alignment"
  run "rows, a page of 100 (offset 5000)" "$c" view.lua "$rows"
  run "metric write" "$c" write.lua
  run "CSM Command Center and 10 % writes, same connections" "$c" mix.lua "$command_center"
done
echo "-- two wrk processes at once: 90 readers, 10 writers"
run "  metric write (10 connections, with 90 readers)" 10 write.lua > "$work/writes" &
writer=$!
run "  CSM Command Center (90 connections, with 10 writers)" 90 view.lua "$command_center"
wait "$writer"
cat "$work/writes"
run "  metric write (10 connections, with 90 dashboard readers)" 10 write.lua > "$work/writes" &
writer=$!
run "  Platform Health Dashboard (90 connections, with 10 writers)" 90 view.lua "$platform"
wait "$writer"
cat "$work/writes"
run "  metric write (10 connections, with 90 board readers)" 10 write.lua > "$work/writes" &
writer=$!
run "  Strategic Alignment Board (90 connections, with 10 writers)" 90 view.lua "$alignment"
wait "$writer"
cat "$work/writes"
echo "-- two wrk processes at once: 100 writers, 20 dashboard readers"
run "  metric write (100 connections, with 20 readers)" 100 write.lua > "$work/writes" &
writer=$!
run "  Platform Health Dashboard (20 connections, with 100 writers)" 20 view.lua "$platform"
wait "$writer"
cat "$work/writes"
# Slack: signed /mulesoft-health of one account by its CSM, and a mix with
# 10 % /mulesoft-update of one of its metrics (each a commit, and a message
# in the outbox).
people="$(curl -s -H "Authorization: Bearer $token" "$url/api/v1/tables/People_Team/rows?limit=1")"
export CSIP_SLACK_USER="$(printf '%s' "$people" | python3 -c 'import json, sys; print(json.load(sys.stdin)["rows"][0]["values"]["Slack_User_ID"])')"
metrics="$(curl -s -H "Authorization: Bearer $token" "$url/api/v1/tables/Platform_Health_Metrics/rows?limit=1")"
export CSIP_SLACK_ACCOUNT="$(printf '%s' "$metrics" | python3 -c 'import json, sys; print(json.load(sys.stdin)["rows"][0]["values"]["Account"]["name"])')"
export CSIP_SLACK_METRIC="$(printf '%s' "$metrics" | python3 -c 'import json, sys; print(json.load(sys.stdin)["rows"][0]["values"]["Metric_Name"])')"
for c in $connection_counts; do
  echo "-- Slack, $c connections (signed requests; $CSIP_SLACK_ACCOUNT by $CSIP_SLACK_USER)"
  export CSIP_SLACK_UPDATE_SHARE=0
  run "/mulesoft-health" "$c" slack.lua
  export CSIP_SLACK_UPDATE_SHARE=0.1
  run "/mulesoft-health and 10 % /mulesoft-update" "$c" slack.lua
done
# Each committed /mulesoft-update left one confirmation in the outbox (a
# refused one would have answered 200 too, ephemerally, and left none).
echo "outbox: $("$csip" outbox list --db "$db" --status pending --limit 100000000 | grep -c 'slack:#cs-updates') confirmations waiting (no bot token in this run)"
stop_server
echo "server log: $(wc -l < "$work/access.log") lines, $(grep -c -E ' (ERROR|WARN) ' "$work/access.log" || true) errors or warnings"
