package websocket_test

import (
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"ddn/adapters/signature"
	ws "ddn/adapters/websocket"
	"ddn/domain"
)

// signer is an agent's key.
type signer struct {
	key  *ecdsa.PrivateKey
	pub  []byte
	addr string
}

func newSigner(t *testing.T) signer {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return signer{key: k, pub: crypto.FromECDSAPub(&k.PublicKey), addr: crypto.PubkeyToAddress(k.PublicKey).Hex()}
}

func (s signer) sign(t *testing.T, body string) []byte {
	t.Helper()
	sig, err := crypto.Sign(crypto.Keccak256([]byte(body)), s.key)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// signed is an envelope with a base64 body and the given pub_key and sign
// (raw JSON values, so tests can put anything there).
func signed(id uint64, typ uint32, body, pubJSON, signJSON string) string {
	return fmt.Sprintf(`{"version":0,"timestamp":1732450000000,"id":%d,"type":%d,"pub_key":%s,"sign":%s,"body":%q}`,
		id, typ, pubJSON, signJSON, base64.StdEncoding.EncodeToString([]byte(body)))
}

func b64(b []byte) string { return `"` + base64.StdEncoding.EncodeToString(b) + `"` }

func TestSignatures(t *testing.T) {
	agent, other := newSigner(t), newSigner(t)
	online := onlineBody("signed-1")
	gpu := strings.Replace(gpuBody, `"wallet":"0xabc"`, fmt.Sprintf(`"wallet":%q`, strings.ToLower(agent.addr)), 1)
	bw := strings.Replace(bwBody, `"wallet":"0xabc"`, fmt.Sprintf(`"wallet":%q`, agent.addr), 1)
	otherWallet := strings.Replace(gpuBody, `"wallet":"0xabc"`, fmt.Sprintf(`"wallet":%q`, other.addr), 1)
	v28 := agent.sign(t, bw)
	v28[64] += 27

	s := newServer(t, ws.Options{VerifySignatures: true, Verifier: signature.Secp256k1{}})
	c := s.dial(t)
	c.expect(signed(1, 1, online, b64(agent.pub), b64(agent.sign(t, online))), 0, "machine online success")
	cases := []struct {
		name, frame string
		code        uint32
		msg         string
	}{
		{"valid report", signed(2, 2, gpu, b64(agent.pub), b64(agent.sign(t, gpu))), 0, "add machine tm success"},
		{"valid, compressed key, V 27/28", signed(3, 4, bw, b64(crypto.CompressPubkey(&agent.key.PublicKey)), b64(v28)), 0, "add machine bandwidth tm success"},
		{"valid inline JSON body: the raw bytes are signed", fmt.Sprintf(`{"id":4,"type":2,"pub_key":%s,"sign":%s,"body":%s}`, b64(agent.pub), b64(agent.sign(t, gpu)), gpu), 0, "add machine tm success"},
		{"unsigned is accepted when not required", envelope(5, 2, gpu), 0, ""},
		{"wrong key", signed(6, 2, gpu, b64(other.pub), b64(agent.sign(t, gpu))), 3, "does not verify"},
		{"signed by another key", signed(7, 2, gpu, b64(agent.pub), b64(other.sign(t, gpu))), 3, "does not verify"},
		{"wrong body", signed(8, 2, gpu, b64(agent.pub), b64(agent.sign(t, gpu+" "))), 3, "does not verify"},
		{"wallet of someone else", signed(9, 2, otherWallet, b64(agent.pub), b64(agent.sign(t, otherWallet))), 3, "is not the address of pub_key"},
		{"sign missing", signed(10, 2, gpu, b64(agent.pub), `""`), 3, "pub_key without sign"},
		{"pub_key missing", signed(11, 2, gpu, `null`, b64(agent.sign(t, gpu))), 3, "sign without pub_key"},
		{"sign not base64", signed(12, 2, gpu, b64(agent.pub), `"%%%"`), 3, "sign is not valid base64"},
		{"pub_key not base64", signed(13, 2, gpu, `"!!"`, b64(agent.sign(t, gpu))), 3, "pub_key is not valid base64"},
		{"sign a number", signed(14, 2, gpu, b64(agent.pub), `42`), 3, "sign must be a base64 string"},
		{"sign too short", signed(15, 2, gpu, b64(agent.pub), b64(agent.sign(t, gpu)[:64])), 3, "does not verify"},
		{"pub_key of a wrong length", signed(16, 2, gpu, b64(agent.pub[:30]), b64(agent.sign(t, gpu))), 3, "does not verify"},
	}
	for _, tc := range cases {
		a := c.send(tc.frame)
		if a.Code != tc.code || !strings.Contains(a.Message, tc.msg) {
			t.Errorf("%s: code %d %q, want %d containing %q", tc.name, a.Code, a.Message, tc.code, tc.msg)
		}
	}
	// Exactly the acknowledged reports are stored: 4 of them.
	rs, err := s.store.ListReports(t.Context(), keyOf("signed-1"), zeroTime, zeroTime, 0)
	if err != nil || len(rs) != 4 {
		t.Fatalf("stored %d reports (%v), want the 4 acknowledged", len(rs), err)
	}
}

func TestRequireSignatures(t *testing.T) {
	agent := newSigner(t)
	s := newServer(t, ws.Options{VerifySignatures: true, RequireSignatures: true, Verifier: signature.Secp256k1{}})
	c := s.dial(t)
	c.expect(envelope(1, 1, onlineBody("req-1")), 3, "not signed")
	c.expect(`{"id":2,"type":1,"body":`+onlineBody("req-1")+`}`, 3, "not signed")
	online := onlineBody("req-1")
	c.expect(signed(3, 1, online, b64(agent.pub), b64(agent.sign(t, online))), 0, "machine online success")
	c.expect(envelope(4, 2, gpuBody), 3, "not signed")
}

func TestSignaturesIgnoredWhenVerificationIsOff(t *testing.T) {
	s := newServer(t, ws.Options{Verifier: signature.Secp256k1{}})
	c := s.dial(t)
	c.expect(signed(1, 1, onlineBody("off-1"), `"AQID"`, `"%%%"`), 0, "machine online success")
	c.expect(signed(2, 2, gpuBody, `"AQID"`, `"BAUG"`), 0, "add machine tm success")
}

var zeroTime time.Time

func keyOf(machine string) domain.MachineKey {
	return domain.MachineKey{MachineID: machine, Project: "deeplink"}
}

// readmeSignedFrame is the signed report of the README's worked example.
const readmeSignedFrame = `{"version":0,"timestamp":1732450000000,"id":2,"type":4,` +
	`"pub_key":"BE47ga+cIjTK0J1nnOYDXtE5I0fOZM5AX13NNiKKJd5uR/01xCFdHt9T5vg940RhXOcZvbD9h49u128G3Sd5Vt4=",` +
	`"sign":"0CA/t+fIgXpz3FZ2l84cIj6NM9OPxNDnrxRXQg2rlEVOVbIo/2bMtf6jkL4gLdM0ChPWuUE8sHRX2atJwmgQJQA=",` +
	`"body":"eyJjcHVfY29yZXMiOjEsIm1lbW9yeV90b3RhbCI6MiwiaGRkIjo1MCwiYmFuZHdpZHRoIjoxMCwid2FsbGV0IjoiMHgyYzc1MzZFMzYwNUQ5QzE2YTdhM0Q3YjE4OThlNTI5Mzk2YTY1YzIzIn0="}`

func TestREADMESignedExampleIsAccepted(t *testing.T) {
	s := newServer(t, ws.Options{VerifySignatures: true, Verifier: signature.Secp256k1{}})
	c := s.dial(t)
	c.expect(envelope(1, 1, onlineBody("readme")), 0, "")
	c.expect(readmeSignedFrame, 0, "add machine bandwidth tm success")
	tampered := strings.Replace(readmeSignedFrame, `"sign":"0CA`, `"sign":"1CA`, 1)
	c.expect(tampered, 3, "sign error")
}
