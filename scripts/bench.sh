#!/usr/bin/env bash
# Runs the benchmarks and a 100,000-request rehearsal ceremony, which prints
# how long each phase took.
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup
scripts/build.sh
go test -run='^$' -bench=. -benchmem -benchtime="${BENCHTIME:-3x}" ./...
(cd interop && go test -run='^$' -bench=. -benchmem -benchtime=1x ./...)
out=$(mktemp -d "${TMPDIR:-/tmp}/conclave-bench-XXXXXX")
bin/conclave rehearse --out "$out" --requests 100000
rm -rf "$out"
