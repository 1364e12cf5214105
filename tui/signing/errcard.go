package signing

import (
	"context"
	"errors"
	"fmt"

	"github.com/conclave-keys/conclave/ceremony/policy"
	"github.com/conclave-keys/conclave/hsm"
	"github.com/conclave-keys/conclave/hsm/holders"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// cardKind is the kind of trouble a signing ran into. Each is shown as a
// card with one next action; the ceremony goes on (the session records
// nothing for a signature that was not made).
type cardKind int

const (
	cardOther cardKind = iota
	cardWrongPIN
	cardLocked
	cardWrongToken
	cardPulled
	cardTouch
	cardBusy
	cardCancelled
)

// errCard is what the room is shown after a signing failed.
type errCard struct {
	kind  cardKind
	title string
	// lines say what happened, in words.
	lines []string
	// next is the one thing to do.
	next string
	// details is the raw error, for the record and for a technician.
	details string
}

// newErrCard reads a signing's error. h is the holder who tried; found
// are the tokens present, to name what is in the reader when the wrong
// one is.
func newErrCard(err error, h policy.Holder, present []Present) errCard {
	c := errCard{details: termtext.Safe(err.Error())}
	h.Name = termtext.Safe(h.Name) // the card's sentences are shown as they are
	var pinErr *hsm.PINError
	var wrongKey *holders.WrongKeyError
	switch {
	case errors.Is(err, hsm.ErrPINLocked):
		c.kind, c.title = cardLocked, "PIN locked"
		c.lines = []string{fmt.Sprintf("The PIN of %s's token is locked: it accepts no more tries.", h.Name)}
		c.next = "Set this token aside; another holder signs (unblocking is done outside the ceremony)."
	case errors.As(err, &pinErr):
		c.kind, c.title = cardWrongPIN, "Wrong PIN"
		c.lines = []string{fmt.Sprintf("The token of %s refused the PIN.", h.Name), triesSentence(pinErr.RetriesLeft, pinErr.CountLow, pinErr.FinalTry)}
		c.next = "Press Enter to try again."
	case errors.As(err, &wrongKey):
		c.kind, c.title = cardWrongToken, "Wrong token"
		c.lines = []string{
			fmt.Sprintf("This token is not the one %s enrolled. No PIN was asked and no try was spent.", h.Name),
			"expected key " + termtext.ShortHex(wrongKey.Want),
			"found key    " + termtext.ShortHex(wrongKey.Found) + " on " + termtext.Safe(wrongKey.Token),
		}
		c.next = fmt.Sprintf("Take this token out, put in the token of %s, then press Enter.", h.Name)
	case errors.Is(err, hsm.ErrWrongToken):
		c.kind, c.title = cardWrongToken, "Wrong token"
		c.lines = append([]string{fmt.Sprintf("This token is not the one %s enrolled. No PIN was asked and no try was spent.", h.Name)},
			fingerprints(h, present)...)
		c.next = fmt.Sprintf("%s, then press Enter.", insertPrompt(h))
	case errors.Is(err, hsm.ErrTokenRemoved):
		c.kind, c.title = cardPulled, "Token pulled out"
		c.lines = []string{fmt.Sprintf("The token of %s went away before the signature was made. Nothing was signed or recorded.", h.Name)}
		c.next = "Put it back in, then press Enter: it is checked again from the start."
	case isTouchTimeout(err):
		c.kind, c.title = cardTouch, "No touch"
		c.lines = []string{fmt.Sprintf("The token of %s waited for a touch and none came. Nothing was signed.", h.Name)}
		c.next = "Press Enter, then touch the token when the banner says so."
	case isCardBusy(err):
		c.kind, c.title = cardBusy, "Token in use"
		c.lines = []string{"Another program on this machine holds the token (gpg's scdaemon, ykman, a browser)."}
		c.next = "Close that program, then press Enter."
	case errors.Is(err, hsm.ErrCancelled), errors.Is(err, context.Canceled):
		c.kind, c.title = cardCancelled, "Cancelled"
		c.lines = []string{fmt.Sprintf("%s cancelled. Nothing was signed.", h.Name)}
		c.next = "Press Enter to try again, or Esc to choose another holder."
	default:
		c.kind, c.title = cardOther, "Signing failed"
		c.lines = []string{fmt.Sprintf("The signature of %s was not made. Nothing was recorded.", h.Name)}
		c.next = "Read the details, fix what they say, then press Enter to try again."
	}
	return c
}

// fingerprints names the key the holder enrolled and the keys of the
// YubiKeys that are in instead.
func fingerprints(h policy.Holder, present []Present) []string {
	var out []string
	for _, k := range h.Keys {
		if k.Token != policy.TokenYubiKey {
			continue
		}
		out = append(out, fmt.Sprintf("expected key %s (YubiKey %d, slot %s)", termtext.ShortHex(k.KeyID), k.Serial, k.Slot))
		for _, p := range present {
			if p.Kind != policy.TokenYubiKey {
				continue
			}
			id, ok := p.KeyIDs[k.Slot]
			switch {
			case p.KeyIDs == nil:
				out = append(out, fmt.Sprintf("found        YubiKey %s (its keys could not be read)", termtext.Safe(p.Serial)))
			case !ok:
				out = append(out, fmt.Sprintf("found        YubiKey %s, slot %s empty", termtext.Safe(p.Serial), k.Slot))
			case id != k.KeyID:
				out = append(out, fmt.Sprintf("found key    %s (YubiKey %s, slot %s)", termtext.ShortHex(id), termtext.Safe(p.Serial), k.Slot))
			}
		}
	}
	return out
}

// triesSentence says what a token reports about the PIN tries left.
func triesSentence(left int, countLow, finalTry bool) string {
	switch {
	case left == 1 || (left < 0 && finalTry):
		return "ONE try is left: a wrong PIN now locks the token."
	case left > 1:
		return fmt.Sprintf("%d tries are left before the token locks.", left)
	case countLow:
		return "The token says few tries are left."
	case left < 0:
		return "The token does not say how many tries are left."
	}
	return "No try is left."
}
