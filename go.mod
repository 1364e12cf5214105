module github.com/conclave-keys/conclave

go 1.26.0

require (
	github.com/go-piv/piv-go/v2 v2.6.0 // indirect
	github.com/miekg/pkcs11 v1.1.2 // indirect
	github.com/secure-systems-lab/go-securesystemslib v0.11.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
