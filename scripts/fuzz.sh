#!/usr/bin/env bash
# Runs every fuzz target in the main module for a while each
# (default 10s; `scripts/fuzz.sh 5m` for a longer hunt).
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
time=${1:-10s}
log=$(mktemp "${TMPDIR:-/tmp}/conclave-fuzz-XXXXXX")
trap 'rm -f "$log"' EXIT

# fuzz runs one target, keeping its output in $log as well.
fuzz() {
	go test -run='^$' -fuzz="^$2\$" -fuzztime="$time" "$1" 2>&1 | tee "$log"
}

# Go 1.26's fuzzing coordinator can report "context deadline exceeded" as a
# failure at the very end of -fuzztime when a worker is still busy
# (go.dev/issue/75804, fixed in Go 1.27). That failure writes no failing
# input; a real one always does ("Failing input written to ..."), and
# fails at once. Only the former earns a second run, and only one.
deadline_race() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -q 'Failing input written' "$log" &&
		! grep -q '^panic:' "$log"
}

for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
		say "fuzz $pkg $target ($time)"
		if ! fuzz "$pkg" "$target"; then
			if ! deadline_race; then
				die "fuzz $pkg $target failed"
			fi
			say "fuzz $pkg $target stopped with Go's end-of-fuzztime race (go.dev/issue/75804), no failing input; running it once more"
			fuzz "$pkg" "$target" || die "fuzz $pkg $target failed"
		fi
	done
done
