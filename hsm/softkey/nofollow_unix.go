//go:build unix

package softkey

import "syscall"

// oNoFollow makes opening a key file fail if it is a symbolic link.
const oNoFollow = syscall.O_NOFOLLOW
