// Package archtest holds a test that keeps the import rule of
// docs/design.md: the domain (ceremony/) imports none of the packages that
// touch devices, media, the terminal or the online side (hsm/, airgap/,
// tui/, cmd/, rehearsal/, intake/), so that what the state is and what the
// policy allows is decided in one place that does no I/O of its own.
package archtest
