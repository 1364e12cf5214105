//go:build cgo

package pkcs11

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"
)

// ModulePolicy says which PKCS#11 modules may be loaded for signing and key
// generation: the modules of the allow-list ([ReadAllowList]). A zero
// policy allows nothing.
type ModulePolicy struct {
	Allowed []AllowedModule
	// Rehearsal allows SoftHSM, which keeps its keys in files and so
	// protects nothing: fine for training, never for a real ceremony.
	Rehearsal bool
}

// ErrModuleNotAllowed is wrapped by every refusal of a module by the policy.
var ErrModuleNotAllowed = errors.New("this PKCS#11 module is not on the allow-list")

// ModuleError is a module refused by the policy. It carries the file's hash
// so that an officer can compare it with the vendor's and add it to the
// allow-list if it is right.
type ModuleError struct {
	Path   string
	SHA256 string
	Reason string
}

func (e *ModuleError) Error() string {
	return fmt.Sprintf("PKCS#11 module %s (sha256 %s) is not allowed for a ceremony: %s", e.Path, e.SHA256, e.Reason)
}

// Is makes errors.Is(err, ErrModuleNotAllowed) hold.
func (e *ModuleError) Is(target error) bool { return target == ErrModuleNotAllowed }

// softHSMManufacturer is what SoftHSMv2 puts in CK_INFO.manufacturerID.
const softHSMManufacturer = "SoftHSM"

// check decides whether a module file, by resolved path and hash, is allowed.
func (p ModulePolicy) check(resolved, sum string) error {
	var pathMatched []string
	for _, a := range p.Allowed {
		ap, err := filepath.EvalSymlinks(a.Path)
		if err != nil {
			ap = filepath.Clean(a.Path)
		}
		if ap != resolved {
			continue
		}
		if strings.EqualFold(a.SHA256, sum) {
			return nil
		}
		pathMatched = append(pathMatched, strings.ToLower(a.SHA256))
	}
	if len(pathMatched) > 0 {
		return &ModuleError{Path: resolved, SHA256: sum, Reason: "the allow-list allows this path only with sha256 " + strings.Join(pathMatched, " or ") + ": the library has changed"}
	}
	if len(p.Allowed) == 0 {
		return &ModuleError{Path: resolved, SHA256: sum, Reason: "the allow-list allows no PKCS#11 module"}
	}
	var names []string
	for _, a := range p.Allowed {
		names = append(names, a.Path)
	}
	return &ModuleError{Path: resolved, SHA256: sum, Reason: "the allow-list allows only " + strings.Join(names, ", ")}
}

// shared is one loaded and initialised library. PKCS#11 allows one
// C_Initialize per process (a second returns
// CKR_CRYPTOKI_ALREADY_INITIALIZED, v2.40 §5.4), so every Module and Token
// on the same file shares it; the last Close finalises and unloads it.
type shared struct {
	key    string // resolved path
	sha256 string // hash of the file that was loaded
	ctx    *pkcs11.Ctx
	info   pkcs11.Info
	refs   int
}

var registry = struct {
	sync.Mutex
	m map[string]*shared
}{m: map[string]*shared{}}

// Module is one reference to a loaded PKCS#11 library. Close it when done;
// tokens opened from it hold their own reference.
type Module struct {
	sh      *shared
	api     api
	allowed error // nil when the policy allows signing with it
	once    sync.Once
}

// HashModule resolves a module path and returns the resolved path and the
// SHA-256 of the file, without loading it.
func HashModule(path string) (resolved, sum string, err error) {
	f, resolved, sum, err := openAndHash(path)
	if err != nil {
		return "", "", err
	}
	f.Close()
	return resolved, sum, nil
}

func openAndHash(path string) (*os.File, string, string, error) {
	if !filepath.IsAbs(path) {
		return nil, "", "", fmt.Errorf("PKCS#11 module path %q must be absolute, so that the library loaded is the one named", path)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, "", "", fmt.Errorf("finding PKCS#11 module: %w", err)
	}
	f, err := os.Open(resolved)
	if err != nil {
		return nil, "", "", fmt.Errorf("opening PKCS#11 module: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return nil, "", "", fmt.Errorf("reading PKCS#11 module %s: %w", resolved, err)
	}
	return f, resolved, hex.EncodeToString(h.Sum(nil)), nil
}

// Load loads a PKCS#11 module the policy allows, initialising it if this
// process has not yet. The file is hashed before anything in it runs (loading
// a library runs its code), and the library is then loaded from the very file
// descriptor that was hashed, so the file cannot be swapped in between.
func Load(path string, policy ModulePolicy) (*Module, error) {
	return load(path, &policy)
}

// LoadUnchecked loads a module whatever the policy says, for listing only
// (conclave tokens --module). Its tokens can be listed but refuse to sign or
// generate keys. Loading a library runs its code: use it only on modules you
// would run anyway.
func LoadUnchecked(path string) (*Module, error) {
	return load(path, nil)
}

func load(path string, policy *ModulePolicy) (*Module, error) {
	registry.Lock()
	defer registry.Unlock()
	resolved, err := filepath.EvalSymlinks(path)
	if err == nil {
		if s, ok := registry.m[resolved]; ok {
			// Already loaded: judge the bytes that were loaded, not
			// whatever the file holds now.
			m := &Module{sh: s, api: s.ctx}
			if m.allowed = judge(policy, s); m.allowed != nil && policy != nil {
				return nil, m.allowed
			}
			s.refs++
			return m, nil
		}
	}
	f, resolved, sum, err := openAndHash(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if policy != nil {
		if err := policy.check(resolved, sum); err != nil {
			return nil, err
		}
	}
	// /proc/self/fd/N names the open file we hashed (Linux; Conclave
	// runs on Linux).
	ctx := pkcs11.New(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if ctx == nil {
		return nil, fmt.Errorf("loading PKCS#11 module %s: not a PKCS#11 library (no C_GetFunctionList) or not loadable", resolved)
	}
	if err := ctx.Initialize(); err != nil {
		ctx.Destroy()
		return nil, fmt.Errorf("initialising PKCS#11 module %s: %w", resolved, err)
	}
	info, err := ctx.GetInfo()
	if err != nil {
		ctx.Finalize()
		ctx.Destroy()
		return nil, fmt.Errorf("reading PKCS#11 module %s information: %w", resolved, err)
	}
	s := &shared{key: resolved, sha256: sum, ctx: ctx, info: info, refs: 1}
	m := &Module{sh: s, api: ctx}
	if m.allowed = judge(policy, s); m.allowed != nil && policy != nil {
		ctx.Finalize()
		ctx.Destroy()
		return nil, m.allowed
	}
	registry.m[resolved] = s
	return m, nil
}

// judge applies the policy to a loaded module; a nil policy means "loaded
// for listing": the result is the reason it may not sign.
func judge(policy *ModulePolicy, s *shared) error {
	if policy == nil {
		return &ModuleError{Path: s.key, SHA256: s.sha256, Reason: "it was loaded for listing only (it is not checked against a policy)"}
	}
	if err := policy.check(s.key, s.sha256); err != nil {
		return err
	}
	if s.info.ManufacturerID == softHSMManufacturer && !policy.Rehearsal {
		return &ModuleError{Path: s.key, SHA256: s.sha256, Reason: "SoftHSM keeps its keys in files on disk and is allowed only in a rehearsal"}
	}
	return nil
}

// Close releases this reference; the last one finalises the library
// (C_Finalize) and unloads it. Close is safe to call more than once.
func (m *Module) Close() error {
	var err error
	m.once.Do(func() {
		registry.Lock()
		defer registry.Unlock()
		m.sh.refs--
		if m.sh.refs > 0 {
			return
		}
		delete(registry.m, m.sh.key)
		if e := m.sh.ctx.Finalize(); e != nil {
			err = fmt.Errorf("finalising PKCS#11 module %s: %w", m.sh.key, e)
		}
		m.sh.ctx.Destroy()
	})
	return err
}

// ref takes another reference to the same module, for a token.
func (m *Module) ref() *Module {
	registry.Lock()
	defer registry.Unlock()
	m.sh.refs++
	return &Module{sh: m.sh, api: m.api, allowed: m.allowed}
}

// Path is the module's resolved path.
func (m *Module) Path() string { return m.sh.key }

// SHA256 is the hash of the library file that was loaded.
func (m *Module) SHA256() string { return m.sh.sha256 }

// Allowed returns nil if the policy allows signing with this module, or the
// reason it does not (a *ModuleError).
func (m *Module) Allowed() error { return m.allowed }

// IsSoftHSM reports whether the module is SoftHSM (keys in files).
func (m *Module) IsSoftHSM() bool { return m.sh.info.ManufacturerID == softHSMManufacturer }

// Description is the library's own description, e.g.
// "SoftHSM: Implementation of PKCS11 2.6 (Cryptoki 2.40)".
func (m *Module) Description() string {
	i := m.sh.info
	return fmt.Sprintf("%s: %s %d.%d (Cryptoki %d.%d)", i.ManufacturerID, i.LibraryDescription,
		i.LibraryVersion.Major, i.LibraryVersion.Minor, i.CryptokiVersion.Major, i.CryptokiVersion.Minor)
}

// TokenStatus is what a token says about itself (CK_TOKEN_INFO, v2.40 §3.2).
type TokenStatus struct {
	Label, Manufacturer, Model, Serial string
	Flags                              uint
}

// Flag accessors, PKCS#11 v2.40 Table 9.
func (s TokenStatus) has(f uint) bool      { return s.Flags&f != 0 }
func (s TokenStatus) LoginRequired() bool  { return s.has(pkcs11.CKF_LOGIN_REQUIRED) }
func (s TokenStatus) PINInitialized() bool { return s.has(pkcs11.CKF_USER_PIN_INITIALIZED) }
func (s TokenStatus) PINPad() bool         { return s.has(pkcs11.CKF_PROTECTED_AUTHENTICATION_PATH) }
func (s TokenStatus) CountLow() bool       { return s.has(pkcs11.CKF_USER_PIN_COUNT_LOW) }
func (s TokenStatus) FinalTry() bool       { return s.has(pkcs11.CKF_USER_PIN_FINAL_TRY) }
func (s TokenStatus) Locked() bool         { return s.has(pkcs11.CKF_USER_PIN_LOCKED) }
func (s TokenStatus) Initialized() bool    { return s.has(pkcs11.CKF_TOKEN_INITIALIZED) }

// PINState says in words what the token flags say about the user PIN.
func (s TokenStatus) PINState() string {
	var parts []string
	switch {
	case !s.Initialized():
		return "token not initialised"
	case !s.PINInitialized():
		return "user PIN not set"
	case s.Locked():
		parts = append(parts, "PIN LOCKED")
	case s.FinalTry():
		parts = append(parts, "PIN on its FINAL try")
	case s.CountLow():
		parts = append(parts, "PIN: a wrong PIN was entered, tries may be low")
	default:
		parts = append(parts, "PIN ok")
	}
	if s.has(pkcs11.CKF_USER_PIN_TO_BE_CHANGED) {
		parts = append(parts, "PIN must be changed")
	}
	if s.PINPad() {
		parts = append(parts, "PIN pad")
	}
	if !s.LoginRequired() {
		parts = append(parts, "no login required")
	}
	return strings.Join(parts, ", ")
}

func statusOf(ti pkcs11.TokenInfo) TokenStatus {
	return TokenStatus{Label: ti.Label, Manufacturer: ti.ManufacturerID, Model: ti.Model, Serial: ti.SerialNumber, Flags: ti.Flags}
}

// describe names a token for the people in the room.
func (s TokenStatus) describe() string {
	return fmt.Sprintf("PKCS#11 token %q (%s %s, serial %s)", s.Label, s.Manufacturer, s.Model, s.Serial)
}

// Slot is one slot of a module and the token in it, if any.
type Slot struct {
	ID           uint
	Description  string
	Manufacturer string
	// Token is nil when the slot is empty.
	Token *TokenStatus
}

// Slots lists the module's slots and their tokens.
func (m *Module) Slots(ctx context.Context) ([]Slot, error) {
	ids, err := m.api.GetSlotList(false)
	if err != nil {
		return nil, fmt.Errorf("listing the slots of %s: %w", m.Path(), err)
	}
	var out []Slot
	for _, id := range ids {
		si, err := m.api.GetSlotInfo(id)
		if err != nil {
			return nil, fmt.Errorf("reading slot %d of %s: %w", id, m.Path(), err)
		}
		s := Slot{ID: id, Description: si.SlotDescription, Manufacturer: si.ManufacturerID}
		if si.Flags&pkcs11.CKF_TOKEN_PRESENT != 0 {
			ti, err := m.api.GetTokenInfo(id)
			if err != nil {
				return nil, fmt.Errorf("reading the token in slot %d of %s: %w", id, m.Path(), err)
			}
			st := statusOf(ti)
			s.Token = &st
		}
		out = append(out, s)
	}
	return out, nil
}
