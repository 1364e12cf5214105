#!/usr/bin/env bash
# Builds bin/conclave reproducibly: the same source and Go version give the
# same bytes on any machine, so two people can compare hashes of the binary
# that goes into the room (-trimpath drops local paths, -buildid= fixes the
# build id, and the VCS revision is embedded for `conclave version`).
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
mkdir -p bin
CGO_ENABLED=1 go build -trimpath -buildvcs=auto -ldflags=-buildid= -o bin/conclave ./cmd/conclave
sha256sum bin/conclave
