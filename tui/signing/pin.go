package signing

import (
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// PIN lengths: a PIV PIN is 6 to 8 characters (NIST SP 800-73-4 part 2,
// §3.2.1 VERIFY: the PIN is padded to 8 bytes, and YubiKeys refuse fewer
// than 6). Other tokens say their own limits when they refuse a PIN; the
// field only refuses an empty one and one longer than pinCap.
const (
	pivMinPIN = 6
	pivMaxPIN = 8
	// pinCap is the most the field holds. The buffer is allocated once at
	// this size so it is never copied by growing, and wiping it wipes
	// every byte typed. A YubiKey's OTP (44 characters) fits, so that a
	// touch is recognised whole.
	pinCap = 128
)

// otpMinLen and otpBurst recognise a YubiKey's OTP: a touch on a YubiKey
// with its OTP application enabled types a one-time password as a USB
// keyboard — 44 modhex characters (32 of the OTP and up to 16 of the
// public id, https://developers.yubico.com/OTP/OTPs_Explained.html), far
// faster than a person types — then Enter.
const (
	otpMinLen = 32
	// otpBurst: this many keys in a row, each within otpGap of the one
	// before, is a device typing and not a person.
	otpBurst = 12
	otpGap   = 15 * time.Millisecond
)

// modhex is the alphabet of YubiKey OTPs.
const modhex = "cbdefghijklnrtuv"

// pinField is the PIN entry. It echoes nothing and shows the same thing
// for every length but zero, so the room cannot count the characters.
type pinField struct {
	buf []byte
	// min and max are the lengths the field sends; outside them it says
	// why and sends nothing (no try is spent).
	min, max int
	// times are when the keys in buf arrived, for a device's burst.
	times []time.Time
	// notice is the sentence shown under the field after a refusal.
	notice string
}

func newPINField(min, max int) pinField {
	return pinField{buf: make([]byte, 0, pinCap), min: min, max: max}
}

// pinResult is what a key press did to the field.
type pinResult int

const (
	pinTyping pinResult = iota
	pinSubmit           // Enter with an acceptable PIN: take it with take
	pinCancel           // Esc: the holder gave up
)

// Sentences the field shows. They never say how many characters were typed.
const (
	noticePaste  = "Pasting is refused here: type the PIN on the keyboard. Nothing was kept."
	noticeOTP    = "That was a YubiKey touch typing a one-time password, not a PIN: it was thrown away and no try was spent. Type the PIN, then press Enter."
	noticeLength = "A YubiKey PIN has 6 to 8 characters: that was not sent and no try was spent. Type it again."
	noticeEmpty  = "Type the PIN, then press Enter."
)

// key handles one key press at time now.
func (f *pinField) key(k tea.KeyPressMsg, now time.Time) pinResult {
	switch k.Code {
	case tea.KeyEnter:
		if f.otp() {
			f.wipe()
			f.notice = noticeOTP
			return pinTyping
		}
		n := utf8.RuneCount(f.buf)
		switch {
		case n == 0:
			f.notice = noticeEmpty
			return pinTyping
		case n < f.min || n > f.max:
			f.wipe()
			f.notice = f.lengthNotice()
			return pinTyping
		}
		return pinSubmit
	case tea.KeyEscape:
		f.wipe()
		return pinCancel
	case tea.KeyBackspace:
		if len(f.buf) > 0 {
			_, size := utf8.DecodeLastRune(f.buf)
			clear(f.buf[len(f.buf)-size:])
			f.buf = f.buf[:len(f.buf)-size]
			f.times = f.times[:len(f.times)-1]
		}
		return pinTyping
	}
	if k.Mod&(tea.ModCtrl|tea.ModAlt) != 0 {
		if k.Mod == tea.ModCtrl && k.Code == 'u' {
			f.wipe()
		}
		return pinTyping
	}
	if k.Text == "" || len(f.buf)+len(k.Text) > pinCap {
		return pinTyping
	}
	f.buf = append(f.buf, k.Text...)
	for range utf8.RuneCountInString(k.Text) {
		f.times = append(f.times, now)
	}
	f.notice = ""
	return pinTyping
}

func (f *pinField) lengthNotice() string {
	if f.min == pivMinPIN && f.max == pivMaxPIN {
		return noticeLength
	}
	return "That PIN is longer than any token takes: it was not sent and no try was spent. Type it again."
}

// paste refuses a bracketed paste (tea.PasteMsg and its start and end):
// a PIN comes from the holder's memory, not from a clipboard another
// program could read or fill.
func (f *pinField) paste() {
	f.notice = noticePaste
}

// otp reports whether the field holds what a YubiKey's OTP touch types:
// modhex only and as long as an OTP, or typed as a device types.
func (f *pinField) otp() bool {
	if len(f.buf) >= otpMinLen && allModhex(f.buf) {
		return true
	}
	run := 1
	for i := 1; i < len(f.times); i++ {
		if f.times[i].Sub(f.times[i-1]) < otpGap {
			run++
			if run >= otpBurst {
				return true
			}
		} else {
			run = 1
		}
	}
	return false
}

func allModhex(b []byte) bool {
	for _, c := range b {
		ok := false
		for i := 0; i < len(modhex); i++ {
			if modhex[i] == c {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// take returns a copy of the PIN for the token and wipes the field. The
// copy is the backend's: hsm.Prompts says it is used once and zeroed.
func (f *pinField) take() []byte {
	pin := make([]byte, len(f.buf))
	copy(pin, f.buf)
	f.wipe()
	return pin
}

// wipe zeroes every byte the field held.
func (f *pinField) wipe() {
	clear(f.buf[:cap(f.buf)])
	f.buf = f.buf[:0]
	f.times = f.times[:0]
}

// empty reports whether nothing is typed.
func (f *pinField) empty() bool { return len(f.buf) == 0 }
