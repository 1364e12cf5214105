package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/conclave-keys/conclave/ceremony/bundle"
	"github.com/conclave-keys/conclave/ceremony/envelope"
	"github.com/conclave-keys/conclave/ceremony/request"
	"github.com/conclave-keys/conclave/ceremony/tuf"
	"github.com/conclave-keys/conclave/intake"
	it "github.com/conclave-keys/conclave/intake/intaketest"
	"github.com/conclave-keys/conclave/internal/fstree"
)

// The sweep of this file holds every command to one rule: text from
// outside — media, metadata, the command line, the machine's /proc and
// /sys — reaches the terminal only through internal/termtext, so that it
// is shown and never obeyed. Each command is run with the strings of
// hostileText planted wherever outside text enters it, and checkPlain
// reads what it printed. Tokens and cards are held to the same rule by
// their own tests, on real devices (SoftHSM, vpcd):
// TestWriteTokensEscapesEveryDeviceString, TestTokensListsSoftHSM and
// TestWriteYubikeysEscapesEveryDeviceString, TestYubikeysUnreadableCardExits1.

// hostileText is what a forged file, a device or a typed argument can
// hold to take over the terminal or mislead the eye. None holds "/", so
// each can also be a file name.
var hostileText = []string{
	"conceal\x1b[8mhidden",                // ESC: hide what follows
	"erase\x1b[2Kline",                    // ESC: erase the line
	"title\x1b]0;owned\x07end",            // OSC: set the window title, ended by BEL
	"over\rRESULT: all files valid",       // CR: overwrite the line
	"bell\x07back\bspace",                 // BEL, backspace
	"c1\u009b8mcsi",                       // C1 CSI, one character
	"bidi\u202eevil\u202c\u2066iso\u2069", // bidi override and isolate
	"zero\u200bwidth",                     // zero-width space (category Cf)
	"line\u2028separator\u2029para",       // line and paragraph separators
	"bad\xffutf8",                         // not UTF-8
	"tab\there\x7fdel\x00nul",             // tab, DEL, NUL
}

// hostileLong is one string longer than any screen: shown whole, it pushes
// the verdict out of sight.
var hostileLong = strings.Repeat("long\x1b[8m", 2000)

// hostileEvery is hostileText and hostileLong, in a new slice.
func hostileEvery() []string {
	return append(append([]string{}, hostileText...), hostileLong)
}

// hostileAll is every string of hostileText in one, for inputs that are
// costly to make once per string.
var hostileAll = strings.Join(hostileText, "|")

// fileName makes s fit for a file name: without NUL, at most 200 bytes.
func fileName(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	return s[:min(len(s), 200)]
}

// maxLine is the longest line any command may print, in characters: an
// error line is capped at maxErrorLine, and no report line holds more
// than a few capped strings.
const maxLine = maxErrorLine + 200

// checkPlain fails the test when out holds anything a terminal obeys
// instead of showing: a C0 control other than the newline (Conclave
// writes no tabs), DEL, a C1 control, a format character (Unicode
// category Cf: bidi controls, zero-width characters), a line or paragraph
// separator, or bytes that are not UTF-8; or a line longer than maxLine.
// It names the line and the byte offset.
func checkPlain(t *testing.T, what, out string) {
	t.Helper()
	if p := plainProblem(out); p != "" {
		t.Errorf("%s: %s", what, p)
	}
}

// plainProblem is checkPlain's finding, or "".
func plainProblem(out string) string {
	for n, line := range strings.Split(out, "\n") {
		for i := 0; i < len(line); {
			r, size := utf8.DecodeRuneInString(line[i:])
			var bad string
			switch {
			case r == utf8.RuneError && size == 1:
				bad = fmt.Sprintf("byte %#02x, not UTF-8", line[i])
			case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
				bad = fmt.Sprintf("control character %U", r)
			case unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
				bad = fmt.Sprintf("invisible character %U", r)
			}
			if bad != "" {
				return fmt.Sprintf("line %d, byte %d: %s:\n%.300q", n+1, i, bad, line)
			}
			i += size
		}
		if c := utf8.RuneCountInString(line); c > maxLine {
			return fmt.Sprintf("line %d is %d characters long: %.120q…", n+1, c, line)
		}
	}
	return ""
}

// runPlain runs the CLI and checks both its streams.
func runPlain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	code, out, errOut := run(t, args...)
	checkPlain(t, fmt.Sprintf("%.60q stdout", args), out)
	checkPlain(t, fmt.Sprintf("%.60q stderr", args), errOut)
	return code, out, errOut
}

// TestCheckPlain: the check itself catches each string of the corpus,
// and lets their escaped form through.
func TestCheckPlain(t *testing.T) {
	for _, s := range hostileEvery() {
		if plainProblem("ok\n"+s+"\n") == "" {
			t.Errorf("checkPlain let %.60q through", s)
		}
		checkPlain(t, "escaped", "ok\n"+safeLine(s)+"\n")
	}
}

// TestHostileTextCommandLine: every command and subcommand, with a
// hostile argument, a hostile value for each of its flags, and a hostile
// unknown flag; and an unknown command, which the "did you mean" answer
// echoes.
func TestHostileTextCommandLine(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, s := range hostileEvery() {
		runPlain(t, s)
		runPlain(t, "help", s)
		runPlain(t, "verfy"+s)
	}
	var walk func(words []string, c commandInfo)
	walk = func(words []string, c commandInfo) {
		words = append(words, c.word)
		for _, sub := range c.subs {
			walk(words, sub)
		}
		if len(c.subs) > 0 {
			runPlain(t, append(words, hostileAll)...)
			return
		}
		for _, s := range []string{hostileAll, hostileLong} {
			runPlain(t, append(words, "--"+s)...)
			runPlain(t, append(words, s)...)
		}
		if words[0] == "rehearse" {
			return // TestHostileTextRehearse: a rehearsal with --out runs to the end
		}
		// Each flag that takes text, alone and all at once (so that the
		// command gets past its check for required flags to the first file
		// it reads); a flag that takes a number or a time refuses the text.
		for _, s := range []string{hostileAll, hostileLong} {
			all := append([]string{}, words...)
			for _, f := range c.flags {
				if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
					continue
				}
				runPlain(t, append(words, "--"+f.Name, s, s)...)
				if f.Value.Set(s) == nil {
					all = append(all, "--"+f.Name, s)
				}
			}
			runPlain(t, append(all, s)...)
		}
	}
	for _, c := range describeCommands() {
		walk(nil, c)
	}
}

// TestHostileTextVerify: a metadata file whose signature keyid, delegated
// role name and file name hold each string, and a trusted root that does
// not parse, named with them.
func TestHostileTextVerify(t *testing.T) {
	fx := newFixture(t)
	data, err := os.ReadFile(fx.top)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range hostileEvery() {
		q, _ := json.Marshal(s)
		forged := strings.Replace(string(data), `"signatures":[`, `"signatures":[{"keyid":`+string(q)+`,"sig":"00"},`, 1)
		forged = strings.Replace(forged, `"name":"claimed"`, `"name":`+string(q), 1)
		name := fileName(s)
		dir := fmt.Sprintf("h%d", i)
		top := writeBytes(t, filepath.Join(dir, "targets.json"), []byte(forged))
		role := writeBytes(t, filepath.Join(dir, name+".json"), []byte(`{"signatures":[{"keyid":`+string(q)+`,"sig":"00"}],"signed":{"_type":"targets","expires":"2030-01-01T00:00:00Z","spec_version":"1.0.31","targets":{`+string(q)+`:{"length":1,"hashes":{"sha256":`+string(q)+`}}},"version":1}}`))
		notRoot := writeBytes(t, filepath.Join(dir, name+".root.json"), []byte(`{"signed":{"_type":`+string(q)+`}}`))
		runPlain(t, "verify", "--at", at, "--trusted-root", fx.root1, fx.root2, top, role, fx.claimed)
		runPlain(t, "verify", "--at", at, "--trusted-root", notRoot, fx.root2, top)
		runPlain(t, "verify", "--at", at, "--trusted-root", fx.root1, notRoot, role)

		code, out, _ := run(t, "verify", "--json", "--at", at, "--trusted-root", fx.root1, fx.root2, top, role)
		var r struct {
			Files []struct {
				File   string
				Checks []struct{ Signatures []struct{ KeyID string } }
			}
		}
		if err := json.Unmarshal([]byte(out), &r); code != 1 || err != nil {
			t.Fatalf("exit %d, %v\n%s", code, err, out)
		}
		// JSON holds only UTF-8: bytes that are not become U+FFFD.
		if utf8.ValidString(s) && (!strings.Contains(out, string(q)) || r.Files[3].File != role) {
			t.Errorf("JSON does not hold %.60q exactly", s)
		}
	}
}

// hostileDraft is an add request whose id, project and requested_by hold
// text, with no possession statement (no project name that holds it can
// be signed for). intake.NewDraft refuses such text; a forger does not
// use it.
func hostileDraft(id, text string) *request.Draft {
	return &request.Draft{ID: id, Kind: request.Add, Project: text, Keys: []*tuf.Key{it.Key("n1").Key}, Threshold: 1,
		Made: it.Now.Add(-time.Hour), RequestedBy: text, BaseVersion: it.BaseVersion}
}

// TestHostileTextImport: a bundle whose request's project name and
// requested_by hold each string; then its manifest, signed again by the
// intake key, with a bundle id, a source and a listed file name that hold
// it (no writer makes such a manifest, a stolen intake key does). The
// strict readers refuse most of these before anything shows them; what
// the refusal quotes is held to the same rule.
func TestHostileTextImport(t *testing.T) {
	for _, text := range append(hostileEvery(), hostileAll) {
		var fx *it.Fixture
		args, dir := importSetup(t, func(t *testing.T, f *it.Fixture) *intake.Pack {
			fx = f
			hostile := hostileDraft("r1", text).Encode()
			return f.Pack("b1", hostile, f.Add(t, "r2", "new-project", "n2").Encode())
		})
		textArgs := append([]string{}, args[:len(args)-1]...) // without --json
		runPlain(t, append(textArgs, dir)...)

		manifest := filepath.Join(dir, bundle.ManifestName)
		data, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := bundle.OpenManifest(data, map[string]*tuf.Key{fx.Intake.Key.ID(): fx.Intake.Key}, bundle.ManifestLimits{})
		if err != nil {
			t.Fatal(err)
		}
		for i, change := range []func(){
			func() { m.BundleID = text },
			func() { m.BundleID, m.Source = "b1", text },
			func() {
				m.Source = "example.org"
				m.Files = append(m.Files, bundle.Entry{Path: "requests/" + fileName(text) + ".jsonl", Kind: bundle.KindBatch, Size: 3, SHA256: bundle.SumHex([]byte("{}\n"))})
			},
		} {
			change()
			data, err = bundle.SignManifest(m, func(e *envelope.Envelope) error { return e.Sign(fx.Intake.Signer, fx.Intake.Key) })
			if err != nil {
				t.Fatal(err)
			}
			rewrite(t, manifest, func([]byte) []byte { return data })
			runPlain(t, append(textArgs, dir)...)
			code, out, _ := run(t, append(args, dir)...)
			if r := decodeReport(t, out); code != 1 || r.Refused == nil {
				t.Errorf("manifest change %d: exit %d, %+v", i, code, r)
			}
		}
	}
}

// TestHostileTextIntake: ids, project names and file names given to the
// online side's commands, and an export directory holding hostile names.
func TestHostileTextIntake(t *testing.T) {
	f := it.New(t)
	dir, pass, del, intakePriv, _ := intakeFiles(t, f)
	_, n1pub := writeKeyFiles(t, dir, "n1", it.Key("n1").Signer)
	reqs := filepath.Join(dir, "reqs")
	if err := os.Mkdir(reqs, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range hostileEvery() {
		out := filepath.Join(reqs, fmt.Sprintf("%d%s.json", i, fileName(s)))
		runPlain(t, "intake", "request", "--kind", "add", "--id", s, "--project", s, "--key", n1pub, "--requested-by", s, "--made", "2026-11-24T10:00:00Z", "--out", out)
		runPlain(t, "intake", "request", "--kind", "add", "--id", fmt.Sprintf("r%d", i), "--project", "p", "--key", n1pub, "--requested-by", "x", "--made", "2026-11-24T10:00:00Z", "--out", out)
	}
	// Each pack decrypts the intake key (slow by design): the strings all
	// at once, in the bundle id, the source and the file names.
	var made []string
	for i := range hostileText {
		made = append(made, filepath.Join(reqs, fmt.Sprintf("%d%s.json", i, fileName(hostileText[i]))))
	}
	runPlain(t, append([]string{"intake", "pack", "--id", hostileAll, "--source", "example.org", "--delegator", "claimed=" + del, "--intake-key", intakePriv, "--passphrase-file", pass,
		"--out", filepath.Join(dir, "b"+fileName(hostileAll))}, made...)...)
	runPlain(t, append([]string{"intake", "pack", "--id", "b1", "--source", hostileAll, "--delegator", "claimed=" + del, "--intake-key", intakePriv, "--passphrase-file", pass,
		"--out", filepath.Join(dir, "c"+fileName(hostileAll))}, made...)...)
	runPlain(t, append([]string{"intake", "pack", "--id", "b1", "--source", "example.org", "--delegator", "claimed=" + del, "--intake-key", intakePriv, "--passphrase-file", pass,
		"--out", filepath.Join(dir, "d"+fileName(hostileAll))}, made...)...)
	// An export directory with a file of each name beside what it lists.
	exp := filepath.Join(dir, "export")
	for i, s := range hostileText {
		writeBytes(t, filepath.Join(exp, fmt.Sprintf("%d%s.json", i, fileName(s))), []byte("{}"))
	}
	runPlain(t, "intake", "check-export", exp)
	runPlain(t, "intake", "check-export", filepath.Join(dir, fileName(hostileAll)))
}

// TestHostileTextMachine: media and preflight read labels, device and
// interface names and mount points from /proc and /sys, which any device
// plugged in can choose.
func TestHostileTextMachine(t *testing.T) {
	for _, s := range append(append([]string{}, hostileText...), hostileLong[:200]) {
		s := fileName(s)
		esc := strings.NewReplacer(" ", `\040`, "\t", `\011`, "\n", `\012`, `\`, `\134`).Replace(s)
		stick := "sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
		root := fstree.Write(t, map[string]string{
			"proc/self/mountinfo": "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
				"40 28 8:17 / /media/" + esc + " rw,nosuid - vfat" + esc + " /dev/sdb1" + esc + " rw\n",
			stick + "/removable":                                     "1\n",
			stick + "/sdb1/partition":                                "1\n",
			"sys/class/net/lo/flags":                                 "0x9\n",
			"sys/class/net/eth" + s[:min(len(s), 12)] + "/flags":     "0x1003\n",
			"sys/class/net/eth" + s[:min(len(s), 12)] + "/operstate": s + "\n",
			"sys/class/rfkill/rfkill0/soft":                          s + "\n",
			"sys/class/rfkill/rfkill0/hard":                          "0\n",
			"sys/class/rfkill/rfkill0/type":                          s + "\n",
			"sys/class/rfkill/rfkill0/name":                          s + "\n",
			"proc/net/route":                                         "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" + esc + "\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n",
			"proc/net/ipv6_route":                                    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000000 00000001 00000000 00000003 " + esc + "\n",
		}, map[string]string{
			"sys/dev/block/8:17": "../../devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb/sdb1",
			"dev/disk/by-label/L" + labelEscape(s[:min(len(s), 40)]): "../../sdb1",
		})
		runPlain(t, "media", "--root", root)
		runPlain(t, "preflight", "--root", root)
		runPlain(t, "preflight", "--root", root, "--override", "network.interfaces="+s)
	}
}

// labelEscape writes a label as udev names it in /dev/disk/by-label:
// bytes outside its safe set as \xNN.
func labelEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == '\\' || c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, `\x%02x`, c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// TestHostileTextRehearse: the rehearsal names the directory it was given
// in what it wrote and in the verify command line it prints.
func TestHostileTextRehearse(t *testing.T) {
	for _, s := range []string{hostileAll, hostileLong} {
		out := filepath.Join(t.TempDir(), fileName(s))
		runPlain(t, "rehearse", "--requests", "2", "--out", out)
		runPlain(t, "rehearse", "--requests", "2", "--out", out) // not empty now
		runPlain(t, "rehearse", "--requests", s, "--out", out)
	}
}

// TestHostileTextCeremony: a whole ceremony whose bundle's request holds
// the text in its project name and requested_by, whose vault, key store
// and export directory are named with it; then a bundle whose manifest,
// signed again by the intake key, holds it in its bundle id or source
// (refused, and the ceremony abandoned with the refusal as its reason);
// and vault show of that vault, whose generations then hold logs that
// quote it.
func TestHostileTextCeremony(t *testing.T) {
	for _, text := range []string{hostileAll, hostileLong} {
		fx := newCeremonyFixture(t)
		name := fileName(text)
		// The paths the ceremony prints, named with the text.
		for _, p := range []*string{&fx.vault, &fx.keys} {
			moved := filepath.Join(filepath.Dir(*p), filepath.Base(*p)+name[:min(len(name), 100)])
			if err := os.Rename(*p, moved); err != nil {
				t.Fatal(err)
			}
			*p = moved
		}
		hostile := hostileDraft("r-hostile", text).Encode()
		if err := os.RemoveAll(fx.bundle); err != nil {
			t.Fatal(err)
		}
		if err := fx.intake.Pack("bundle-0001", hostile, fx.intake.Add(t, "r-add", "fresh", "n1").Encode()).Write(fx.bundle); err != nil {
			t.Fatal(err)
		}
		fx.script = fx.writeScript(t, "hostile.yaml", strings.Replace(ceremonyScript, "  approve_rule_approvable: {count: 2}\n", "", 1))
		pins := pinFile(t, 5)
		code, _, _ := runPlain(t, fx.args(filepath.Join(fx.dir, "export"+name[:min(len(name), 100)]), pins.Fd())...)
		pins.Close()
		if code != 0 {
			t.Fatalf("the ceremony with a hostile request: exit %d", code)
		}

		manifest := filepath.Join(fx.bundle, bundle.ManifestName)
		data, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]*tuf.Key{fx.intake.Intake.Key.ID(): fx.intake.Intake.Key}
		for i, change := range []func(m *bundle.Manifest){
			func(m *bundle.Manifest) { m.BundleID = text },
			func(m *bundle.Manifest) { m.BundleID, m.Source = "bundle-0002", text },
		} {
			m, err := bundle.OpenManifest(data, keys, bundle.ManifestLimits{})
			if err != nil {
				t.Fatal(err)
			}
			change(m)
			signed, err := bundle.SignManifest(m, func(e *envelope.Envelope) error { return e.Sign(fx.intake.Intake.Signer, fx.intake.Intake.Key) })
			if err != nil {
				t.Fatal(err)
			}
			rewrite(t, manifest, func([]byte) []byte { return signed })
			at := ceremonyNow.Add(time.Duration(i+1) * time.Hour).Format(time.RFC3339)
			fx.script = fx.writeScript(t, "later.yaml", strings.Replace(ceremonyScript, ceremonyNow.Format(time.RFC3339), at, 1))
			pins := pinFile(t, 5)
			code, _, _ := runPlain(t, fx.args(filepath.Join(fx.dir, fmt.Sprintf("export-%d", i)), pins.Fd())...)
			pins.Close()
			if code != 1 {
				t.Errorf("manifest change %d: exit %d, want 1", i, code)
			}
		}
		runPlain(t, "vault", "show", fx.vault)
	}
}

// TestHostileTextPolicy: a policy whose text fields (repository, a
// holder's name and contact, a key's location) hold each string, given
// to policy check and to vault adopt; the policy refuses them, and the
// refusal quotes them.
func TestHostileTextPolicy(t *testing.T) {
	fx := newCeremonyFixture(t)
	base := string(fx.policy(t))
	for i, s := range hostileEvery() {
		q, _ := json.Marshal(s) // a JSON string is a YAML double-quoted string
		if !utf8.ValidString(s) {
			q = []byte(`"` + s + `"`) // JSON would mend it
		}
		for j, field := range []struct{ old, new string }{
			{"repository: " + fx.intake.Rules.Repository + "\n", "repository: " + string(q) + "\n"},
			{"  - name: Holder 2\n", "  - name: " + string(q) + "\n"},
			{"  - name: Holder 2\n", "  - name: Holder 2\n    contact: " + string(q) + "\n"},
			{"uri: softkey:name=holder2\n", "uri: " + string(q) + "\n"},
		} {
			p := writeBytes(t, filepath.Join(fx.dir, fmt.Sprintf("p%d-%d", i, j), fileName(s)+".yaml"), []byte(strings.Replace(base, field.old, field.new, 1)))
			if code, _, _ := runPlain(t, "policy", "check", p); code != 1 {
				t.Errorf("policy check of field %d holding %.40q: exit %d, want 1", j, s, code)
			}
			runPlain(t, "vault", "adopt", "--metadata", fx.dir, "--policy", p, "--out", filepath.Join(fx.dir, "adopted"), "--sign", "softkey:path="+filepath.Join(fx.keys, "holder2.key.pem"))
		}
	}
}
