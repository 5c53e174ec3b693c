package memory_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"ddn/adapters/memory"
	"ddn/ports/signaturetest"
)

func fakeKey(seed string) signaturetest.Key {
	pub := sha256.Sum256([]byte(seed))
	return signaturetest.Key{Pub: pub[:], Address: "0x" + hex.EncodeToString(pub[:20]),
		Sign: func(body []byte) []byte { return memory.Signatures{}.Sign(pub[:], body) }}
}

func TestSignaturesContract(t *testing.T) {
	signaturetest.Run(t, memory.Signatures{}, fakeKey("a"), fakeKey("b"))
}
