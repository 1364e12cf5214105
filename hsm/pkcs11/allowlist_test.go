package pkcs11

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	sumA = "10a23f17bc75e66a55c3a7b727ad00b6a5f3573da8841ab799e6da9cc201db7e"
	sumB = "ab12000000000000000000000000000000000000000000000000000000000000"
)

func TestParseAllowList(t *testing.T) {
	got, err := ParseAllowList("modules", []byte("# the ceremony machine's HSM modules\n\n"+
		strings.ToUpper(sumA)+"  /usr/lib/vendor/libpkcs11.so\n"+
		sumB+" */usr/lib/softhsm/libsofthsm2.so\n"+
		sumA+"  /usr/lib/vendor/libpkcs11-new.so"))
	want := []AllowedModule{
		{Path: "/usr/lib/vendor/libpkcs11.so", SHA256: sumA},
		{Path: "/usr/lib/softhsm/libsofthsm2.so", SHA256: sumB},
		{Path: "/usr/lib/vendor/libpkcs11-new.so", SHA256: sumA},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v\nwant %+v", got, err, want)
	}
	if got, err := ParseAllowList("modules", []byte("# nothing yet\n")); err != nil || len(got) != 0 {
		t.Errorf("comments only: %+v, %v", got, err)
	}
}

func TestParseAllowListRefuses(t *testing.T) {
	form := `not "SHA256  /absolute/path" (64 hex digits, two spaces, the module's path)`
	for _, tc := range []struct{ name, data, want string }{
		{"short hash", sumA[:63] + "  /usr/lib/x.so\n", "line 1: " + form},
		{"not hex", "g" + sumA[1:] + "  /usr/lib/x.so\n", "line 1: " + form},
		{"one space", sumA + " /usr/lib/x.so\n", "line 1: " + form},
		{"tab", sumA + "\t/usr/lib/x.so\n", "line 1: " + form},
		{"no path", sumA + "  \n", "line 1: " + form},
		{"relative", "# ok\n" + sumA + "  lib/x.so\n", `line 2: module path "lib/x.so" is not absolute, so the library loaded could depend on the directory Conclave runs in`},
		{"dot-dot", sumA + "  /usr/lib/../lib/x.so\n", `line 1: module path "/usr/lib/../lib/x.so" is not in its plain form (/usr/lib/x.so)`},
		{"carriage return", sumA + "  /usr/lib/x.so\r\n", `line 1: module path "/usr/lib/x.so\r" holds a control character`},
		{"escape", sumA + "  /usr/lib/\x1b[8mx.so\n", `line 1: module path "/usr/lib/\x1b[8mx.so" holds a control character`},
		{"escaped name", `\` + sumA + `  /usr/lib/a\\b.so` + "\n", `line 1: a module path holding "\" or a line break cannot be listed`},
		{"repeated", sumA + "  /usr/lib/x.so\n" + sumB + "  /usr/lib/y.so\n" + sumA + "  /usr/lib/x.so\n", "line 3: repeats line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAllowList("modules", []byte(tc.data))
			if want := "PKCS#11 module allow-list modules, " + tc.want; err == nil || err.Error() != want {
				t.Errorf("error %v\nwant  %s", err, want)
			}
		})
	}
	big := strings.Repeat("#\n", MaxAllowListSize/2+1)
	if _, err := ParseAllowList("modules", []byte(big)); err == nil || err.Error() != fmt.Sprintf("PKCS#11 module allow-list modules: larger than %d bytes", MaxAllowListSize) {
		t.Errorf("oversized: %v", err)
	}
}

func TestReadAllowListMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none")
	_, err := ReadAllowList(path)
	if !errors.Is(err, os.ErrNotExist) || err.Error() != "reading the PKCS#11 module allow-list: open "+path+": no such file or directory" {
		t.Errorf("error %v", err)
	}
}

// FuzzParseAllowList: any bytes give a list or an error, never a panic;
// every module listed has an absolute plain path and a lowercase hash, and
// writing the list back as sha256sum would gives the same list.
func FuzzParseAllowList(f *testing.F) {
	f.Add([]byte(sumA + "  /usr/lib/x.so\n# c\n\n" + sumB + " */usr/lib/y.so"))
	f.Add([]byte(`\` + sumA + "  /a\n"))
	f.Add([]byte(sumA + "  /usr/lib/../x.so\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseAllowList("fuzz", data)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, m := range list {
			if !filepath.IsAbs(m.Path) || filepath.Clean(m.Path) != m.Path || len(m.SHA256) != 64 || strings.ToLower(m.SHA256) != m.SHA256 {
				t.Fatalf("accepted %+v", m)
			}
			fmt.Fprintf(&b, "%s  %s\n", m.SHA256, m.Path)
		}
		again, err := ParseAllowList("fuzz", []byte(b.String()))
		if err != nil || len(again) != len(list) || (len(list) > 0 && !reflect.DeepEqual(again, list)) {
			t.Fatalf("round trip: %+v, %v; was %+v", again, err, list)
		}
	})
}
