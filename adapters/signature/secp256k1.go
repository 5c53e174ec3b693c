// Package signature verifies the agents' message signatures: secp256k1 over
// the Keccak-256 hash of the body, with go-ethereum's crypto package.
package signature

import (
	"bytes"
	"fmt"

	"github.com/ethereum/go-ethereum/crypto"

	"ddn/domain"
)

// Secp256k1 is the ports.SignatureVerifier of the protocol's signatures.
type Secp256k1 struct{}

// Signer checks a 65-byte [R || S || V] signature (V 0/1, or 27/28 as
// Ethereum tools write it) of Keccak-256(body) against pubKey (65-byte
// uncompressed or 33-byte compressed) and returns pubKey's address.
func (Secp256k1) Signer(pubKey, sig, body []byte) (string, error) {
	if len(sig) != crypto.SignatureLength {
		return "", fmt.Errorf("signature is %d bytes, want %d: %w", len(sig), crypto.SignatureLength, domain.ErrSignature)
	}
	want, err := parsePubKey(pubKey)
	if err != nil {
		return "", err
	}
	s := bytes.Clone(sig)
	if s[64] == 27 || s[64] == 28 {
		s[64] -= 27
	}
	if s[64] > 1 {
		return "", fmt.Errorf("signature recovery id %d is not 0, 1, 27 or 28: %w", sig[64], domain.ErrSignature)
	}
	got, err := crypto.Ecrecover(crypto.Keccak256(body), s)
	if err != nil {
		return "", fmt.Errorf("recover signer: %v: %w", err, domain.ErrSignature)
	}
	if !bytes.Equal(got, want) {
		return "", fmt.Errorf("signature is not by pub_key: %w", domain.ErrSignature)
	}
	pub, err := crypto.UnmarshalPubkey(got)
	if err != nil {
		return "", fmt.Errorf("recovered key: %v: %w", err, domain.ErrSignature)
	}
	return crypto.PubkeyToAddress(*pub).Hex(), nil
}

// parsePubKey returns the 65-byte uncompressed form of a public key.
func parsePubKey(b []byte) ([]byte, error) {
	switch len(b) {
	case 65:
		pub, err := crypto.UnmarshalPubkey(b)
		if err != nil {
			return nil, fmt.Errorf("pub_key is not a secp256k1 point: %w", domain.ErrSignature)
		}
		return crypto.FromECDSAPub(pub), nil
	case 33:
		pub, err := crypto.DecompressPubkey(b)
		if err != nil {
			return nil, fmt.Errorf("pub_key is not a compressed secp256k1 point: %w", domain.ErrSignature)
		}
		return crypto.FromECDSAPub(pub), nil
	}
	return nil, fmt.Errorf("pub_key is %d bytes, want 65 (uncompressed) or 33 (compressed): %w", len(b), domain.ErrSignature)
}
