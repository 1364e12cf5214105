#!/usr/bin/env bash
# Sets everything up and runs every test: formatting, vet, staticcheck, the
# unit and integration tests (SoftHSM, pcscd + virtual YubiKey), the
# interop tests against go-tuf and tuf-js, and a short run of every fuzz target.
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup
ensure_tufjs

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"

say "go vet"
go vet ./...
(cd interop && go vet ./...)

say "staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

say "go test (main module)"
# Tests that need what this machine cannot give (loop devices, a file
# system driver) skip, and write why to this file (internal/loopmedium).
skip_log=$(mktemp)
trap 'rm -f "$skip_log"' EXIT
CONCLAVE_SKIP_LOG="$skip_log" go test -count=1 ./...
if [ -s "$skip_log" ]; then
	say "skipped, so not checked on this machine:"
	sort -u "$skip_log" | sed 's/^/    /'
fi

say "go test -race (domain packages)"
go test -count=1 -race ./ceremony/... ./internal/... ./intake/... ./rehearsal/...

say "JSON Schemas of the formats against their worked examples"
# Debian's own Python, which has Debian's python3-jsonschema (a pyenv or
# virtualenv python3 earlier on PATH may not).
/usr/bin/python3 docs/formats/schema/check_examples.py

say "go test (interop with go-tuf and tuf-js)"
(cd interop && CONCLAVE_INTEROP_TUFJS=1 go test -count=1 ./...)

say "fuzzing each target briefly (FUZZTIME=${FUZZTIME:-10s})"
scripts/fuzz.sh "${FUZZTIME:-10s}"

say "all tests passed"
