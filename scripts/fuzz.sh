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
    # A failure the fuzzer found always comes with its input written to
    # testdata/fuzz. A run that fails without one is the fuzzing machinery,
    # not the code: "context deadline exceeded" when the budget ends while a
    # new input is being minimised, or a worker lost on a loaded machine. Such
    # a run is retried once; a second failure fails the build.
    if ! out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$budget" "./$dir" 2>&1); then
      if ! grep -q 'Failing input written' <<<"$out"; then
        echo "$out" | tail -n 5
        echo "fuzz ./$dir $target: failed without a failing input (fuzzer machinery); running it again"
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
