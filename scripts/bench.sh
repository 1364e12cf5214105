#!/usr/bin/env bash
# Runs the benchmarks, a whole ceremony at three sizes beside its parts,
# and a 100,000-request rehearsal ceremony, which prints how long each
# phase took.
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup
scripts/build.sh
go test -run='^$' -skip='^BenchmarkCeremony$' -bench=. -benchmem -benchtime="${BENCHTIME:-3x}" ./...
# A whole ceremony at 1,000, 10,000 and 100,000 requests, each beside its
# parts alone (docs/performance.md, "A whole ceremony").
go test -run='^$' -bench='^BenchmarkCeremony$' -benchtime=1x ./cmd/conclave/
(cd interop && go test -run='^$' -bench=. -benchmem -benchtime=1x ./...)
out=$(mktemp -d "${TMPDIR:-/tmp}/conclave-bench-XXXXXX")
bin/conclave rehearse --out "$out" --requests 100000
rm -rf "$out"
