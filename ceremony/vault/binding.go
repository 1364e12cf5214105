package vault

import (
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// BindingFormat is the binding payload's "format".
const BindingFormat = "conclave-vault-binding/1"

// Errors of the binding check, each in an *OpenError naming BindingFile.
var (
	// ErrBindingMismatch: the binding is over another policy, root
	// version or repository than the generation holds.
	ErrBindingMismatch = errors.New("the binding does not bind this policy to this root")
)

// BindingPayload is the payload root holders sign to bind a policy to a
// root: canonical JSON (TUF §4.2's form, so it has one encoding)
//
//	{"format":"conclave-vault-binding/1","policy_sha256":…,"repository":…,"root_version":N}
//
// signed in a DSSE envelope of type envelope.TypeVaultBinding by a
// threshold of the root's root keys. The repository is the policy's; so
// the policy is parsed, and a policy that does not parse has no payload.
func BindingPayload(policyBytes []byte, root *tuf.File) ([]byte, error) {
	if root == nil || root.Root == nil {
		return nil, errors.New("binding payload: no root metadata to bind to")
	}
	p, err := policy.Parse(PolicyFile, policyBytes)
	if err != nil {
		return nil, fmt.Errorf("binding payload: %w", err)
	}
	return bindingPayload(SHA256Hex(policyBytes), p.Repository, root.Root.Version), nil
}

// NewBinding is the unsigned binding envelope of a policy to a root: the
// root holders add their signatures (envelope.Sign) and the marshalled
// envelope is AdoptInput.Binding.
func NewBinding(policyBytes []byte, root *tuf.File) (*envelope.Envelope, error) {
	payload, err := BindingPayload(policyBytes, root)
	if err != nil {
		return nil, err
	}
	return &envelope.Envelope{PayloadType: envelope.TypeVaultBinding, Payload: payload}, nil
}

func bindingPayload(policySHA256, repository string, rootVersion int64) []byte {
	var e cjson.Encoder
	e.BeginObject()
	e.Name("format")
	e.String(BindingFormat)
	e.Name("policy_sha256")
	e.String(policySHA256)
	e.Name("repository")
	e.String(repository)
	e.Name("root_version")
	e.Int(rootVersion)
	e.EndObject()
	b, err := e.Bytes()
	if err != nil {
		panic("vault: binding payload: " + err.Error())
	}
	return b
}

// RootKeys are the keys of a root's root role, by keyid: the keys that may
// sign a binding.
func RootKeys(root *tuf.Root) (map[string]*tuf.Key, int64) {
	rk := root.Roles[tuf.TypeRoot]
	if rk == nil {
		return nil, 0
	}
	keys := make(map[string]*tuf.Key, len(rk.KeyIDs))
	for _, id := range rk.KeyIDs {
		if k, ok := root.Keys[id]; ok {
			keys[id] = k
		}
	}
	return keys, rk.Threshold
}

// ParseBinding reads a binding envelope.
func ParseBinding(data []byte) (*envelope.Envelope, error) {
	v, err := cjson.Parse(data)
	if err != nil {
		return nil, err
	}
	return envelope.Parse(v, "binding")
}

// verifyBinding checks the binding envelope before the policy is parsed:
// of the binding type, every signature a valid one by a distinct key of
// root's root role, at least the root role's threshold of them (counted by
// public key, as TUF counts a threshold: go-tuf v2's rule), over a payload
// in the exact form Conclave signs that names this root version and the
// policy file's hash. It returns the repository the payload names, for the
// caller to compare with the parsed policy's, and the signers.
func verifyBinding(data, policyBytes []byte, root *tuf.Root) (repository string, signers []string, err error) {
	env, err := ParseBinding(data)
	if err != nil {
		return "", nil, refuse(BindingFile, err)
	}
	keys, threshold := RootKeys(root)
	res, err := env.Verify(envelope.TypeVaultBinding, keys)
	if err != nil {
		return "", nil, refuse(BindingFile, err)
	}
	if threshold < 1 || int64(len(res.Signers)) < threshold {
		return "", nil, refusef(BindingFile, "%w for the binding: %d of %d distinct root keys of root version %d signed",
			tuf.ErrThreshold, len(res.Signers), threshold, root.Version)
	}
	v, err := cjson.Parse(env.Payload)
	if err != nil {
		return "", nil, refusef(BindingFile, "%w: the payload is not JSON: %v", ErrBindingMismatch, err)
	}
	get := func(name string) cjson.Value { x, _ := v.Get(name); return x }
	repository = get("repository").Str()
	if string(env.Payload) != string(bindingPayload(get("policy_sha256").Str(), repository, get("root_version").Int())) {
		return "", nil, refusef(BindingFile, "%w: the payload is not in the exact form Conclave signs", ErrBindingMismatch)
	}
	if got := get("root_version").Int(); got != root.Version {
		return "", nil, refusef(BindingFile, "%w: it binds root version %d, the current root is version %d", ErrBindingMismatch, got, root.Version)
	}
	if got, have := get("policy_sha256").Str(), SHA256Hex(policyBytes); got != have {
		return "", nil, refusef(PolicyFile, "%w: the binding is over a policy with sha256 %s, this one has sha256 %s: the policy was changed after it was bound",
			ErrBindingMismatch, got, have)
	}
	return repository, res.Signers, nil
}
