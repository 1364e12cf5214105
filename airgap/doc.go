// Package airgap is Conclave's boundary with the outside world. It holds no
// code itself; its subpackages do the work:
//
//   - [github.com/conclave-keys/conclave/airgap/safefile] reads bundles from
//     transfer media without following links or opening devices, with size
//     limits, and writes exports atomically, never replacing a file, read
//     back and verified;
//   - [github.com/conclave-keys/conclave/airgap/preflight] checks that the
//     machine is air-gapped (interfaces, routes, radios) and shows the clock
//     for a person to confirm;
//   - [github.com/conclave-keys/conclave/airgap/media] lists the mounted
//     removable media. Conclave never mounts anything;
//   - [github.com/conclave-keys/conclave/airgap/journal] keeps a ceremony's
//     log on disk, each line durable before its event takes effect, and
//     the large bytes it names beside it.
//
// All of it is Linux only, and reads the kernel's files under a root
// directory that tests point at fixture trees.
package airgap
