#!/usr/bin/env bash
# Runs every benchmark in the module once and prints the table kept in
# BENCHMARKS.md (ratios against the baseline measured in the same run).
#   scripts/bench.sh            print the table
#   scripts/bench.sh -w         also rewrite the results section of BENCHMARKS.md
# BENCHTIME (default 1s) and BENCHPKGS (default ./...) tune the run;
# SCOPEGATE_BENCH_ENGINE_ROUNDS the rounds of BenchmarkEngine (wazero and V8,
# default 15). Node.js 20+ must be on PATH for the V8 rows.
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${BENCHTIME:-1s}
pkgs=${BENCHPKGS:-./...}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
# The machine may be shared: the load average before and after says how much.
load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)
go test -p 1 -run '^$' -bench . -benchmem -benchtime "$benchtime" -timeout 60m $pkgs | tee "$raw" >&2
load_after=$(load)
table=$(go run ./internal/tools/benchtable < "$raw")
node_version=$(node -p '`node ${process.version}, V8 ${process.versions.v8}`' 2>/dev/null || echo 'no node')
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), wazero $(go list -m -f '{{.Version}}' github.com/tetratelabs/wazero), $node_version"
settings="BENCHTIME=$benchtime${SCOPEGATE_BENCH_MEMORY_REQUESTS:+ SCOPEGATE_BENCH_MEMORY_REQUESTS=$SCOPEGATE_BENCH_MEMORY_REQUESTS}${SCOPEGATE_BENCH_ENGINE_ROUNDS:+ SCOPEGATE_BENCH_ENGINE_ROUNDS=$SCOPEGATE_BENCH_ENGINE_ROUNDS}"
printf 'Machine: %s\nLoad average (1, 5, 15 min): %s before, %s after\nCommand: %s make bench\n%s\n' "$machine" "$load_before" "$load_after" "$settings" "$table"
if [ "${1:-}" = "-w" ]; then
  {
    sed '/^<!-- results -->$/q' BENCHMARKS.md
    printf '\nMeasured %s on: %s\n\nLoad average (1, 5, 15 min): %s before, %s after\n\nCommand: `%s scripts/bench.sh -w`\n%s\n' "$(date -u +%Y-%m-%d)" "$machine" "$load_before" "$load_after" "$settings" "$table"
  } > BENCHMARKS.md.new
  mv BENCHMARKS.md.new BENCHMARKS.md
fi
