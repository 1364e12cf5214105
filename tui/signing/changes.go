package signing

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/conclave-keys/conclave/ceremony/build"
	"github.com/conclave-keys/conclave/internal/termtext"
)

// changeAt finds the i-th change over all cards (in the cards' order):
// starts[k] is the index of card k's first change. Only the changes on
// screen are ever looked up, so a card of 100,000 changes costs nothing
// more to draw than one of ten.
func changeAt(cards []*build.Card, starts []int, i int) (*build.Card, *build.Change) {
	k := sort.Search(len(starts), func(k int) bool { return starts[k] > i }) - 1
	if k < 0 || i-starts[k] >= len(cards[k].Changes) {
		return nil, nil
	}
	return cards[k], &cards[k].Changes[i-starts[k]]
}

// changeStarts is where each card's changes start in the list of all.
func changeStarts(cards []*build.Card) ([]int, int) {
	starts := make([]int, len(cards))
	n := 0
	for k, c := range cards {
		starts[k] = n
		n += len(c.Changes)
	}
	return starts, n
}

// changeLine says one project's change in the built payload against the
// trusted metadata: "+" added, "-" removed, "~" changed.
func changeLine(c *build.Card, ch *build.Change) string {
	role, project := termtext.Safe(c.Role), termtext.Safe(ch.Project)
	switch {
	case ch.Before == nil && ch.After != nil:
		return fmt.Sprintf("+ %s  %s  added: %s, threshold %d, %s", role, project, keyList(ch.After.KeyIDs), ch.After.Threshold, termtext.Plural(len(ch.After.Paths), "path"))
	case ch.After == nil:
		return fmt.Sprintf("- %s  %s  removed", role, project)
	}
	var parts []string
	if !slices.Equal(ch.Before.KeyIDs, ch.After.KeyIDs) {
		parts = append(parts, fmt.Sprintf("keys %s → %s", keyList(ch.Before.KeyIDs), keyList(ch.After.KeyIDs)))
	}
	if ch.Before.Threshold != ch.After.Threshold {
		parts = append(parts, fmt.Sprintf("threshold %d → %d", ch.Before.Threshold, ch.After.Threshold))
	}
	if !slices.Equal(ch.Before.Paths, ch.After.Paths) {
		parts = append(parts, fmt.Sprintf("paths %d → %d", len(ch.Before.Paths), len(ch.After.Paths)))
	}
	return fmt.Sprintf("~ %s  %s  %s", role, project, strings.Join(parts, " · "))
}

// keyList names keys by their shortened keyids (termtext.ShortHex
// shows anything but lowercase hex through termtext.Safe).
func keyList(ids []string) string {
	short := make([]string, len(ids))
	for i, id := range ids {
		short[i] = termtext.ShortHex(id)
	}
	return strings.Join(short, ", ")
}
