# Shared helpers for Conclave's scripts. Source it; do not run it.
set -euo pipefail

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root runs a command as root: directly when we are root, else through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run: $* (install sudo or run as root)"
	fi
}

# ensure_packages installs the Debian packages that are missing, and only those.
ensure_packages() {
	local missing=()
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get: this set-up supports Debian and Ubuntu"
	say "installing Debian packages: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# --no-install-recommends: only the packages listed, not what they recommend.
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ensure_go checks for a Go toolchain new enough for go.mod.
ensure_go() {
	if ! command -v go >/dev/null 2>&1; then
		if [ -x /usr/local/go/bin/go ]; then
			export PATH="/usr/local/go/bin:$PATH"
		else
			die "Go 1.26 or newer is needed (https://go.dev/doc/install); Debian's golang package is too old"
		fi
	fi
	local v
	v=$(go env GOVERSION | sed 's/^go//')
	case "$v" in
		1.2[6-9]*|1.[3-9][0-9]*|[2-9].*) ;;
		*) die "Go $v is too old: Conclave needs Go 1.26 or newer" ;;
	esac
}

# The Debian packages Conclave's build and tests use:
#   gcc, pkg-config, libpcsclite-dev  cgo builds of the PKCS#11 and PIV backends
#   softhsm2                          a real PKCS#11 module for the HSM tests
#   pcscd, vsmartcard-vpcd            real PC/SC daemon and virtual reader for the PIV tests
#   openssl                           checks that software key files are standard PKCS#8
#   python3, python3-jsonschema       checks the formats' worked examples against their JSON Schemas
#   ca-certificates, git              fetching Go modules through the module proxy
#   e2fsprogs, mount                  mkfs.ext4 and losetup: a medium that fails mid-export, for the export tests
#   dosfstools, exfatprogs            mkfs.vfat and mkfs.exfat: FAT32 and exFAT images, the file systems of
#                                     transfer sticks, loop-mounted by the media tests (internal/loopmedium)
#   fusefat, exfat-fuse               FUSE drivers for those images, used where the kernel has no vfat or exfat driver
#   tmux                              a real terminal for the terminal program's end-to-end tests (send-keys, capture-pane)
PACKAGES=(gcc libc6-dev pkg-config libpcsclite-dev softhsm2 pcscd vsmartcard-vpcd openssl python3 python3-jsonschema ca-certificates git e2fsprogs mount dosfstools exfatprogs fusefat exfat-fuse tmux)

# ensure_tufjs makes sure Node.js 18.17 or newer and npm are there (Debian's
# packages when there is no node: Debian 12 ships 18.19) and installs tuf-js
# for the interop tests, exactly as interop/tufjs/package-lock.json pins it.
# Only the tests need it: the product and the rehearsal never run node.
ensure_tufjs() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		ensure_packages nodejs npm
	fi
	local v
	v=$(node --version | sed 's/^v//')
	case "$v" in
		18.1[7-9].*|18.[2-9][0-9].*|20.[5-9].*|20.[1-9][0-9].*|2[1-9].*|[3-9][0-9].*) ;;
		*) die "Node.js $v is too old for tuf-js 3.1 (interop tests): 18.17 or newer is needed" ;;
	esac
	say "installing tuf-js for the interop tests (pinned by interop/tufjs/package-lock.json)"
	(cd interop/tufjs && npm ci --prefer-offline --ignore-scripts --no-audit --no-fund)
}

setup() {
	ensure_go
	ensure_packages "${PACKAGES[@]}"
	say "downloading Go modules"
	go mod download
	(cd interop && go mod download)
}
