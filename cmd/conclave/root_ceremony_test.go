package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"

	"github.com/conclave-keys/conclave/ceremony/tuf"
)

// TestOnlineKeyPublicOnly: an online key file is a public key object. A
// key file as some tools write it, with keyval.private beside
// keyval.public, is refused: every member of a key object goes into the
// root as it is (it is part of the keyid), so the private key would be
// published. Other members (keyid_hash_algorithms) stay, as they do in
// metadata.
func TestOnlineKeyPublicOnly(t *testing.T) {
	dir := t.TempDir()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	k, err := tuf.KeyFromPublic(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	plain := writeBytes(t, filepath.Join(dir, "snapshot.pub.json"), k.Canonical())
	withPrivate := writeBytes(t, filepath.Join(dir, "timestamp.json"), []byte(`{"keytype":"ed25519","keyval":{"private":"`+hex.EncodeToString(priv.Seed())+`","public":"`+hex.EncodeToString(priv.Public().(ed25519.PublicKey))+`"},"scheme":"ed25519"}`))
	extra := writeBytes(t, filepath.Join(dir, "extra.json"), []byte(`{"keyid_hash_algorithms":["sha256"],"keytype":"ed25519","keyval":{"public":"`+hex.EncodeToString(priv.Public().(ed25519.PublicKey))+`"},"scheme":"ed25519"}`))
	if _, _, err := parseOnlineKeys([]string{"snapshot=" + plain + ",timestamp=" + extra}, nil); err != nil {
		t.Fatalf("public keys: %v", err)
	}
	want := "online key " + withPrivate + ": keyval.private: the file holds more than the public key; give the public key alone"
	_, _, err = parseOnlineKeys([]string{"snapshot=" + plain + ",timestamp=" + withPrivate}, nil)
	var r *refusedError
	if !errors.As(err, &r) || err.Error() != want {
		t.Errorf("%v, want refused %q", err, want)
	}
}

// TestOnlineKeysPathWithComma: --online-keys is cut at a "," only where a
// role the command takes and "=" follow, so a key file whose path holds
// "," or "=" is read; a value may name several keys, and the flag may be
// repeated.
func TestOnlineKeysPathWithComma(t *testing.T) {
	dir := t.TempDir()
	key := func(seed byte, name string) (*tuf.Key, string) {
		k, err := tuf.KeyFromPublic(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32)).Public())
		if err != nil {
			t.Fatal(err)
		}
		return k, writeBytes(t, filepath.Join(dir, name), k.Canonical())
	}
	snap, snapFile := key(1, "keys,2026/snapshot=1.json")
	ts, tsFile := key(2, "timestamp,a.json")
	rc, rcFile := key(3, "recent,timestamp.json")
	online, more, err := parseOnlineKeys(onlineKeysArg("snapshot="+snapFile+",timestamp="+tsFile, "recently-claimed="+rcFile), []string{"recently-claimed"})
	if err != nil {
		t.Fatal(err)
	}
	if online["snapshot"].ID() != snap.ID() || online["timestamp"].ID() != ts.ID() || len(more["recently-claimed"]) != 1 || more["recently-claimed"][0].ID() != rc.ID() {
		t.Errorf("online %v, delegated %v", online, more)
	}
}

func onlineKeysArg(a ...string) []string { return a }
