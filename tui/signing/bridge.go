package signing

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/conclave-keys/conclave/hsm"
)

// Bridge carries a token's prompts into the program. A backend calls
// hsm.Prompts from the goroutine that signs (a tea.Cmd); the callback
// hands the request to the program's event loop as a message and waits
// for the answer the holder gives there, so that Update never blocks and
// the PIN is typed into the program's own field, never a terminal read of
// its own.
//
// Pass Bridge.Prompts as holders.Options.Prompts, and the same Bridge to
// New.
type Bridge struct {
	asks    chan *ask
	touches chan touchMsg
}

// NewBridge returns a bridge with nobody waiting on it.
func NewBridge() *Bridge {
	return &Bridge{asks: make(chan *ask), touches: make(chan touchMsg)}
}

// ask is a PIN or a confirmation the token waits for.
type ask struct {
	holder   string
	pin      *hsm.PINRequest // nil for a confirmation
	question string
	// answer is buffered: the program never blocks sending it.
	answer chan answer
}

type answer struct {
	pin []byte
	yes bool
	err error
}

// Prompts returns one holder's callbacks.
func (b *Bridge) Prompts(holder string) hsm.Prompts {
	return hsm.Prompts{
		PIN: func(ctx context.Context, req hsm.PINRequest) ([]byte, error) {
			a, err := b.wait(ctx, &ask{holder: holder, pin: &req, answer: make(chan answer, 1)})
			return a.pin, err
		},
		Confirm: func(ctx context.Context, question string) (bool, error) {
			a, err := b.wait(ctx, &ask{holder: holder, question: question, answer: make(chan answer, 1)})
			return a.yes, err
		},
		Touch: func(token string, done <-chan struct{}) {
			select {
			case b.touches <- touchMsg{token: token, done: done}:
			case <-done:
			}
		},
	}
}

// wait hands an ask to the program and waits for its answer.
func (b *Bridge) wait(ctx context.Context, q *ask) (answer, error) {
	select {
	case b.asks <- q:
	case <-ctx.Done():
		return answer{}, ctx.Err()
	}
	select {
	case a := <-q.answer:
		return a, a.err
	case <-ctx.Done():
		// An answer given as the wait ended is nobody's: wipe it.
		select {
		case a := <-q.answer:
			clear(a.pin)
		default:
		}
		return answer{}, ctx.Err()
	}
}

// askMsg is a PIN or confirmation request arriving in the program.
type askMsg struct{ q *ask }

// touchMsg says the token waits for a touch; done is closed when it no
// longer does.
type touchMsg struct {
	token string
	done  <-chan struct{}
}

// touchDoneMsg says the wait for a touch is over.
type touchDoneMsg struct{ done <-chan struct{} }

// listen returns the next prompt of a signing that runs until over is
// closed; after over it returns nil (no message).
func (b *Bridge) listen(over <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		select {
		case q := <-b.asks:
			return askMsg{q}
		case t := <-b.touches:
			return t
		case <-over:
			return nil
		}
	}
}

// waitTouch returns when the token's touch wait is over.
func waitTouch(done <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		<-done
		return touchDoneMsg{done}
	}
}
