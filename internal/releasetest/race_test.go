//go:build race

package releasetest

// raceEnabled: scripts/test.sh runs ./internal/... a second time under
// the race detector, which has nothing to find in a test that runs other
// programs; the build twice over is left to the run without it.
const raceEnabled = true
