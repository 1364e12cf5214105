#!/usr/bin/env bash
# Builds a Conclave release so that anyone can rebuild it bit for bit and
# compare hashes: the same commit, Go version and C tool chain give the same
# bytes in any directory, with any build cache (docs/release.md).
#
#   scripts/release.sh [OUTDIR]      (default: bin/release)
#
# OUTDIR gets conclave-GOOS-GOARCH, BUILDINFO (what the build depended on)
# and SHA256SUMS (over both). internal/releasetest builds twice, in two
# clones at different paths with different build caches, and compares.
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go
out=${1:-bin/release}

# A release is a commit: the binary records its revision, and a tree with
# changes would record "modified" and bytes no one else can rebuild.
command -v git >/dev/null 2>&1 || die "git is needed: a release is built from a git commit"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$(pwd) is not a git checkout: a release is built from a git commit"
[ -z "$(git status --porcelain)" ] || die "the tree has uncommitted or untracked files (git status): a release is built from a clean checkout of a commit"
commit=$(git rev-parse HEAD)

# The Go version is part of the input: go.mod's toolchain line fixes it, and
# GOTOOLCHAIN makes the go command use exactly that one (fetched through the
# module proxy when the installed go is another version).
toolchain=$(awk '$1 == "toolchain" { print $2 }' go.mod)
[ -n "$toolchain" ] || die "go.mod has no toolchain line: a release needs one fixed Go version"
export GOTOOLCHAIN=$toolchain
got=$(go env GOVERSION)
[ "$got" = "$toolchain" ] || die "go.mod asks for $toolchain but the go command runs $got"

# Nothing from the caller's environment may change the bytes: flags, the
# instruction set level, experiments and C flags are reset to the defaults.
unset GOFLAGS GOEXPERIMENT GOAMD64 GOARM64 GO386 GOARM GOPPC64 GORISCV64 \
	CGO_CFLAGS CGO_CPPFLAGS CGO_CXXFLAGS CGO_LDFLAGS CC CXX
# cgo is required: the PKCS#11 (miekg/pkcs11) and PIV (libpcsclite)
# backends are C. Their object code depends on gcc and the C headers, which
# BUILDINFO records, so a rebuild uses the same Debian release.
export CGO_ENABLED=1 LC_ALL=C TZ=UTC
# gcc takes __DATE__ and __TIME__ from SOURCE_DATE_EPOCH
# (https://reproducible-builds.org/specs/source-date-epoch/); Go embeds no
# build time at all. The commit's time is the release's time.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct HEAD)
export SOURCE_DATE_EPOCH
goos=$(go env GOOS)
goarch=$(go env GOARCH)
bin=conclave-$goos-$goarch

mkdir -p "$out"
rm -f "$out/$bin" "$out/BUILDINFO" "$out/SHA256SUMS"
# -trimpath: no directory of this machine in the binary.
# -buildvcs=true: the commit is recorded (conclave version prints it), or
#   the build fails, never quietly recording nothing.
# -mod=readonly: go.mod and go.sum as committed, nothing resolved anew.
# -ldflags=-buildid=: the build id hashes the build's inputs by path and
#   cache key; empty, it cannot differ between two machines.
say "building $bin from $commit with $toolchain"
go build -trimpath -buildvcs=true -mod=readonly -ldflags=-buildid= -o "$out/$bin" ./cmd/conclave

{
	echo "commit: $commit"
	echo "source_date_epoch: $SOURCE_DATE_EPOCH"
	echo "gcc: $(gcc --version | head -n 1)"
	if command -v dpkg-query >/dev/null 2>&1; then
		dpkg-query -W -f='${Package} ${Version}\n' libc6-dev libpcsclite-dev 2>/dev/null || true
	fi
	echo
	(cd "$out" && go version -m "$bin")
} >"$out/BUILDINFO"
(cd "$out" && sha256sum "$bin" BUILDINFO >SHA256SUMS)
say "release in $out:"
cat "$out/SHA256SUMS"
