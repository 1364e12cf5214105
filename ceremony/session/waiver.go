package session

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/ceremony/cjson"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/ceremony/validate"
	"github.com/conclave-keys/conclave/ceremony/verdict"
)

// A recovery (a rotation or removal without the consent of the project's
// current keys) waits out a notice period (policy requests.recovery_notice)
// so that the project's owners can object before their keys are replaced.
// When a project's own key is compromised, the owners are the ones asking,
// and waiting would leave the stolen key trusted: a threshold of the
// holders of the role that delegates the project may then waive the
// period, each signing a typed statement on their token that names this
// ceremony, the request, its change, the role and its version, and the
// reason. The statement's signatures are the same votes as the role's own
// signatures (one per holder, however many keys), so no fewer people can
// waive a period than can sign the role it changes.

// WaiverFormat is the value of a waiver statement's "format" member.
const WaiverFormat = "conclave-recovery-waiver/1"

// MaxWaiverReason bounds a waiver's reason, in characters: a sentence or
// a paragraph, read aloud and kept in the log.
const MaxWaiverReason = 1000

// Errors of a waiver a caller acts on.
var (
	// ErrNotWaivable: the request is not a recovery under its notice
	// period, or is invalid for another reason too.
	ErrNotWaivable = errors.New("not a recovery under its notice period")
	// ErrWaiverThreshold: fewer holders than the role's threshold.
	ErrWaiverThreshold = errors.New("a waiver needs a threshold of the delegating role's holders")
	// ErrWaiverReason: the reason is empty or too long.
	ErrWaiverReason = errors.New("a waiver needs a typed reason")
	// ErrWaiverStatement: the statement names another ceremony, request,
	// change, role or version than the one it would waive.
	ErrWaiverStatement = errors.New("the waiver statement is not about this request in this ceremony")
)

// WaiverStatement is what each holder signs, as the canonical JSON
// WaiverStatement.Payload, in a DSSE envelope of type
// envelope.TypeRecoveryWaiver.
type WaiverStatement struct {
	// Ceremony is the ceremony's id (the log's first line): a waiver is
	// good in one ceremony only.
	Ceremony  string `json:"ceremony"`
	RequestID string `json:"request_id"`
	Project   string `json:"project"`
	// ChangeDigest is request.Request.ChangeDigest: the change waived,
	// whatever the request's id.
	ChangeDigest string `json:"change_digest"`
	// Role is the role that delegates the project, and RoleVersion the
	// version of its trusted metadata: the state the holders saw.
	Role        string `json:"role"`
	RoleVersion int64  `json:"role_version"`
	Reason      string `json:"reason"`
}

// Payload is the statement's canonical JSON:
//
//	{"ceremony":…,"change_digest":…,"format":"conclave-recovery-waiver/1",
//	 "project":…,"reason":…,"request_id":…,"role":…,"role_version":n}
func (w WaiverStatement) Payload() []byte {
	return cjson.ObjectValue(
		cjson.Member{Name: "ceremony", Value: cjson.StringValue(w.Ceremony)},
		cjson.Member{Name: "change_digest", Value: cjson.StringValue(w.ChangeDigest)},
		cjson.Member{Name: "format", Value: cjson.StringValue(WaiverFormat)},
		cjson.Member{Name: "project", Value: cjson.StringValue(w.Project)},
		cjson.Member{Name: "reason", Value: cjson.StringValue(w.Reason)},
		cjson.Member{Name: "request_id", Value: cjson.StringValue(w.RequestID)},
		cjson.Member{Name: "role", Value: cjson.StringValue(w.Role)},
		cjson.Member{Name: "role_version", Value: cjson.IntValue(w.RoleVersion)},
	).Canonical()
}

// Waived records a waiver of one recovery's notice period: the statement
// and each holder's signature over its envelope (envelope.PAE of
// envelope.TypeRecoveryWaiver and WaiverStatement.Payload).
type Waived struct {
	Statement  WaiverStatement   `json:"statement"`
	Signatures []WaiverSignature `json:"signatures"`
}

// WaiverSignature is one holder's signature on a waiver. Like Signed, it
// never holds a PIN.
type WaiverSignature struct {
	Holder         string `json:"holder"`
	KeyID          string `json:"keyid"`
	Token          string `json:"token"`
	PINTriesBefore int    `json:"pin_tries_before"`
	PINTriesAfter  int    `json:"pin_tries_after"`
	// Signature is lowercase hex.
	Signature string `json:"signature"`
}

func (*Waived) eventType() string { return TypeWaived }

// Waived reports whether the notice period of requestID is waived.
func (s *Session) Waived(requestID string) bool {
	if s.imp == nil {
		return false
	}
	_, ok := s.imp.waivers[requestID]
	return ok
}

// WaiveNotice waives the notice period of the recovery requestID: each of
// the holders named signs the waiver statement on their token, and once
// every signature is made and verified, one waived event records them
// all. The request is then judged again as one whose period has run, with
// a finding that says who waived it and why. Everything that does not
// need a token (the request, the reason, that the holders present hold
// keys of the role and are a threshold of it) is checked before any token
// is asked for; a token error records nothing.
//
// A waiver comes after the import and before any decision: it can change
// what other requests are judged (a key the waived request proposes is
// then shared by a valid request).
func (s *Session) WaiveNotice(ctx context.Context, requestID, reason string, holders []string) error {
	if err := s.need("waive a notice period", StateReview); err != nil {
		return err
	}
	st, err := s.newWaiverStatement(requestID, reason)
	if err != nil {
		return fmt.Errorf("waive the notice period of request %q: %w", requestID, err)
	}
	t, err := s.checkWaiver(st)
	if err != nil {
		return fmt.Errorf("waive the notice period of request %q: %w", requestID, err)
	}
	keys, err := s.waiverHolders(t, holders)
	if err != nil {
		return fmt.Errorf("waive the notice period of request %q: %w", requestID, err)
	}
	msg := envelope.PAE(envelope.TypeRecoveryWaiver, st.Payload())
	ev := &Waived{Statement: st, Signatures: make([]WaiverSignature, 0, len(holders))}
	for i, name := range holders {
		h, _ := s.holder(name)
		signer, err := s.d.Tokens.Signer(ctx, *h, keys[i])
		if err != nil {
			return fmt.Errorf("waive the notice period of request %q as %s: %w", requestID, name, err)
		}
		before := signer.PINTriesLeft()
		// Verified once, by the step, before the line is appended.
		sig, err := tuf.SignMessageUnverified(signer, t.keys[keys[i].KeyID], msg)
		if err != nil {
			return fmt.Errorf("waive the notice period of request %q as %s with %s: %w", requestID, name, signer.Describe(), err)
		}
		ev.Signatures = append(ev.Signatures, WaiverSignature{
			Holder:         h.Name,
			KeyID:          keys[i].KeyID,
			Token:          signer.Describe(),
			PINTriesBefore: before,
			PINTriesAfter:  signer.PINTriesLeft(),
			Signature:      hex.EncodeToString(sig),
		})
	}
	if err := s.commit(ev); err != nil {
		return fmt.Errorf("waive the notice period of request %q: %w", requestID, err)
	}
	return nil
}

// newWaiverStatement is the statement the holders sign to waive the
// notice period of requestID, for a request the bundle holds.
func (s *Session) newWaiverStatement(requestID, reason string) (WaiverStatement, error) {
	i, ok := s.imp.byID[requestID]
	if !ok || i < 0 || s.imp.bundle.Items[i].Request == nil {
		return WaiverStatement{}, fmt.Errorf("%w: the bundle holds no readable request %q, or holds it twice", ErrNotWaivable, requestID)
	}
	r := s.imp.bundle.Items[i].Request
	role := s.d.Vault.Policy.ShardFor(r.Name)
	st := WaiverStatement{
		Ceremony:     s.d.Log.CeremonyID(),
		RequestID:    requestID,
		Project:      r.Name,
		ChangeDigest: r.ChangeDigest(),
		Role:         role,
		Reason:       strings.TrimSpace(reason),
	}
	if f := s.d.Vault.Delegators[role]; f != nil {
		st.RoleVersion = f.Version()
	}
	return st, nil
}

// waiverTarget is what a waiver statement was checked against: the
// request's verdict index and the delegation of the role whose holders
// waive.
type waiverTarget struct {
	index int
	*payload
}

// checkWaiver checks a statement against the ceremony: every check but
// the holders' and the signatures.
func (s *Session) checkWaiver(st WaiverStatement) (*waiverTarget, error) {
	if len(s.decisions) > 0 {
		return nil, errors.New("a waiver comes before any decision: it can change how other requests are judged")
	}
	i, ok := s.imp.byID[st.RequestID]
	if !ok || i < 0 || s.imp.bundle.Items[i].Request == nil {
		return nil, fmt.Errorf("%w: the bundle holds no readable request %q, or holds it twice", ErrNotWaivable, st.RequestID)
	}
	if _, done := s.imp.waivers[st.RequestID]; done {
		return nil, fmt.Errorf("%w: its notice period is already waived", ErrNotWaivable)
	}
	v := s.imp.verdicts[i]
	if v.Kind != string(request.Recover) || !v.Has(verdict.RecoverNotice) {
		return nil, fmt.Errorf("request %q (kind %s) is %w", st.RequestID, v.Kind, ErrNotWaivable)
	}
	var others []string
	for _, f := range v.Findings {
		if f.Severity == verdict.Error && f.Code != verdict.RecoverNotice {
			others = append(others, string(f.Code))
		}
	}
	if len(others) > 0 {
		return nil, fmt.Errorf("%w: request %q is also invalid for another reason (%s), which no waiver changes", ErrNotWaivable, st.RequestID, strings.Join(others, ", "))
	}
	r := s.imp.bundle.Items[i].Request
	role := s.d.Vault.Policy.ShardFor(r.Name)
	f := s.d.Vault.Delegators[role]
	switch {
	case st.Ceremony != s.d.Log.CeremonyID():
		return nil, fmt.Errorf("%w: it is for ceremony %q, this is %q", ErrWaiverStatement, st.Ceremony, s.d.Log.CeremonyID())
	case st.Project != r.Name || st.ChangeDigest != r.ChangeDigest():
		return nil, fmt.Errorf("%w: it waives change %s of project %q, request %q asks for change %s of project %q", ErrWaiverStatement, st.ChangeDigest, st.Project, st.RequestID, r.ChangeDigest(), r.Name)
	case f == nil:
		return nil, fmt.Errorf("the vault holds no metadata for %s, the role that delegates project %q", role, r.Name)
	case st.Role != role || st.RoleVersion != f.Version():
		return nil, fmt.Errorf("%w: it names %s version %d, project %q is delegated by %s version %d", ErrWaiverStatement, st.Role, st.RoleVersion, r.Name, role, f.Version())
	}
	switch n := utf8.RuneCountInString(st.Reason); {
	case n == 0 || strings.TrimSpace(st.Reason) != st.Reason:
		return nil, fmt.Errorf("%w: the reason is empty, or begins or ends with spaces", ErrWaiverReason)
	case !utf8.ValidString(st.Reason):
		return nil, fmt.Errorf("%w: the reason is not UTF-8 text", ErrWaiverReason)
	case n > MaxWaiverReason:
		return nil, fmt.Errorf("%w: the reason is %d characters long, at most %d are allowed", ErrWaiverReason, n, MaxWaiverReason)
	}
	p := &payload{Payload: &build.Payload{Role: role}}
	if err := s.delegationOf(p); err != nil {
		return nil, err
	}
	return &waiverTarget{index: i, payload: p}, nil
}

// waiverHolders checks the holders who waive: each present, a holder of
// the policy whose key the role's delegation lists, named once, and
// together a threshold of the role. It returns each one's key.
func (s *Session) waiverHolders(t *waiverTarget, names []string) ([]policy.HolderKey, error) {
	keys := make([]policy.HolderKey, len(names))
	for i, name := range names {
		if err := s.checkPresent(name); err != nil {
			return nil, err
		}
		h, ok := s.holder(name)
		if !ok {
			return nil, fmt.Errorf("%q: %w", name, ErrNotHolder)
		}
		k, ok := holderKeyFor(h, t.payload)
		if !ok || t.keys[k.KeyID] == nil {
			return nil, fmt.Errorf("%q holds no key of %s: %w", name, t.Role, ErrNotHolder)
		}
		if slices.Contains(names[:i], name) {
			return nil, fmt.Errorf("%q is named twice: a holder is one vote", name)
		}
		keys[i] = k
	}
	if int64(len(names)) < t.threshold {
		return nil, fmt.Errorf("%d of %s's holders waive it, its threshold is %d: %w", len(names), t.Role, t.threshold, ErrWaiverThreshold)
	}
	return keys, nil
}

func (s *Session) stepWaived(e *Waived) (func(), error) {
	if err := s.need("waive a notice period", StateReview); err != nil {
		return nil, err
	}
	t, err := s.checkWaiver(e.Statement)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(e.Signatures))
	for i, sig := range e.Signatures {
		names[i] = sig.Holder
	}
	keys, err := s.waiverHolders(t, names)
	if err != nil {
		return nil, err
	}
	msg := envelope.PAE(envelope.TypeRecoveryWaiver, e.Statement.Payload())
	for i, sig := range e.Signatures {
		if sig.KeyID != keys[i].KeyID {
			return nil, fmt.Errorf("the waiver names key %s for %s, whose key of %s is %s", sig.KeyID, sig.Holder, t.Role, keys[i].KeyID)
		}
		raw, err := hex.DecodeString(sig.Signature)
		if err != nil || hex.EncodeToString(raw) != sig.Signature {
			return nil, fmt.Errorf("the waiver signature by %s is not lowercase hex", sig.Holder)
		}
		if err := t.keys[sig.KeyID].Verify(msg, raw); err != nil {
			return nil, fmt.Errorf("the waiver signature by %s (key %s) does not verify: %w", sig.Holder, sig.KeyID, err)
		}
	}
	holders := slices.Clone(names)
	slices.Sort(holders)
	waivers := maps.Clone(s.imp.waivers)
	if waivers == nil {
		waivers = map[string]validate.Waiver{}
	}
	waivers[e.Statement.RequestID] = validate.Waiver{
		ChangeDigest: e.Statement.ChangeDigest,
		Role:         t.Role,
		Threshold:    t.threshold,
		Holders:      holders,
		Reason:       e.Statement.Reason,
	}
	_, delegators, err := ImportTrust(s.d.Vault)
	if err != nil {
		return nil, err
	}
	imp := s.judge(s.imp.blob, s.imp.bundle, s.imp.manifest, s.imp.files, delegators, waivers)
	if v := imp.verdicts[t.index]; v.Class == verdict.Invalid {
		// The checks above make this impossible: a request invalid only
		// by its notice period is valid once the period is waived.
		return nil, fmt.Errorf("request %q is still invalid with its notice period waived: %v", e.Statement.RequestID, v.Codes())
	}
	return func() { s.imp = imp }, nil
}
