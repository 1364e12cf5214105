// Package interop holds tests only: it proves that go-tuf v2, a TUF
// implementation independent of Conclave, verifies the metadata Conclave
// writes, and that Conclave verifies the metadata go-tuf writes.
//
// It is a separate Go module so that go-tuf and its dependencies never
// enter Conclave's own dependency graph.
package interop
