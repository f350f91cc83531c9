#!/usr/bin/env bash
# HyperFormula side by side with csip on the same synthetic portfolios.
# Installs HyperFormula (npm ci), writes each portfolio with `csip synth`,
# runs the HyperFormula benchmark, and has csip do the same edits and print
# the ratios. Sizes from HF_SIZES (default 30,100: HyperFormula's edit time
# grows with the square of the portfolio). Not part of CI.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
today=2026-11-24
cd "$here"
npm ci --no-audit --no-fund --silent
cd "$root"
cargo build --release --locked -q -p csip-cli -p csip-benches
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
dirs=()
sizes="${HF_SIZES:-30,100}"
for n in ${sizes//,/ }; do
  ./target/release/csip synth --accounts "$n" --today "$today" --out "$data/$n" >/dev/null
  dirs+=("$data/$n")
done
CSIP_TODAY="$today" node "$here/bench.mjs" "${dirs[@]}" | ./target/release/side-by-side
