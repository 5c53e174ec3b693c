package domain

import (
	"fmt"
	"strings"
)

// SignerOwnsWallet is the rule that a signed report may only speak for the
// signer's own wallet: an empty wallet asserts nothing; otherwise the signer's
// address and the wallet must be the same hex address, compared without case
// and with or without the 0x prefix.
func SignerOwnsWallet(signer, wallet string) error {
	if wallet == "" {
		return nil
	}
	norm := func(s string) string { return strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")) }
	if signer == "" || norm(signer) != norm(wallet) {
		return fmt.Errorf("wallet %q is not the signer's address %s: %w", wallet, signer, ErrSignature)
	}
	return nil
}
