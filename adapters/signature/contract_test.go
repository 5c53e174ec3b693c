package signature_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/crypto"

	"ddn/adapters/signature"
	"ddn/ports/signaturetest"
)

func ethKey(t *testing.T) signaturetest.Key {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return signaturetest.Key{Pub: crypto.FromECDSAPub(&k.PublicKey), Address: crypto.PubkeyToAddress(k.PublicKey).Hex(),
		Sign: func(body []byte) []byte { return sign(t, k, body) }}
}

func TestSecp256k1Contract(t *testing.T) {
	signaturetest.Run(t, signature.Secp256k1{}, ethKey(t), ethKey(t))
}
