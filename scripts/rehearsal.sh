#!/usr/bin/env bash
# Sets everything up and runs Conclave's main job as a rehearsal: a whole
# signing on throwaway software keys, then an independent check of the
# output with `conclave verify`.
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup
scripts/build.sh
out=$(mktemp -d "${TMPDIR:-/tmp}/conclave-rehearsal-XXXXXX")
say "rehearsal ceremony (output in $out)"
bin/conclave rehearse --out "$out" --requests "${REQUESTS:-1000}"
say "verifying the rehearsal's output as a TUF client would"
bin/conclave verify --trusted-root "$out/root.json" "$out/targets.json" "$out/claimed.json"
