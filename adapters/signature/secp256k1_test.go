package signature_test

import (
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"ddn/adapters/signature"
	"ddn/domain"
)

const body = `{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"0xabc"}`

func sign(t *testing.T, key *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	sig, err := crypto.Sign(crypto.Keccak256(msg), key)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestSigner(t *testing.T) {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := crypto.GenerateKey()
	pub := crypto.FromECDSAPub(&key.PublicKey)
	addr := crypto.PubkeyToAddress(key.PublicKey).Hex()
	sig := sign(t, key, []byte(body))
	v27 := append([]byte(nil), sig...)
	v27[64] += 27
	badV := append([]byte(nil), sig...)
	badV[64] = 5

	cases := []struct {
		name      string
		pub, sig  []byte
		body      string
		wantValid bool
	}{
		{"valid uncompressed", pub, sig, body, true},
		{"valid compressed key", crypto.CompressPubkey(&key.PublicKey), sig, body, true},
		{"valid with V 27/28", pub, v27, body, true},
		{"wrong key", crypto.FromECDSAPub(&other.PublicKey), sig, body, false},
		{"signed by another key", pub, sign(t, other, []byte(body)), body, false},
		{"wrong body", pub, sig, body + " ", false},
		{"missing signature", pub, nil, body, false},
		{"missing key", nil, sig, body, false},
		{"short signature", pub, sig[:64], body, false},
		{"bad recovery id", pub, badV, body, false},
		{"key of wrong length", pub[:40], sig, body, false},
		{"key not on the curve", append([]byte{4}, make([]byte, 64)...), sig, body, false},
		{"zero signature", pub, make([]byte, 65), body, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := signature.Secp256k1{}.Signer(tc.pub, tc.sig, []byte(tc.body))
			if tc.wantValid {
				if err != nil || got != addr {
					t.Fatalf("Signer = %q, %v; want %s", got, err, addr)
				}
				return
			}
			if !errors.Is(err, domain.ErrSignature) || domain.CodeOf(err) != domain.CodeSign {
				t.Fatalf("Signer = %q, %v; want a sign error (code 3)", got, err)
			}
		})
	}
}

func TestSignerOwnsWallet(t *testing.T) {
	key, _ := crypto.GenerateKey()
	addr := crypto.PubkeyToAddress(key.PublicKey).Hex()
	for _, w := range []string{"", addr, strings.ToLower(addr), strings.ToUpper(addr[2:]), "0X" + addr[2:]} {
		if err := domain.SignerOwnsWallet(addr, w); err != nil {
			t.Errorf("wallet %q of signer %s refused: %v", w, addr, err)
		}
	}
	for _, w := range []string{"0xabc", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY", addr[:len(addr)-1]} {
		if err := domain.SignerOwnsWallet(addr, w); domain.CodeOf(err) != domain.CodeSign {
			t.Errorf("wallet %q of signer %s: %v, want code 3", w, addr, err)
		}
	}
}

// TestWorkedExample pins the README's worked example so it stays true.
func TestWorkedExample(t *testing.T) {
	key, err := crypto.HexToECDSA(exampleKey)
	if err != nil {
		t.Fatal(err)
	}
	hash := crypto.Keccak256([]byte(exampleBody))
	sig, err := crypto.Sign(hash, key)
	if err != nil {
		t.Fatal(err)
	}
	pub := crypto.FromECDSAPub(&key.PublicKey)
	t.Logf("address %s\npub_key %x\nhash %x\nsign %x", crypto.PubkeyToAddress(key.PublicKey).Hex(), pub, hash, sig)
	if hex.EncodeToString(hash) != exampleHash || hex.EncodeToString(sig) != exampleSign || hex.EncodeToString(pub) != examplePub {
		t.Fatalf("the README's example is stale: update it with the values logged above")
	}
	if got, err := (signature.Secp256k1{}).Signer(pub, sig, []byte(exampleBody)); err != nil || got != exampleAddress {
		t.Fatalf("Signer = %s, %v", got, err)
	}
}

// FuzzSigner feeds arbitrary keys, signatures and bodies to the verifier:
// no panic, and every refusal is a sign error (code 3).
func FuzzSigner(f *testing.F) {
	key, _ := crypto.HexToECDSA(exampleKey)
	sig, _ := crypto.Sign(crypto.Keccak256([]byte(exampleBody)), key)
	f.Add(crypto.FromECDSAPub(&key.PublicKey), sig, []byte(exampleBody))
	f.Add(crypto.CompressPubkey(&key.PublicKey), sig, []byte(exampleBody))
	f.Add([]byte{4}, make([]byte, 65), []byte{})
	f.Fuzz(func(t *testing.T, pub, sig, body []byte) {
		if _, err := (signature.Secp256k1{}).Signer(pub, sig, body); err != nil && domain.CodeOf(err) != domain.CodeSign {
			t.Fatalf("%v mapped to code %d", err, domain.CodeOf(err))
		}
	})
}

// BenchmarkSigner is the cost verification adds to every signed message.
func BenchmarkSigner(b *testing.B) {
	key, _ := crypto.HexToECDSA(exampleKey)
	sig, _ := crypto.Sign(crypto.Keccak256([]byte(exampleBody)), key)
	pub := crypto.FromECDSAPub(&key.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (signature.Secp256k1{}).Signer(pub, sig, []byte(exampleBody)); err != nil {
			b.Fatal(err)
		}
	}
}
