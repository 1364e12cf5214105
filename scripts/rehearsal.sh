#!/usr/bin/env bash
# Sets everything up and runs Conclave's main job as a rehearsal: a whole
# ceremony on virtual YubiKeys (a private pcscd and vsmartcard-vpcd) and a
# SoftHSM token, which the rehearsal starts and stops itself, then an
# independent check of the export with `conclave verify`.
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup
scripts/build.sh
out=$(mktemp -d "${TMPDIR:-/tmp}/conclave-rehearsal-XXXXXX")
say "rehearsal ceremony (everything in $out)"
bin/conclave rehearse --out "$out" --requests "${REQUESTS:-1000}"
say "verifying the exported metadata as a TUF client would, from the repository's root"
exported=("$out"/export/*.claimed.json)
bin/conclave verify --trusted-root "$out/repository/root.json" "$out/repository/targets.json" "${exported[@]}"
say "the same rehearsal in the terminal program, a guided tour of the ceremony (needs a terminal of 80x24 or more):"
echo "  bin/conclave rehearse --tui --requests ${REQUESTS:-1000}"
