# The two commands: `make rehearsal` (set up, then run Conclave's main job on
# virtual tokens) and `make test` (set up, then run every test). Each target
# calls a script in scripts/, which installs what is missing first.

.PHONY: rehearsal test build setup bench fuzz

rehearsal:
	scripts/rehearsal.sh

test:
	scripts/test.sh

build:
	scripts/build.sh

setup:
	scripts/setup.sh

bench:
	scripts/bench.sh

fuzz:
	scripts/fuzz.sh 5m
