package uri

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	u, err := Parse("pkcs11:token=Ceremony%20One;object=root-1;id=%01%a0;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, want string }{
		{Token, "Ceremony One"}, {Object, "root-1"}, {ID, "\x01\xa0"}, {Type, "private"},
		{ModulePath, "/usr/lib/softhsm/libsofthsm2.so"},
	} {
		if got, ok := u.Get(c.name); !ok || got != c.want {
			t.Errorf("Get(%q) = %q, %v; want %q", c.name, got, ok, c.want)
		}
	}
	if _, ok := u.Get(Serial); ok {
		t.Error("serial present but not in the URI")
	}
	want := "pkcs11:token=Ceremony%20One;object=root-1;id=%01%A0;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so"
	if got := u.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !u.Matches(Serial, "anything") || !u.Matches(Object, "root-1") || u.Matches(Object, "root-2") {
		t.Error("Matches is wrong")
	}
}

func TestParseEmptyAndScheme(t *testing.T) {
	for _, s := range []string{"pkcs11:", "PKCS11:", "pkcs11:id="} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"pkcs12:token=a", `a PKCS#11 URI starts with "pkcs11:"`},
		{"pkcs11:token=a;token=b", `PKCS#11 URI attribute "token" appears twice`},
		{"pkcs11:token=a;;object=b", `PKCS#11 URI path has an empty attribute at position 2`},
		{"pkcs11:token=a;", `PKCS#11 URI path has an empty attribute at position 2`},
		{"pkcs11:token", `PKCS#11 URI path attribute at position 1 has no "="`},
		{"pkcs11:=a", `PKCS#11 URI path attribute at position 1 has no name`},
		{"pkcs11:x-vendor=1", `unknown PKCS#11 URI path attribute "x-vendor" (RFC 7512 §2.3 defines library-manufacturer, library-description, library-version, slot-manufacturer, slot-description, slot-id, token, manufacturer, model, serial, object, id, type)`},
		{"pkcs11:token=a b", `PKCS#11 URI attribute "token": character at byte 2 must be percent-encoded`},
		{"pkcs11:token=a/b", `PKCS#11 URI attribute "token": character at byte 2 must be percent-encoded`},
		{"pkcs11:id=%0", `PKCS#11 URI attribute "id": malformed percent-encoding at byte 1`},
		{"pkcs11:id=%zz", `PKCS#11 URI attribute "id": malformed percent-encoding at byte 1`},
		{"pkcs11:type=secret", `PKCS#11 URI type must be public, private, cert, secret-key or data`},
		{"pkcs11:slot-id=x1", `PKCS#11 URI slot-id must be a decimal number`},
		{"pkcs11:library-version=1.", `PKCS#11 URI library-version must be MAJOR or MAJOR.MINOR`},
		{"pkcs11:token=a?", `PKCS#11 URI has an empty query after "?"`},
		{"pkcs11:token=a?module-path=lib.so", `PKCS#11 URI module-path must be an absolute path`},
		{"pkcs11:token=a?module-name=/x/lib", `PKCS#11 URI module-name must be a bare library name, without a directory`},
		{"pkcs11:token=a?module-path=/a&module-path=/b", `PKCS#11 URI attribute "module-path" appears twice`},
		{"pkcs11:token=a?x-opt=1", `unknown PKCS#11 URI query attribute "x-opt" (Conclave accepts module-path and module-name)`},
	} {
		_, err := Parse(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q) = %v\nwant %s", c.in, err, c.want)
		}
	}
}

// TestPINRefused: a PIN in a URI is refused, and the error never repeats it,
// even when the value is malformed.
func TestPINRefused(t *testing.T) {
	for _, in := range []string{
		"pkcs11:token=a?pin-value=123456",
		"pkcs11:token=a?module-path=/x&pin-value=123456",
		"pkcs11:token=a?pin-source=file:/tmp/123456",
		"pkcs11:token=a?pin-value=12 3456",
		"pkcs11:token=a?pin-value=%1",
	} {
		_, err := Parse(in)
		if !errors.Is(err, ErrPIN) {
			t.Errorf("Parse(%q) = %v, want ErrPIN", in, err)
			continue
		}
		if strings.Contains(err.Error(), "3456") {
			t.Errorf("error repeats the PIN: %v", err)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	u := New()
	u.Set(Token, "a;b=c&d?e")
	u.Set(Object, "key/1")
	u.Set(ID, "\x00\xff")
	u.Set(ModulePath, "/opt/hsm/lib p11.so")
	s := u.String()
	want := "pkcs11:token=a%3Bb%3Dc%26d%3Fe;object=key%2F1;id=%00%FF?module-path=/opt/hsm/lib%20p11.so"
	if s != want {
		t.Fatalf("String() = %q, want %q", s, want)
	}
	v, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != s {
		t.Errorf("round trip changed %q into %q", s, v.String())
	}
}

// FuzzParse: whatever Parse accepts, String writes a URI that parses to the
// same attributes (round-trip property).
func FuzzParse(f *testing.F) {
	f.Add("pkcs11:token=a;object=b;id=%01;type=private?module-path=/usr/lib/x.so")
	f.Add("pkcs11:slot-id=3;library-version=2.40;serial=ABC")
	f.Add("pkcs11:token=%41?module-name=softhsm2")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			return
		}
		out := u.String()
		v, err := Parse(out)
		if err != nil {
			t.Fatalf("String() of %q gives %q, which does not parse: %v", s, out, err)
		}
		if v.String() != out {
			t.Fatalf("not stable: %q then %q", out, v.String())
		}
		for name := range u.path {
			a, _ := u.Get(name)
			b, ok := v.Get(name)
			if !ok || a != b {
				t.Fatalf("attribute %s changed: %q vs %q", name, a, b)
			}
		}
	})
}
