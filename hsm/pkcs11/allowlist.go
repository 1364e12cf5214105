package pkcs11

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// AllowedModule is one PKCS#11 library the allow-list trusts: its path as
// installed on the ceremony machine and the SHA-256 of the file.
type AllowedModule struct {
	Path   string
	SHA256 string // lowercase hex
}

// DefaultAllowListFile is where the module allow-list is read from when no
// other file is named. An officer writes it on the ceremony machine, one
// line per module, after comparing each hash with the vendor's.
const DefaultAllowListFile = "/etc/conclave/pkcs11-modules.sha256"

// MaxAllowListSize bounds an allow-list file: a line is under 4,200 bytes
// (64 hex digits and a path of at most PATH_MAX), and a ceremony machine has
// a handful of modules.
const MaxAllowListSize = 64 << 10

// ReadAllowList reads and parses the allow-list file at path. A missing
// file is an error that wraps os.ErrNotExist.
func ReadAllowList(path string) ([]AllowedModule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the PKCS#11 module allow-list: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxAllowListSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the PKCS#11 module allow-list %s: %w", path, err)
	}
	return ParseAllowList(path, data)
}

// ParseAllowList reads a module allow-list in the form sha256sum(1) prints:
// one module a line, the 64 hex digits of the library file's SHA-256, two
// spaces (or a space and "*", sha256sum's binary mark), and the module's
// absolute path as it is installed. Blank lines and lines starting with "#"
// are comments. So
//
//	sha256sum /usr/lib/vendor/libpkcs11.so >> /etc/conclave/pkcs11-modules.sha256
//
// adds a module, and `sha256sum --check` on the same file tells whether the
// libraries are still the ones listed. The file is read strictly: anything
// else is an error naming the file and the line. name is the file's name
// for errors.
func ParseAllowList(name string, data []byte) ([]AllowedModule, error) {
	if len(data) > MaxAllowListSize {
		return nil, fmt.Errorf("PKCS#11 module allow-list %s: larger than %d bytes", name, MaxAllowListSize)
	}
	var out []AllowedModule
	seen := map[AllowedModule]int{}
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the final newline
	}
	for i, raw := range lines {
		n := i + 1
		line := string(raw)
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m, err := parseAllowLine(line)
		if err != nil {
			return nil, fmt.Errorf("PKCS#11 module allow-list %s, line %d: %w", name, n, err)
		}
		if first, dup := seen[m]; dup {
			return nil, fmt.Errorf("PKCS#11 module allow-list %s, line %d: repeats line %d", name, n, first)
		}
		seen[m] = n
		out = append(out, m)
	}
	return out, nil
}

var errAllowLineForm = errors.New(`not "SHA256  /absolute/path" (64 hex digits, two spaces, the module's path)`)

func parseAllowLine(line string) (AllowedModule, error) {
	if strings.HasPrefix(line, `\`) {
		// sha256sum escapes a file name holding "\" or a line break so.
		return AllowedModule{}, errors.New(`a module path holding "\" or a line break cannot be listed`)
	}
	if len(line) < 66 {
		return AllowedModule{}, errAllowLineForm
	}
	sum, sep, path := line[:64], line[64:66], line[66:]
	for i := 0; i < len(sum); i++ {
		if !isHex(sum[i]) {
			return AllowedModule{}, errAllowLineForm
		}
	}
	if (sep != "  " && sep != " *") || path == "" {
		return AllowedModule{}, errAllowLineForm
	}
	for _, r := range path {
		if r < 0x20 || r == 0x7f {
			return AllowedModule{}, fmt.Errorf("module path %q holds a control character", path)
		}
	}
	if !filepath.IsAbs(path) {
		return AllowedModule{}, fmt.Errorf("module path %q is not absolute, so the library loaded could depend on the directory Conclave runs in", path)
	}
	if filepath.Clean(path) != path {
		return AllowedModule{}, fmt.Errorf("module path %q is not in its plain form (%s)", path, filepath.Clean(path))
	}
	return AllowedModule{Path: path, SHA256: strings.ToLower(sum)}, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
