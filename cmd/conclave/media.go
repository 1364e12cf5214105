package main

import (
	"context"
	"fmt"

	"github.com/conclave-keys/conclave/airgap/media"
)

// MediaFormat names the JSON document of media --json
// (docs/formats/schema/media.schema.json).
const MediaFormat = "conclave-media/1"

// mediaList is the conclave-media/1 document.
type mediaList struct {
	Format string         `json:"format"`
	Media  []media.Medium `json:"media"`
}

var mediaCommand = &command{
	name:    "media",
	summary: "list the removable media that are mounted (Conclave never mounts anything)",
	usage:   "media [--json]",
}

func init() {
	mediaCommand.run = runMedia
	register(mediaCommand)
}

// runMedia lists the mounted removable media.
func runMedia(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, mediaCommand)
	asJSON := fs.Bool("json", false, "print the list as JSON (conclave-media/1)")
	root := fs.String("root", "/", "read /sys, /proc and /dev under this `DIR` instead of / (for tests)")
	if err := parseFlags(env, mediaCommand, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("media takes no arguments")
	}
	lister := media.System()
	if *root != "/" {
		lister = media.Lister{Root: *root}
	}
	list, err := lister.List()
	if err != nil {
		return withHint(err, "Conclave reads /proc/self/mountinfo and /sys to find media: make sure /proc and /sys are mounted")
	}
	if *asJSON {
		if list == nil {
			list = []media.Medium{}
		}
		err = writeJSON(env.stdout, mediaList{Format: MediaFormat, Media: list})
	} else {
		err = media.WriteText(env.stdout, list)
	}
	if err != nil {
		return fmt.Errorf("print the media list: %w", err)
	}
	return nil
}
