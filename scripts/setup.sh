#!/usr/bin/env bash
# Installs what Conclave needs on a Debian or Ubuntu machine (only what is
# missing) and downloads its Go modules.
cd "$(dirname "$0")/.."
. scripts/lib.sh
setup
say "set-up complete"
