package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ddn/adapters/geo/ip2ltest"
	"ddn/internal/ddnproc"
	"ddn/internal/parity"
)

// TestScoreParityEndToEnd sends every parity score case (the original
// node's own answers, internal/parity) to a real node with its shipped
// catalog, as a type-2 report of a machine seen for the first time and to
// the calculator route: the answers (code, text), the calc point stored in
// machine_info with its converted GPU memory, and the calculator's code
// and calc point must be the original's.
func TestScoreParityEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	geoDB := filepath.Join(dir, "IP2LOCATION-LITE-DB5.BIN")
	if err := ip2ltest.WriteDB5(geoDB, []ip2ltest.Range{{From: netip.MustParseAddr("127.0.0.0"), To: netip.MustParseAddr("127.255.255.255"),
		CountryCode: "CN", Country: "China", Region: parity.Region, City: "Shenzhen", Latitude: parity.Latitude, Longitude: parity.Longitude}}); err != nil {
		t.Fatal(err)
	}
	addr := ddnproc.FreeAddr(t)
	startNode(t, buildBinary(t), dir, addr, "DDN_MONGODB_URI=memory://", "DDN_IP2LOCATIONDB_DATABASEPATH="+geoDB)
	cases, err := parity.Score()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, pc := range cases {
		machine := "parity-" + pc.ID
		c, _, err := websocket.Dial(ctx, "ws://"+addr+"/websocket", nil)
		if err != nil {
			t.Fatal(err)
		}
		online := fmt.Sprintf(`{"machine_id":%q,"project":%q,"container_id":%q,"staking_type":0}`, machine, parity.Project, parity.ContainerID)
		if r := request(t, ctx, c, 1, 1, online); r.Code != 0 {
			t.Fatalf("%s: online answered %+v", pc.ID, r)
		}
		wantMsg := pc.Error
		if pc.Code == 0 {
			wantMsg = "add machine tm success"
		}
		if r := request(t, ctx, c, 2, 2, string(pc.Body())); r.Code != pc.Code || r.Message != wantMsg {
			t.Errorf("%s %v %v: type 2 answered %d %q; want %d %q", pc.ID, pc.GPUNames, pc.GPUMemoryTotal, r.Code, r.Message, pc.Code, wantMsg)
		}
		_ = c.Close(websocket.StatusNormalClosure, "")

		if pc.Code == 0 {
			var m struct {
				Machine struct {
					ShortTerm struct {
						CalcPoint      float64 `json:"calc_point"`
						GPUMemoryTotal []int64 `json:"gpu_memory_total"`
						Region         string  `json:"region"`
					} `json:"deeplink_st"`
				} `json:"machine"`
			}
			getJSON(t, fmt.Sprintf("http://%s/api/v0/machines/%s/%s?container_id=%s", addr, parity.Project, machine, parity.ContainerID), &m)
			if st := m.Machine.ShortTerm; st.CalcPoint != pc.CalcPoint || !slices.Equal(st.GPUMemoryTotal, pc.GPUMemoryTotalAfter) || st.Region != parity.Region {
				t.Errorf("%s: machine_info has %+v; want calc point %v, memory %v, region %s", pc.ID, st, pc.CalcPoint, pc.GPUMemoryTotalAfter, parity.Region)
			}
		}

		resp, err := http.Post("http://"+addr+"/api/v0/calculator/point", "application/json", bytes.NewReader(pc.Body()))
		if err != nil {
			t.Fatal(err)
		}
		var calc struct {
			Code      uint32  `json:"code"`
			Message   string  `json:"message"`
			CalcPoint float64 `json:"calc_point"`
		}
		err = json.NewDecoder(resp.Body).Decode(&calc)
		resp.Body.Close()
		if err != nil || calc.Code != pc.Code || calc.CalcPoint != pc.CalcPoint || (pc.Code != 0 && calc.Message != pc.Error) {
			t.Errorf("%s: calculator answered %+v (%v); want code %d, calc point %v, %q", pc.ID, calc, err, pc.Code, pc.CalcPoint, pc.Error)
		}
	}
}

// getJSON decodes the body of GET url into v; anything but 200 fails.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
