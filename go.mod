module github.com/conclave-keys/conclave

go 1.26.0

require (
	github.com/go-piv/piv-go/v2 v2.6.0
	github.com/miekg/pkcs11 v1.1.2
	github.com/rogpeppe/go-internal v1.16.0
	github.com/secure-systems-lab/go-securesystemslib v0.11.1
	go.yaml.in/yaml/v3 v3.0.6
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)

require (
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)
