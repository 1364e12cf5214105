// Package doclinks holds a test that the documentation's links hold: every
// relative link in README.md and under docs/ names a file or directory of
// the repository (and, into a Markdown page, a heading it has), and none
// leads out of the repository, where a reader of a clone finds nothing.
package doclinks
