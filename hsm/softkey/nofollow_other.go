//go:build !unix

package softkey

// oNoFollow is zero where the system has no O_NOFOLLOW; the regular-file
// check after opening still applies.
const oNoFollow = 0
