// Package archtest holds a test that keeps the architecture of DESIGN.md:
// the domain (ceremony/) imports none of the device, media or terminal
// packages (hsm/, airgap/, tui/), so that what the state is and what the
// policy allows is decided in one place that does no I/O of its own.
package archtest
