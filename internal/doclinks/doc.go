// Package doclinks holds the tests that the documentation points at what
// exists: every relative link in README.md and under docs/ names a file or
// directory of the repository (and, into a Markdown page, a heading it
// has), none leads out of the repository, where a reader of a clone finds
// nothing, docs/README.md lists every guide, and every test a guide cites
// as backing a claim is a test function of the repository.
package doclinks
