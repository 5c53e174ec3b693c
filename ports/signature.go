package ports

// SignatureVerifier checks message signatures so that the WebSocket adapter
// can refuse forged reports without knowing the curve or the hash.
type SignatureVerifier interface {
	// Signer verifies that sig signs body with the key pubKey and returns the
	// key's address (0x-prefixed hex); a bad signature is domain.ErrSignature.
	Signer(pubKey, sig, body []byte) (string, error)
}
