#!/usr/bin/env bash
# Runs every fuzz target in the main module for a while each
# (default 10s; `scripts/fuzz.sh 5m` for a longer hunt).
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
time=${1:-10s}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		say "fuzz $pkg $target ($time)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$time" "$pkg"
	done
done
