//go:build cgo

package yubikey_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pivgo "github.com/go-piv/piv-go/v2/piv"

	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/yubikey"
	"github.com/conclave-keys/conclave/hsm/yubikey/pcscdtest"
	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

// Four virtual readers: enough for two cards at once while the other two
// readers settle after a removal.
const nReaders = 4

var (
	daemon *pcscdtest.Daemon
	skip   string
	ca     *vcard.CA
	// next is the next reader to use; readers are used in turn so that a
	// reader pcscd is still polling after a removal is not reused at once.
	next atomic.Int32
)

func TestMain(m *testing.M) {
	if os.Getenv("CONCLAVE_TEST_NO_PCSCD_CHILD") == "1" || os.Getenv(realChildEnv) == "1" {
		// Children of TestNoPCSCD (no pcscd on purpose) and of the real
		// YubiKey tests (the machine's own pcscd).
		os.Exit(m.Run())
	}
	var err error
	if ca, err = vcard.NewCA(); err != nil {
		panic(err)
	}
	os.Exit(pcscdtest.Main(m, nReaders, pivgo.Cards, &daemon, &skip))
}

const (
	testPIN = "246810"
	testPUK = "13572468"
)

func needPCSCD(t testing.TB) {
	t.Helper()
	if daemon == nil {
		t.Skip(skip)
	}
}

// slotCard is a virtual card in a reader.
type slotCard struct {
	*vcard.Card
	reader int
}

// waitPresent waits until pcscd sees (or no longer sees) a card in reader i.
func waitPresent(t testing.TB, i int, present bool) {
	t.Helper()
	if daemon == nil {
		return // stopped by TestPCSCDStopsMidSession
	}
	if err := daemon.WaitCard(i, present, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// insertCard makes a virtual card and inserts it into the next reader.
func insertCard(t testing.TB, cfg vcard.Config) *slotCard {
	t.Helper()
	needPCSCD(t)
	if cfg.CA == nil {
		cfg.CA = ca
	}
	c, err := vcard.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	i := int(next.Add(1)-1) % nReaders
	if err := c.Insert(daemon.Addr(i)); err != nil {
		t.Fatal(err)
	}
	waitPresent(t, i, true)
	t.Cleanup(func() {
		if c.Inserted() {
			c.Remove()
		}
		waitPresent(t, i, false)
	})
	return &slotCard{c, i}
}

// reinsert puts a pulled card back into its reader.
func (c *slotCard) reinsert(t testing.TB) {
	t.Helper()
	waitPresent(t, c.reader, false)
	if err := c.Insert(daemon.Addr(c.reader)); err != nil {
		t.Fatal(err)
	}
	waitPresent(t, c.reader, true)
}

// prompts records what the backend asked.
type prompts struct {
	mu       sync.Mutex
	pins     []string // answers, in order; the last repeats
	asked    []hsm.PINRequest
	confirm  bool
	confirms []string
	touches  int
}

func (p *prompts) hsm() hsm.Prompts {
	return hsm.Prompts{
		PIN: func(ctx context.Context, req hsm.PINRequest) ([]byte, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.asked = append(p.asked, req)
			if len(p.pins) == 0 {
				return nil, hsm.ErrCancelled
			}
			pin := p.pins[0]
			if len(p.pins) > 1 {
				p.pins = p.pins[1:]
			}
			return []byte(pin), nil
		},
		Confirm: func(ctx context.Context, q string) (bool, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.confirms = append(p.confirms, q)
			return p.confirm, nil
		},
		Touch: func(token string, done <-chan struct{}) {
			p.mu.Lock()
			p.touches++
			p.mu.Unlock()
			<-done
		},
	}
}

func (p *prompts) timesAsked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.asked)
}

func (p *prompts) lastAsked() hsm.PINRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked[len(p.asked)-1]
}

// open opens a card by serial with prompts answering pins.
func open(t testing.TB, serial uint32, p *prompts, mod ...func(*yubikey.Options)) *yubikey.Token {
	t.Helper()
	opts := yubikey.Options{Serial: serial, Prompts: p.hsm(), Roots: yubikey.NewRoots("test CA", ca.Cert)}
	for _, f := range mod {
		f(&opts)
	}
	tok, err := yubikey.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("opening %d: %v", serial, err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

// enrol takes a factory-fresh card through this package's enrolment: PIN, PUK,
// a fresh management key stored on the card, a key generated in slot.
func enrol(t testing.TB, serial uint32, opts hsm.GenerateOptions) hsm.KeyInfo {
	t.Helper()
	ctx := context.Background()
	p := &prompts{pins: []string{testPIN}}
	tok := open(t, serial, p)
	if err := tok.ChangePIN(ctx, []byte(pivgo.DefaultPIN), []byte(testPIN)); err != nil {
		t.Fatal(err)
	}
	if err := tok.ChangePUK(ctx, []byte(pivgo.DefaultPUK), []byte(testPUK)); err != nil {
		t.Fatal(err)
	}
	if err := tok.RotateManagementKey(ctx, pivgo.DefaultManagementKey, yubikey.StoreOnCard); err != nil {
		t.Fatal(err)
	}
	k, err := tok.GenerateKey(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	return k
}
