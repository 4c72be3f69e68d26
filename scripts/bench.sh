#!/usr/bin/env bash
# Runs every benchmark in the module once and prints the table kept in
# BENCHMARKS.md (ratios against the baseline measured in the same run).
#   scripts/bench.sh            print the table
#   scripts/bench.sh -w         also rewrite the results section of BENCHMARKS.md
# BENCHTIME (default 1s) and BENCHPKGS (default ./...) tune the run.
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${BENCHTIME:-1s}
pkgs=${BENCHPKGS:-./...}
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
go test -p 1 -run '^$' -bench . -benchmem -benchtime "$benchtime" -timeout 60m $pkgs | tee "$raw" >&2
table=$(go run ./internal/tools/benchtable < "$raw")
machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), wazero $(go list -m -f '{{.Version}}' github.com/tetratelabs/wazero)"
settings="BENCHTIME=$benchtime${SCOPEGATE_BENCH_MEMORY_REQUESTS:+ SCOPEGATE_BENCH_MEMORY_REQUESTS=$SCOPEGATE_BENCH_MEMORY_REQUESTS}"
printf 'Machine: %s\nCommand: %s make bench\n%s\n' "$machine" "$settings" "$table"
if [ "${1:-}" = "-w" ]; then
  {
    sed '/^<!-- results -->$/q' BENCHMARKS.md
    printf '\nMeasured %s on: %s\n\nCommand: `%s scripts/bench.sh -w`\n%s\n' "$(date -u +%Y-%m-%d)" "$machine" "$settings" "$table"
  } > BENCHMARKS.md.new
  mv BENCHMARKS.md.new BENCHMARKS.md
fi
