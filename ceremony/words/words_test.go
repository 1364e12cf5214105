package words

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

func TestGroups(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"3fa2", []string{"1:3fa2"}},
		{"3fa209c1e", []string{"1:3fa2", "2:09c1", "3:e"}},
		{"807effdc7dc828cdf3dbba70ac01f0702fc74d99cabffd1633db169bd33903bc", []string{
			"1:807e", "2:ffdc", "3:7dc8", "4:28cd", "5:f3db", "6:ba70", "7:ac01", "8:f070",
			"9:2fc7", "10:4d99", "11:cabf", "12:fd16", "13:33db", "14:169b", "15:d339", "16:03bc"}},
	} {
		if got := Groups(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Groups(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPGPKnownPositions(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want string
	}{
		{[]byte{0x00, 0x00}, "aardvark adroitness"},
		{[]byte{0xff, 0xff}, "Zulu Yucatan"},
		{[]byte{0x09, 0x0a, 0x80, 0x7f}, "Algol Apollo merit integrate"},
		// The fingerprint in the PGP word list's own description
		// (Wikipedia, "PGP word list").
		{mustHex(t, "E58294F2E9A227486E8B061B31CC528FD7FA3F19"),
			"topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa " +
				"afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless"},
		{nil, ""},
	} {
		if got := strings.Join(PGP(tc.b), " "); got != tc.want {
			t.Errorf("PGP(%x) = %q, want %q", tc.b, got, tc.want)
		}
	}
}

// TestPGPLists: 512 distinct words (capitals aside), so each word names
// one byte at one kind of position; and the lists are, word for word, the
// published ones: the SHA-256 of the 512 words, two-syllable list first,
// one per line, each followed by a newline.
func TestPGPLists(t *testing.T) {
	var all strings.Builder
	for _, w := range append(twoSyllable[:], threeSyllable[:]...) {
		all.WriteString(w + "\n")
	}
	sum := sha256.Sum256([]byte(all.String()))
	if got, want := hex.EncodeToString(sum[:]), "7e5237abee2c4ed4374b29a853b0ac3ac108a0ea11e8c7f50f6dc667402a49b6"; got != want {
		t.Errorf("the lists hash to %s, want %s", got, want)
	}
	seen := map[string]string{}
	for i := range 256 {
		for list, w := range map[string]string{"two-syllable": twoSyllable[i], "three-syllable": threeSyllable[i]} {
			key := strings.ToLower(w)
			if w == "" || strings.ContainsAny(w, " \t") {
				t.Errorf("%s list, %02x: %q", list, i, w)
			}
			if prev, ok := seen[key]; ok {
				t.Errorf("%q is both %s and %s %02x", w, prev, list, i)
			}
			seen[key] = list + " " + hex.EncodeToString([]byte{byte(i)})
		}
	}
	if len(seen) != 512 {
		t.Errorf("%d distinct words, want 512", len(seen))
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
