package memory

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"ddn/domain"
)

// Signatures is the fake ports.SignatureVerifier: a signature is valid when it
// is SHA-256(pubKey || body), and the address is 0x + hex of pubKey's first
// 20 bytes, so tests can sign without a curve.
type Signatures struct{}

// Sign returns the signature Signatures accepts for body by pubKey.
func (Signatures) Sign(pubKey, body []byte) []byte {
	h := sha256.Sum256(append(bytes.Clone(pubKey), body...))
	return h[:]
}

// Signer verifies sig the fake way and returns the fake address.
func (s Signatures) Signer(pubKey, sig, body []byte) (string, error) {
	if len(pubKey) < 20 {
		return "", fmt.Errorf("pub_key is %d bytes: %w", len(pubKey), domain.ErrSignature)
	}
	if !bytes.Equal(sig, s.Sign(pubKey, body)) {
		return "", fmt.Errorf("signature is not by pub_key: %w", domain.ErrSignature)
	}
	return "0x" + hex.EncodeToString(pubKey[:20]), nil
}
