package websocket

import (
	"testing"

	"ddn/domain"
	"ddn/internal/wire"
)

// checkCode fails when err maps to no protocol answer a client can act on:
// every refused input is a parse (2), parameter (1) or invalid-info (6) error.
func checkCode(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	code, msg := describe(err)
	switch code {
	case domain.CodeParse, domain.CodeParameter, domain.CodeInvalidInfo:
	default:
		t.Fatalf("%s: %v mapped to code %d %q", what, err, code, msg)
	}
	if msg == "" {
		t.Fatalf("%s: %v answered without a message", what, err)
	}
}

// FuzzOnlineBody feeds arbitrary bytes to the online (type 1) body decoder
// and its validation: no panic, and every refusal is answered with a code.
func FuzzOnlineBody(f *testing.F) {
	f.Add([]byte(`{"machine_id":"123456789","project":"deeplink","container_id":"","staking_type":0}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b wire.Online
		if err := decodeBody(body, onlineBodyFailed, &b); err != nil {
			checkCode(t, "decode", err)
			return
		}
		req, err := b.Request()
		if err != nil {
			checkCode(t, "staking type", err)
			return
		}
		checkCode(t, "key", req.Key.Validate())
		checkCode(t, "staking type", req.StakingType.Validate())
	})
}

// FuzzShortTermBody does the same for GPU machine info (type 2).
func FuzzShortTermBody(f *testing.F) {
	f.Add([]byte(`{"cpu_type":"x","cpu_rate":2500,"gpu_names":["a"],"gpu_memory_total":[8],"memory_total":16,"wallet":"w"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b wire.ShortTerm
		if err := decodeBody(body, shortTermBodyFailed, &b); err != nil {
			checkCode(t, "decode", err)
			return
		}
		checkCode(t, "validate", b.Info().Validate())
		checkCode(t, "wallet", checkWallet("", b.Wallet))
	})
}

// FuzzBandwidthBody does the same for bandwidth machine info (type 4).
func FuzzBandwidthBody(f *testing.F) {
	f.Add([]byte(`{"cpu_cores":1,"memory_total":2,"hdd":50,"bandwidth":10,"wallet":"w"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b wire.Bandwidth
		if err := decodeBody(body, bandwidthBodyFailed, &b); err != nil {
			checkCode(t, "decode", err)
			return
		}
		checkCode(t, "validate", b.Info().Validate())
	})
}

// FuzzSignedFields feeds arbitrary pub_key/sign values through their decoding:
// every refusal is a sign error (3).
func FuzzSignedFields(f *testing.F) {
	for _, s := range []string{`"AQID"`, `null`, `""`, `42`, `"%%%"`, `"` + "BAUG" + `"`, `{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := signedField("sign", raw); err != nil {
			if code, _ := describe(err); code != domain.CodeSign {
				t.Fatalf("%q: %v mapped to code %d", raw, err, code)
			}
		}
	})
}
