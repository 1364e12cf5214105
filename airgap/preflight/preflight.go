// Package preflight checks, before a ceremony, that the machine is cut off
// from any network, and shows what a person must confirm (the clock) and
// what media are present.
//
// Every check reads what Linux publishes under /sys and /proc, below
// Checker.Root, so tests run against fixture trees. A check that cannot
// read what it needs, or finds nothing to look at where an air-gapped
// machine could still hide a network (no IPv6 routing table, no radio
// switch), ends [Unchecked]: "could not check" is never reported as
// "safe", and it blocks like a failure unless people override it with a
// written reason ([Checker.Overrides]), which the report shows.
//
// Each result has a stable ID (see the constants) that the ceremony uses to
// record it in the transcript, and to record an override with a person's
// written reason.
package preflight

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/airgap/media"
	"github.com/conclave-keys/conclave/internal/sysfile"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// Stable check IDs. They appear in transcripts and overrides: never rename
// one, add a new ID instead.
const (
	IDInterfaces = "network.interfaces"
	IDRouteIPv4  = "network.default-route-ipv4"
	IDRouteIPv6  = "network.default-route-ipv6"
	IDRadios     = "radio.rfkill"
	IDClock      = "clock"
	IDRemovable  = "media.removable"
)

// Status is the outcome of a check.
type Status string

const (
	// Pass: the check found what a ceremony needs.
	Pass Status = "pass"
	// Fail: the ceremony must not go on (unless a person overrides it
	// with a written reason, recorded in the transcript).
	Fail Status = "fail"
	// Confirm: a person must compare what is shown with the world (the clock).
	Confirm Status = "confirm"
	// Info: shown for the record, nothing to decide.
	Info Status = "info"
	// Unchecked: the check could not look. It blocks like Fail unless a
	// person overrides it with a written reason.
	Unchecked Status = "unchecked"
)

// Result is the outcome of one check.
type Result struct {
	// ID is stable (IDInterfaces, …).
	ID string `json:"id"`
	// Title names the check for people.
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Message is one or two sentences a key holder understands: what was
	// found and, on failure, what to do.
	Message string `json:"message"`
	// Details are the facts behind the message, one per line.
	Details []string `json:"details,omitempty"`
	// Question is what a person must answer (Status Confirm).
	Question string `json:"question,omitempty"`
	// Override is the written reason people gave to go on although the
	// check could not look (Status Unchecked); empty when none was given
	// or the check did not need one.
	Override string `json:"override,omitempty"`
}

// Report is the outcome of all checks.
type Report struct {
	CheckedAt time.Time `json:"checked_at"`
	Results   []Result  `json:"results"`
	// Failed counts the results with Status Fail.
	Failed int `json:"failed"`
	// Unchecked counts the results with Status Unchecked and no override;
	// Overridden those with one.
	Unchecked  int `json:"unchecked"`
	Overridden int `json:"overridden"`
	// UnusedOverrides lists, by check ID, the overrides given for checks
	// that could look: they changed nothing, and are shown so that nobody
	// believes otherwise.
	UnusedOverrides []string `json:"unused_overrides,omitempty"`
}

// OK is true when no check failed and every check that could not look
// was overridden.
func (r *Report) OK() bool { return r.Failed == 0 && r.Unchecked == 0 }

// Checker runs the checks.
type Checker struct {
	// Root is the file system root /sys and /proc are read under: "/" on a
	// real machine, a fixture tree in tests.
	Root string
	// Now reads the clock.
	Now func() time.Time
	// Location is the local time zone shown beside UTC.
	Location *time.Location
	// Statfs measures removable media; nil leaves their space out.
	Statfs func(mountPoint string) (media.Space, error)
	// Overrides maps a check ID to the written reason for going on
	// although that check could not look. An override never turns a
	// check that looked and found a network into a pass.
	Overrides map[string]string
}

// IDs lists every check ID, in the order the checks run.
var IDs = []string{IDInterfaces, IDRouteIPv4, IDRouteIPv6, IDRadios, IDClock, IDRemovable}

// ParseOverride reads an override written ID=REASON (as given on the
// command line): the ID must name a check and the reason must say
// something.
func ParseOverride(s string) (id, reason string, err error) {
	id, reason, ok := strings.Cut(s, "=")
	reason = strings.TrimSpace(reason)
	known := false
	for _, k := range IDs {
		known = known || k == id
	}
	switch {
	case !ok:
		return "", "", fmt.Errorf("override %q is not written ID=REASON", s)
	case !known:
		return "", "", fmt.Errorf("override %q: no check has the ID %q (the IDs are %s)", s, id, strings.Join(IDs, ", "))
	case reason == "":
		return "", "", fmt.Errorf("override %q: the reason is empty; say why it is safe to go on without this check", s)
	}
	return id, reason, nil
}

// System checks this machine.
func System() Checker {
	return Checker{Root: "/", Now: time.Now, Location: time.Local, Statfs: media.Statfs}
}

// Run runs every check, in a fixed order.
func (c Checker) Run() *Report {
	now := c.Now()
	r := &Report{CheckedAt: now.UTC()}
	r.Results = []Result{
		c.interfaces(),
		c.route4(),
		c.route6(),
		c.radios(),
		c.clock(now),
		c.removable(),
	}
	for i := range r.Results {
		res := &r.Results[i]
		reason, given := c.Overrides[res.ID]
		switch {
		case res.Status == Unchecked && given:
			res.Override = reason
			r.Overridden++
		case res.Status == Unchecked:
			r.Unchecked++
		case given:
			r.UnusedOverrides = append(r.UnusedOverrides, res.ID)
		}
		if res.Status == Fail {
			r.Failed++
		}
	}
	return r
}

func (c Checker) path(p string) string { return filepath.Join(c.Root, filepath.FromSlash(p)) }

// Interface flags from <linux/if.h>.
const (
	iffUp       = 0x1
	iffLoopback = 0x8
)

// interfaces fails when any interface other than loopback is
// administratively up (IFF_UP in /sys/class/net/*/flags), reports an
// operational state of "up", or has carrier (a cable or radio link).
// See the kernel's Documentation/ABI/testing/sysfs-class-net.
func (c Checker) interfaces() Result {
	res := Result{ID: IDInterfaces, Title: "Network interfaces"}
	dir := c.path("/sys/class/net")
	ents, err := os.ReadDir(dir)
	if err != nil {
		res.Status = Unchecked
		res.Message = "Could not check the network interfaces (" + err.Error() + "). Without this check the air gap is not shown: make sure /sys is mounted."
		return res
	}
	var up, unread []string
	checked := 0
	for _, e := range ents {
		name := termtext.Safe(e.Name())
		base := filepath.Join(dir, e.Name())
		flagsText, err := sysfile.ReadTrimmed(filepath.Join(base, "flags"))
		if err != nil {
			unread = append(unread, name)
			res.Details = append(res.Details, fmt.Sprintf("%s: its state could not be read (%s)", name, termtext.Safe(err.Error())))
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(flagsText, "0x"), 16, 32)
		if err != nil {
			unread = append(unread, name)
			res.Details = append(res.Details, fmt.Sprintf("%s: unreadable flags %s", name, media.Printable(flagsText)))
			continue
		}
		if flags&iffLoopback != 0 {
			continue
		}
		checked++
		oper, err := sysfile.ReadTrimmed(filepath.Join(base, "operstate"))
		if err != nil {
			oper = "unknown"
		}
		// Reading carrier of an interface that is down gives EINVAL.
		carrier, err := sysfile.ReadTrimmed(filepath.Join(base, "carrier"))
		if err != nil {
			carrier = ""
		}
		kind := "wired or virtual"
		if exists(filepath.Join(base, "wireless")) || exists(filepath.Join(base, "phy80211")) {
			kind = "wireless"
		}
		var state []string
		if flags&iffUp != 0 {
			state = append(state, "switched on")
		} else {
			state = append(state, "switched off")
		}
		switch carrier {
		case "1":
			state = append(state, "link detected")
		case "0":
			state = append(state, "no link")
		}
		// Names and states come from /sys, which a driver or a device
		// plugged in fills: shown, never obeyed.
		state = append(state, "operational state "+termtext.Safe(oper))
		res.Details = append(res.Details, fmt.Sprintf("%s (%s): %s", name, kind, strings.Join(state, ", ")))
		if flags&iffUp != 0 || oper == "up" || carrier == "1" {
			up = append(up, name)
		}
	}
	switch {
	case len(up) != 0:
		res.Status = Fail
		subject, verb, pronoun := "Network interface "+up[0], "is", "it"
		if len(up) > 1 {
			subject, verb, pronoun = "Network interfaces "+strings.Join(up, ", "), "are", "them"
		}
		res.Message = fmt.Sprintf("%s %s switched on or connected: this machine is not air-gapped. Switch %s off (ip link set %s down) and unplug any cable; better, remove the network hardware.",
			subject, verb, pronoun, up[0])
	case len(unread) != 0:
		res.Status = Unchecked
		subject := "network interface " + unread[0]
		if len(unread) > 1 {
			subject = "network interfaces " + strings.Join(unread, ", ")
		}
		res.Message = fmt.Sprintf("The state of %s could not be read, so nothing shows that it is switched off.", subject)
	case checked == 0:
		res.Status = Pass
		res.Message = "This machine has no network interface other than loopback."
	case checked == 1:
		res.Status = Pass
		res.Message = "The one network interface other than loopback is switched off and not connected."
	default:
		res.Status = Pass
		res.Message = fmt.Sprintf("None of the %d network interfaces other than loopback is switched on or connected.", checked)
	}
	return res
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// Route flags from <linux/route.h> and <linux/ipv6_route.h>.
const (
	rtfUp     = 0x1
	rtfReject = 0x200
)

// route4 fails when /proc/net/route (the main routing table, see proc(5))
// has a default route: destination and mask 0.0.0.0, flag RTF_UP.
func (c Checker) route4() Result {
	res := Result{ID: IDRouteIPv4, Title: "IPv4 default route"}
	f, err := os.Open(c.path("/proc/net/route"))
	if err != nil {
		res.Status = Unchecked
		res.Message = "Could not read the IPv4 routing table (" + err.Error() + "): make sure /proc is mounted."
		return res
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		if first { // the header line
			first = false
			continue
		}
		fl := procFields(sc.Text())
		if len(fl) < 8 {
			continue
		}
		flags, err := strconv.ParseUint(fl[3], 16, 32)
		if err != nil || fl[1] != "00000000" || fl[7] != "00000000" || flags&rtfUp == 0 {
			continue
		}
		res.Details = append(res.Details, fmt.Sprintf("default route via %s on %s", ipv4Hex(fl[2]), termtext.Safe(fl[0])))
	}
	return routeVerdict(res, sc.Err(), "IPv4", "Remove it (ip -4 route flush default) and find out what configured it.")
}

// procFields splits a line of a /proc/net routing table at ASCII spaces
// and tabs only: an interface name may hold any other character
// (dev_valid_name refuses only '/', ':' and ASCII white space), and
// strings.Fields would split it at a no-break space or NEL, shifting the
// fields so that a default route went unseen.
func procFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

// routeVerdict judges a routing table read into res.Details: any default
// route fails; a table that could not be read to the end was not checked.
func routeVerdict(res Result, readErr error, family, fix string) Result {
	switch {
	case len(res.Details) != 0 && readErr != nil:
		res.Status = Fail
		res.Message = "There is an " + family + " default route, and the rest of the table could not be read (" + readErr.Error() + "). " + fix
	case readErr != nil:
		res.Status = Unchecked
		res.Message = "Could not read the " + family + " routing table (" + readErr.Error() + ")."
	case len(res.Details) != 0:
		res.Status = Fail
		res.Message = "There is an " + family + " default route: this machine is set up to reach other networks. " + fix
	default:
		res.Status = Pass
		res.Message = "There is no " + family + " default route."
	}
	return res
}

// ipv4Hex turns /proc/net/route's little-endian hex address into dotted form.
func ipv4Hex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return s
	}
	return net.IPv4(b[3], b[2], b[1], b[0]).String()
}

// route6 fails when /proc/net/ipv6_route has a usable default route
// (::/0, RTF_UP, not a reject route — the kernel keeps an unreachable ::/0
// on lo). A missing file is what a kernel with IPv6 disabled shows, but
// also what a machine without /proc shows: either way there was nothing
// to look at, so the check is unchecked, for a person to override.
func (c Checker) route6() Result {
	res := Result{ID: IDRouteIPv6, Title: "IPv6 default route"}
	f, err := os.Open(c.path("/proc/net/ipv6_route"))
	if errors.Is(err, os.ErrNotExist) {
		res.Status = Unchecked
		res.Message = "There is no IPv6 routing table to read (/proc/net/ipv6_route is missing): IPv6 may be disabled in the kernel, or /proc is not mounted, and Conclave cannot tell which. If IPv6 is disabled on purpose, override this check with that reason."
		return res
	}
	if err != nil {
		res.Status = Unchecked
		res.Message = "Could not read the IPv6 routing table (" + err.Error() + ")."
		return res
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := procFields(sc.Text())
		if len(fl) < 10 {
			continue
		}
		flags, err := strconv.ParseUint(fl[8], 16, 32)
		if err != nil || fl[0] != strings.Repeat("0", 32) || fl[1] != "00" || flags&rtfUp == 0 || flags&rtfReject != 0 || fl[9] == "lo" {
			continue
		}
		gw := fl[4]
		if b, err := hex.DecodeString(gw); err == nil && len(b) == 16 {
			gw = net.IP(b).String()
		}
		res.Details = append(res.Details, fmt.Sprintf("default route via %s on %s", gw, termtext.Safe(fl[9])))
	}
	return routeVerdict(res, sc.Err(), "IPv6", "Remove it (ip -6 route flush default) and find out what configured it (often router advertisements).")
}

// radios fails when any radio (Wi-Fi, Bluetooth, mobile broadband…) is
// not blocked: /sys/class/rfkill/*/soft and hard both "0" (the kernel's
// Documentation/ABI/stable/sysfs-class-rfkill). No rfkill device at all
// shows nothing: a radio whose driver has no rfkill switch is invisible
// here, so that is unchecked, for a person who knows the hardware to
// override.
func (c Checker) radios() Result {
	res := Result{ID: IDRadios, Title: "Radios (Wi-Fi, Bluetooth…)"}
	dir := c.path("/sys/class/rfkill")
	ents, err := os.ReadDir(dir)
	noRadio := " Conclave cannot see whether a radio is on: a radio whose driver has no rfkill switch does not show here. If the machine has no radio hardware, override this check with that reason."
	if errors.Is(err, os.ErrNotExist) {
		res.Status = Unchecked
		res.Message = "The kernel publishes no radio switches (/sys/class/rfkill is missing)." + noRadio
		return res
	}
	if err != nil {
		res.Status = Unchecked
		res.Message = "Could not check the radios (" + err.Error() + ")."
		return res
	}
	var on, unread []string
	for _, e := range ents {
		base := filepath.Join(dir, e.Name())
		typ, _ := sysfile.ReadTrimmed(filepath.Join(base, "type"))
		name, _ := sysfile.ReadTrimmed(filepath.Join(base, "name"))
		soft, errS := sysfile.ReadTrimmed(filepath.Join(base, "soft"))
		hard, errH := sysfile.ReadTrimmed(filepath.Join(base, "hard"))
		label := fmt.Sprintf("%s %s (%s)", termtext.Safe(radioKind(typ)), termtext.Safe(name), termtext.Safe(e.Name()))
		switch {
		case errS != nil || errH != nil:
			unread = append(unread, label)
			res.Details = append(res.Details, label+": its state could not be read")
		case soft == "0" && hard == "0":
			on = append(on, label)
			res.Details = append(res.Details, label+": ON")
		case hard != "0":
			res.Details = append(res.Details, label+": off (hardware switch)")
		default:
			res.Details = append(res.Details, label+": off (blocked in software)")
		}
	}
	switch {
	case len(on) == 1:
		res.Status = Fail
		res.Message = fmt.Sprintf("A radio is on: %s. Switch it off (rfkill block all, or the machine's radio switch).", on[0])
	case len(on) != 0:
		res.Status = Fail
		res.Message = fmt.Sprintf("%d radios are on: %s. Switch them off (rfkill block all, or the machine's radio switch).", len(on), strings.Join(on, ", "))
	case len(unread) != 0:
		res.Status = Unchecked
		they := "they are"
		if len(unread) == 1 {
			they = "it is"
		}
		res.Message = fmt.Sprintf("The state of %s could not be read, so nothing shows that %s off.", strings.Join(unread, ", "), they)
	case len(ents) == 0:
		res.Status = Unchecked
		res.Message = "The machine reports no radio switch (no rfkill devices)." + noRadio
	case len(ents) == 1:
		res.Status = Pass
		res.Message = "The one radio is off."
	default:
		res.Status = Pass
		res.Message = fmt.Sprintf("All %d radios are off.", len(ents))
	}
	return res
}

func radioKind(t string) string {
	switch t {
	case "wlan":
		return "Wi-Fi"
	case "bluetooth":
		return "Bluetooth"
	case "wwan":
		return "mobile broadband"
	case "uwb":
		return "ultra-wideband"
	case "gps":
		return "GPS"
	case "fm":
		return "FM"
	case "nfc":
		return "NFC"
	case "":
		return "radio"
	}
	return t
}

// clockFloor is a date the clock cannot truthfully be before: this code
// was written after it. A clock before it has certainly not been set.
var clockFloor = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// clock shows the time in UTC and local time for a person to confirm:
// signed metadata expires relative to it.
func (c Checker) clock(now time.Time) Result {
	res := Result{ID: IDClock, Title: "Clock"}
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	res.Details = []string{
		"UTC:   " + now.UTC().Format("Monday 2 January 2006, 15:04:05 MST"),
		"local: " + now.In(loc).Format("Monday 2 January 2006, 15:04:05 MST (-07:00)"),
	}
	if now.Before(clockFloor) {
		res.Status = Fail
		res.Message = "The clock is wrong: it is before " + clockFloor.Format("2 January 2006") + ". Set it from a trusted clock before the ceremony; expiry dates are computed from it."
		return res
	}
	res.Status = Confirm
	res.Message = "The expiry dates of what is signed are computed from this clock. A person must compare it with a trusted clock kept outside this machine."
	res.Question = "Does this time match a trusted clock, to the minute?"
	return res
}

// removable lists the removable media, for the record.
func (c Checker) removable() Result {
	res := Result{ID: IDRemovable, Title: "Removable media"}
	list, err := media.Lister{Root: c.Root, Statfs: c.Statfs}.List()
	if err != nil {
		res.Status = Unchecked
		res.Message = "Could not list the removable media (" + err.Error() + ")."
		return res
	}
	res.Status = Info
	if len(list) == 0 {
		res.Message = "No removable medium is mounted. Conclave never mounts anything: insert the transfer medium and mount it with the system's tools when it is needed."
		return res
	}
	res.Message = termtext.Plural(len(list), "removable medium", "removable media") + " mounted."
	warnings := 0
	for _, m := range list {
		label := "no label"
		if m.Label != "" {
			label = "label " + media.Printable(m.Label)
		}
		state := "read-only"
		if !m.ReadOnly {
			state = "read-write, " + termtext.Safe(m.WriteMode) + " writes"
		}
		space := "free space not measured"
		switch {
		case m.Space != nil:
			space = media.Size(m.Space.Free) + " free of " + media.Size(m.Space.Total)
		case m.SpaceError != "":
			space = "free space unknown (" + termtext.Safe(m.SpaceError) + ")"
		}
		res.Details = append(res.Details, fmt.Sprintf("%s, %s, %s, %s, %s, at %s", termtext.Safe(m.Device), label, termtext.Safe(media.KindText(m)), state, space, media.Printable(m.MountPoint)))
		for _, w := range m.Warnings {
			warnings++
			res.Details = append(res.Details, fmt.Sprintf("WARNING: %s: %s", termtext.Safe(m.Device), termtext.Safe(w)))
		}
	}
	if warnings != 0 {
		res.Message += " " + termtext.Plural(warnings, "warning") + " below: read " + map[bool]string{true: "it", false: "them"}[warnings == 1] + " before using these media."
	}
	return res
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		OK bool `json:"ok"`
	}{r, r.OK()})
}

// WriteText writes the report for the people in the room, wrapped at
// [termtext.Width] columns.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(text, first, rest string) {
		b.WriteString(termtext.Wrap(text, termtext.Width, first, rest))
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "Conclave preflight, %s\n", r.CheckedAt.Format("2006-01-02 15:04:05 UTC"))
	tags := map[Status]string{Pass: "PASS", Fail: "FAIL", Confirm: "CONFIRM", Info: "INFO", Unchecked: "UNCHECKED"}
	const indent = "           " // under the title, past the widest tag
	for _, res := range r.Results {
		fmt.Fprintf(&b, "\n%-10s %s [%s]\n", tags[res.Status], res.Title, res.ID)
		line(res.Message, indent, indent)
		for _, d := range res.Details {
			line(d, indent+"  - ", indent+"    ")
		}
		if res.Question != "" {
			line("To confirm: "+res.Question, indent, indent)
		}
		if res.Override != "" {
			line("OVERRIDDEN, with the reason: "+termtext.Safe(res.Override), indent, indent)
		}
	}
	var confirm, overridden []string
	for _, res := range r.Results {
		switch {
		case res.Status == Confirm:
			confirm = append(confirm, res.Title)
		case res.Override != "":
			overridden = append(overridden, res.Title)
		}
	}
	sort.Strings(confirm)
	var sum []string
	switch {
	case r.OK():
		sum = append(sum, "No check failed.")
	case r.Unchecked == 0:
		sum = append(sum, fmt.Sprintf("%d of %d checks FAILED. Do not go on with a ceremony until each is fixed.", r.Failed, len(r.Results)))
	case r.Failed == 0:
		sum = append(sum, fmt.Sprintf("%s of %d could not look (UNCHECKED). Do not go on with a ceremony until each is fixed, or overridden with a written reason.", termtext.Plural(r.Unchecked, "check"), len(r.Results)))
	default:
		sum = append(sum, fmt.Sprintf("%d of %d checks FAILED and %d could not look (UNCHECKED). Do not go on with a ceremony until each is fixed.", r.Failed, len(r.Results), r.Unchecked))
	}
	if len(overridden) != 0 {
		sum = append(sum, fmt.Sprintf("Could not look, overridden with a written reason: %s.", strings.Join(overridden, ", ")))
	}
	if len(r.UnusedOverrides) != 0 {
		sum = append(sum, fmt.Sprintf("Not used, because the check could look: the override for %s.", strings.Join(r.UnusedOverrides, ", ")))
	}
	if len(confirm) != 0 {
		sum = append(sum, fmt.Sprintf("To be confirmed by a person: %s.", strings.Join(confirm, ", ")))
	}
	b.WriteString("\n")
	line(strings.Join(sum, " "), "", "")
	_, err := io.WriteString(w, b.String())
	return err
}
