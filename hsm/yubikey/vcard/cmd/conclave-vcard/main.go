// Command conclave-vcard runs virtual YubiKey SIMULATORS for rehearsals:
// one card per vpcd reader of a running pcscd, all under one fresh
// simulator attestation root, whose certificate it writes to a file so the
// rehearsal can trust it (and mark every key NON-YUBICO).
//
//	conclave-vcard -port 35963 -cards 2 -serial 90000001 -ca-cert sim-ca.pem
//
// Cards start in factory state (PIN 123456, PUK 12345678, default management
// key) and live in this process's memory: stopping it pulls them all. Type a
// card's number and Enter to touch it, or use -auto-touch.
package main

import (
	"bufio"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-keys/conclave/hsm/yubikey/vcard"
)

func main() {
	port := flag.Int("port", 35963, "vpcd port of the first reader on 127.0.0.1 (Debian's vpcd: 35963 and 35964)")
	cards := flag.Int("cards", 1, "number of cards, on consecutive ports")
	serial := flag.Uint("serial", 90000001, "serial number of the first card")
	firmware := flag.String("firmware", "5.7.1", "firmware version the cards report")
	autoTouch := flag.Duration("auto-touch", 0, "touch automatically after this delay (0: type the card's number and Enter)")
	caOut := flag.String("ca-cert", "", "write the simulator attestation root certificate (PEM) to this file")
	flag.Parse()
	if err := run(*port, *cards, uint32(*serial), *firmware, *autoTouch, *caOut); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(port, n int, serial uint32, fw string, autoTouch time.Duration, caOut string) error {
	var v [3]byte
	parts := strings.Split(fw, ".")
	if len(parts) != 3 {
		return fmt.Errorf("firmware %q: want major.minor.patch", fw)
	}
	for i, p := range parts {
		x, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return fmt.Errorf("firmware %q: %v", fw, err)
		}
		v[i] = byte(x)
	}
	ca, err := vcard.NewCA()
	if err != nil {
		return err
	}
	if caOut != "" {
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
		if err := os.WriteFile(caOut, b, 0o644); err != nil {
			return err
		}
	}
	var all []*vcard.Card
	for i := range n {
		c, err := vcard.New(vcard.Config{Serial: serial + uint32(i), Firmware: v, CA: ca, AutoTouch: autoTouch})
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port+i)
		if err := c.Insert(addr); err != nil {
			return err
		}
		fmt.Printf("card %d: virtual YubiKey SIMULATOR serial %d, firmware %s, in the reader at %s\n", i+1, c.Serial(), fw, addr)
		all = append(all, c)
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			i, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
			if err != nil || i < 1 || i > len(all) {
				fmt.Printf("type a card number from 1 to %d to touch it\n", len(all))
				continue
			}
			if !all[i-1].Touch() {
				fmt.Println("a touch is already pending")
			}
		}
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	<-sig
	for _, c := range all {
		c.Remove()
	}
	return nil
}
