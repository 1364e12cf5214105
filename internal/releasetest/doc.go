// Package releasetest holds a test that a release is reproducible: that
// scripts/release.sh, run on the same commit in two clones at different
// paths, with different build caches and different Go settings in the
// environment, writes the same binary and the same SHA256SUMS
// (docs/release.md).
package releasetest
