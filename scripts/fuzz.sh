#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given budget (default 5s).
# Targets are found by their declarations (func FuzzXxx(f *testing.F)) in
# _test.go files, so a new target is picked up without editing this file and
# no package is compiled just to list its tests.
set -euo pipefail
budget=${1:-5s}
cd "$(dirname "$0")/.."
count=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*testing\.F).*/\1/p' "$file"); do
    echo "fuzz ./$dir $target ($budget)"
    # The fuzzer can report "context deadline exceeded" when its time budget
    # ends while it is still minimising a new input (no failing input is
    # written then); that is the budget, not a bug, so such a run is retried once.
    if ! out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$budget" "./$dir" 2>&1); then
      if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
        echo "$out" | tail -n 3
        echo "fuzz ./$dir $target: budget ended while minimising; running it again"
        go test -run='^$' -fuzz="^${target}\$" -fuzztime="$budget" "./$dir"
      else
        echo "$out"
        exit 1
      fi
    else
      echo "$out" | tail -n 2
    fi
    count=$((count + 1))
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort)
echo "fuzzed $count targets for $budget each"
[ "$count" -gt 0 ]
