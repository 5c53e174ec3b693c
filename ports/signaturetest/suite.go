// Package signaturetest is the contract every ports.SignatureVerifier must
// honour. It runs against the in-memory fake and the secp256k1 adapter, so
// tests that use the fake rely on the behaviour the real one has.
package signaturetest

import (
	"bytes"
	"strings"
	"testing"

	"ddn/domain"
	"ddn/ports"
)

// Key is one signer as an implementation's tests make it.
type Key struct {
	// Pub is the public key as agents send it in pub_key.
	Pub []byte
	// Address is what the verifier must return for it (0x-hex).
	Address string
	// Sign signs body the way the verifier checks.
	Sign func(body []byte) []byte
}

// Run runs the contract against v with two distinct keys.
func Run(t *testing.T, v ports.SignatureVerifier, a, b Key) {
	body := []byte(`{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"0xabc"}`)
	sig := a.Sign(body)
	refused := func(t *testing.T, name string, pub, sig, body []byte) {
		t.Helper()
		if addr, err := v.Signer(pub, sig, body); domain.CodeOf(err) != domain.CodeSign {
			t.Errorf("%s: Signer = %q, %v; want a sign error (code 3)", name, addr, err)
		}
	}
	t.Run("ValidSignatureNamesTheSigner", func(t *testing.T) {
		addr, err := v.Signer(a.Pub, sig, body)
		if err != nil || !strings.EqualFold(addr, a.Address) || !strings.HasPrefix(addr, "0x") {
			t.Fatalf("Signer = %q, %v; want %s", addr, err, a.Address)
		}
		if err := domain.SignerOwnsWallet(addr, a.Address); err != nil {
			t.Fatalf("the signer does not own its own address: %v", err)
		}
	})
	t.Run("DistinctKeysHaveDistinctAddresses", func(t *testing.T) {
		got, err := v.Signer(b.Pub, b.Sign(body), body)
		if err != nil || strings.EqualFold(got, a.Address) {
			t.Fatalf("second key: %q, %v", got, err)
		}
	})
	t.Run("RefusesForgeries", func(t *testing.T) {
		refused(t, "another key's pub_key", b.Pub, sig, body)
		refused(t, "signed by another key", a.Pub, b.Sign(body), body)
		refused(t, "another body", a.Pub, sig, append(bytes.Clone(body), ' '))
		refused(t, "no signature", a.Pub, nil, body)
		refused(t, "no key", nil, sig, body)
		refused(t, "truncated signature", a.Pub, sig[:len(sig)-1], body)
		flipped := bytes.Clone(sig)
		flipped[0] ^= 0xff
		refused(t, "altered signature", a.Pub, flipped, body)
	})
}
