#!/usr/bin/env bash
# Runs every Go fuzz target in the module for the given budget (default 5s).
# Targets are discovered with `go test -list`, so a new Fuzz* function is
# picked up without editing this file.
set -euo pipefail
budget=${1:-5s}
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($budget)"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$budget" "$pkg"
  done
done
