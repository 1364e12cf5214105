// Package pkcs11 gives Conclave keys held in HSMs through PKCS#11
// (github.com/miekg/pkcs11), behind the small hsm.Token interface.
//
// # Choosing a key
//
// Keys are named by RFC 7512 PKCS#11 URIs, parsed strictly by package uri:
//
//	pkcs11:token=ceremony;object=root-1;id=%01;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so
//
// A URI that matches no key, or more than one, is an error that lists what
// the token holds. A PIN is never part of a URI; it comes only through the
// caller's hsm.Prompts.
//
// # Which modules
//
// A PKCS#11 module is a library that runs inside Conclave, so an allow-list
// names the allowed ones by path and SHA-256 ([ModulePolicy], read from the
// file format of [ParseAllowList]). The file is
// hashed before it is loaded, and loaded from the descriptor that was
// hashed. SoftHSM keeps keys in files and is allowed only in a rehearsal.
// PKCS#11 has no key attestation, so every key here is shown as not attested.
//
// # Lifecycle
//
// Each module is loaded and initialised (C_Initialize) once per process and
// finalised when the last [Module] or [Token] using it is closed. Sessions
// are opened per operation; one more session holds the login for as long as
// the token is open (a ceremony may keep it for an hour), and Close logs out.
// When the token is removed, operations fail with hsm.ErrTokenRemoved and
// leave nothing behind: close it, open it again, and retry.
//
// # Signatures
//
// ECDSA P-256 and P-384 with CKM_ECDSA over the digest Conclave computed
// (the token's r||s converted to DER), Ed25519 with CKM_EDDSA, RSA with
// CKM_RSA_PKCS_PSS (SHA-256, MGF1-SHA-256, salt as long as the hash). Every
// signature is verified against the expected public key before it is
// returned, and only keys that were generated on the token and can never
// leave it are used.
//
// Loading modules needs cgo; without it the package holds only the
// allow-list ([ParseAllowList]), so that packages importing it still build.
package pkcs11
