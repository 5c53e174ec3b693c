package wire_test

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"testing"

	"ddn/internal/wire"
)

// TestEncodeRequestIsWhatJSONMarshalWrites: the hand-appended request is
// byte for byte json.Marshal of the Envelope it stands for.
func TestEncodeRequestIsWhatJSONMarshalWrites(t *testing.T) {
	bodies := []any{
		wire.Online{MachineID: "m-1", Project: "deeplink", StakingType: 2},
		wire.ShortTerm{CPUType: `Intel "i5" <x> & é`, GPUNames: []string{"RTX 4090"}, GPUMemoryTotal: []int32{24564}, Wallet: "0xab"},
		wire.Bandwidth{CPUCores: 4, Wallet: "w"},
		struct{}{},
	}
	for _, c := range []struct {
		id  uint64
		typ uint32
		ts  int64
	}{{0, 1, 1732450000000}, {math.MaxUint64, math.MaxUint32, -1}, {42, 2, 0}} {
		for _, body := range bodies {
			got, err := wire.EncodeRequest(c.id, c.typ, c.ts, body)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(body)
			want, _ := json.Marshal(wire.Envelope{Timestamp: c.ts, ID: c.id, Type: c.typ, Body: base64.StdEncoding.EncodeToString(raw)})
			if string(got) != string(want) {
				t.Fatalf("EncodeRequest = %s\njson.Marshal  = %s", got, want)
			}
		}
	}
	if _, err := wire.EncodeRequest(1, 1, 1, func() {}); err == nil {
		t.Fatal("a body json cannot encode was accepted")
	}
}
