# The two commands: `make rehearsal` (set up, then run Conclave's main job on
# virtual YubiKeys and SoftHSM, started for it) and `make test` (set up, then run every test).
# Each target calls a script in scripts/, which installs what is missing first.

.PHONY: rehearsal test build release setup bench fuzz man

rehearsal:
	scripts/rehearsal.sh

test:
	scripts/test.sh

build:
	scripts/build.sh

# A release anyone can rebuild bit for bit (docs/release.md): bin/release/
# with the binary, BUILDINFO and SHA256SUMS. Needs a clean checkout.
release:
	scripts/release.sh

setup:
	scripts/setup.sh

bench:
	scripts/bench.sh

fuzz:
	scripts/fuzz.sh 5m

# The manual page, made by the program from its own command table (so it
# cannot drift from the flags it parses): bin/conclave.1; read it with
# man -l bin/conclave.1.
# Written to a temporary file first, so a failed build leaves no
# truncated page behind.
man:
	mkdir -p bin
	go run ./cmd/conclave man > bin/conclave.1.tmp || { rm -f bin/conclave.1.tmp; exit 1; }
	mv bin/conclave.1.tmp bin/conclave.1
