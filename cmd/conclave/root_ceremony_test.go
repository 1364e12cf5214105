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
	if _, _, err := parseOnlineKeys("snapshot="+plain+",timestamp="+extra, nil); err != nil {
		t.Fatalf("public keys: %v", err)
	}
	want := "online key " + withPrivate + ": keyval.private: the file holds more than the public key; give the public key alone"
	_, _, err = parseOnlineKeys("snapshot="+plain+",timestamp="+withPrivate, nil)
	var r *refusedError
	if !errors.As(err, &r) || err.Error() != want {
		t.Errorf("%v, want refused %q", err, want)
	}
}
