package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

var versionCommand = &command{
	name:    "version",
	summary: "print the version, source revision, Go version and the SHA-256 of this binary (also: conclave --version)",
	usage:   "version",
}

func init() {
	versionCommand.run = runVersion
	register(versionCommand)
}

// runVersion prints what the people in the room compare with a
// reproducible build made elsewhere.
func runVersion(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, versionCommand)
	if err := parseFlags(env, versionCommand, fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("version takes no arguments")
	}
	return printVersion(env.stdout)
}

func printVersion(w io.Writer) error {
	info, ok := debug.ReadBuildInfo()
	version, revision, modified, goVersion := "(unknown)", "(unknown)", "", "(unknown)"
	if ok {
		goVersion = info.GoVersion
		version = info.Main.Version
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = " (with uncommitted changes)"
				}
			}
		}
	}
	sum, err := selfHash()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "conclave %s\nrevision:  %s%s\ngo:        %s\nsha256:    %s\n", version, revision, modified, goVersion, sum)
	return nil
}

// selfHash hashes the running binary, so the people in the room can compare
// it with the hash of a reproducible build made elsewhere.
func selfHash() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this program's file: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("read this program's file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read this program's file %s: %w", exe, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
