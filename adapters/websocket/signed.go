package websocket

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"ddn/domain"
)

// signError is a refused signature: code 3 with the reason, so agent authors
// see what to fix.
func signError(format string, args ...any) error {
	return &wireError{code: domain.CodeSign, msg: "sign error: " + fmt.Sprintf(format, args...)}
}

// signedField decodes pub_key or sign: absent, null or "" is none; otherwise
// a base64 string.
func signedField(name string, raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, signError("%s must be a base64 string", name)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, signError("%s is not valid base64", name)
	}
	return b, nil
}

// signer checks the envelope's signature of body when verification is on
// and returns the signer's address ("" when unsigned or not verified).
// Verification off: pub_key and sign are ignored, as the original node did.
func (c *conn) signer(req request, body []byte) (string, error) {
	o := c.h.opts
	if !o.VerifySignatures || o.Verifier == nil {
		return "", nil
	}
	pub, err := signedField("pub_key", req.PubKey)
	if err != nil {
		return "", err
	}
	sig, err := signedField("sign", req.Sign)
	if err != nil {
		return "", err
	}
	switch {
	case pub == nil && sig == nil:
		if o.RequireSignatures {
			return "", signError("message is not signed; this node requires pub_key and sign")
		}
		return "", nil
	case pub == nil:
		return "", signError("sign without pub_key")
	case sig == nil:
		return "", signError("pub_key without sign")
	}
	addr, err := o.Verifier.Signer(pub, sig, body)
	if err != nil {
		c.log.log(zap.DebugLevel, "signature refused", zap.Error(err))
		return "", signError("signature does not verify against pub_key (secp256k1 over Keccak-256 of the body)")
	}
	return addr, nil
}

// checkWallet applies the domain rule that a signed report speaks only for
// the signer's own wallet.
func checkWallet(signer, wallet string) error {
	if signer == "" {
		return nil
	}
	if err := domain.SignerOwnsWallet(signer, wallet); err != nil {
		return signError("wallet %q is not the address of pub_key (%s)", wallet, signer)
	}
	return nil
}
