package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
	"ddn/domain"
	"ddn/domain/score"
)

// noDatabase is the locator of a node without a geolocation database.
type noDatabase struct{}

func (noDatabase) Locate(_ context.Context, ip string) (domain.Location, error) {
	if _, err := netip.ParseAddr(ip); err != nil {
		return domain.Location{}, fmt.Errorf("%w: not an IP address", domain.ErrInvalidParam)
	}
	return domain.Location{}, fmt.Errorf("locate %s: %w: no geolocation database configured", ip, domain.ErrGeo)
}

func geoServer(t *testing.T, geo httpapi.GeoOptions) *httptest.Server {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{WebSocket: ok, FleetMetrics: ok, NodeMetrics: ok, Geo: geo}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCalculatorPoint(t *testing.T) {
	table, err := score.NewTable([]score.GPU{{Model: "4060", MemoryGB: 8, CUDACores: 3072}, {Model: "3060", MemoryGB: 8, CUDACores: 3584},
		{Model: "3060", MemoryGB: 12, CUDACores: 3584}})
	if err != nil {
		t.Fatal(err)
	}
	srv := geoServer(t, httpapi.GeoOptions{Catalog: table})
	url := srv.URL + "/api/v0/calculator/point"
	const rest = `"cpu_type":"i5-13400F","cpu_rate":2500,"memory_total":16,"wallet":"0xabc"`
	tests := []struct {
		name, body string
		status     int
		code       float64
		point      float64
		message    string
	}{
		{"MiB as nvidia-smi prints it", `{"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8188],` + rest + `}`, 200, 0, 79.15, "ok"},
		{"GB: by model alone", `{"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8],` + rest + `}`, 200, 0, 79.15, "ok"},
		{"GB: the first entry of the model", `{"gpu_names":["NVIDIA GeForce RTX 3060"],"gpu_memory_total":[12],` + rest + `}`, 200, 0, 83.12, "ok"},
		{"lists of different lengths", `{"gpu_names":["RTX 4060","RTX 4060"],"gpu_memory_total":[8188],` + rest + `}`, 200, 0, 153.72, "ok"},
		{"unknown GPU", `{"gpu_names":["NVIDIA GeForce RTX 9999"],"gpu_memory_total":[8192],` + rest + `}`, 422, 6, 0,
			"calculate gpu point failed can not find the number of cuda cores"},
		{"no wallet", `{"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8188],"cpu_type":"x","cpu_rate":1,"memory_total":16}`, 400, 1, 0, "empty wallet"},
		{"no memory_total", `{"gpu_names":["NVIDIA GeForce RTX 4060"],"gpu_memory_total":[8188]}`, 400, 1, 0, "invalid memory total"},
		{"not JSON", `{"gpu_names":`, 400, 1, 0, "invalid machine info"},
		{"wrong type", `{"gpu_names":"4060"}`, 400, 1, 0, "invalid machine info"},
		{"beyond int32", `{"gpu_names":["RTX 4060"],"gpu_memory_total":[8188],"cpu_rate":3000000000}`, 400, 1, 0, "invalid machine info"},
		{"too large", `{"cpu_type":"` + strings.Repeat("x", 70<<10) + `"}`, 413, 1, 0, "64 KiB"},
	}
	for _, method := range []string{"POST", "GET"} {
		for _, tt := range tests {
			status, body, ct := call(t, method, url, "", tt.body)
			msg, _ := body["message"].(string)
			if status != tt.status || body["code"] != tt.code || ct != "application/json" || !strings.Contains(msg, tt.message) {
				t.Errorf("%s %s: %d %v (%s); want %d code %v message containing %q", method, tt.name, status, body, ct, tt.status, tt.code, tt.message)
			}
			if tt.status == 200 && body["calc_point"] != tt.point {
				t.Errorf("%s %s: calc_point %v, want %v", method, tt.name, body["calc_point"], tt.point)
			}
		}
	}
	if status, body, _ := call(t, "PUT", url, "", ""); status != 405 || body["code"] != float64(1) {
		t.Errorf("PUT calculator = %d %v", status, body)
	}
}

func TestLocation(t *testing.T) {
	loc := &memory.Locator{}
	loc.Add(netip.MustParseAddr("1.0.1.0"), netip.MustParseAddr("1.0.3.255"),
		domain.Location{CountryCode: "CN", Country: "China", Region: "Fujian", City: "Fuzhou", Latitude: 26.0614, Longitude: 119.3061})
	loc.Add(netip.MustParseAddr("2a02:6b8::"), netip.MustParseAddr("2a02:6b8:ffff:ffff:ffff:ffff:ffff:ffff"),
		domain.Location{CountryCode: "RU", Country: "Russian Federation", Region: "Sankt-Peterburg", City: "Saint Petersburg", Latitude: 59.9386, Longitude: 30.3141})
	srv := geoServer(t, httpapi.GeoOptions{Locator: loc})
	get := func(q string) (int, map[string]any) {
		status, body, _ := call(t, "GET", srv.URL+"/api/v0/location"+q, "", "")
		return status, body
	}

	status, body := get("?ip=1.0.2.3")
	want := map[string]any{"code": 0.0, "message": "ok", "ip": "1.0.2.3", "client_ip": "1.0.2.3", "country_short": "CN", "country_long": "China", "region": "Fujian",
		"city": "Fuzhou", "latitude": 26.0614, "longitude": 119.3061, "bandwidth_region": "East China"}
	if status != 200 || fmt.Sprint(body) != fmt.Sprint(want) {
		t.Fatalf("IPv4 = %d %v; want %v", status, body, want)
	}
	if status, body = get("?ip=2a02:6b8::1"); status != 200 || body["bandwidth_region"] != "Saint Petersburg" || body["city"] != "Saint Petersburg" {
		t.Fatalf("IPv6 = %d %v", status, body)
	}
	if status, body = get("?ip=10.0.0.1"); status != 404 || body["code"] != 8.0 || !strings.Contains(body["message"].(string), "not in the database") {
		t.Fatalf("unknown address = %d %v", status, body)
	}
	for _, q := range []string{"?ip=1.2.3", "?ip=%3Cscript%3E"} {
		if status, body = get(q); status != 400 || body["code"] != 1.0 {
			t.Fatalf("%q = %d %v; want 400 code 1", q, status, body)
		}
	}
	// Without ip, the caller's own address, as the original answered
	// (here loopback, which the database does not hold).
	for _, q := range []string{"", "?ip="} {
		if status, body = get(q); status != 404 || body["code"] != 8.0 || body["client_ip"] != "127.0.0.1" {
			t.Fatalf("%q = %d %v; want the caller's address located", q, status, body)
		}
	}
	loc.Add(netip.MustParseAddr("127.0.0.0"), netip.MustParseAddr("127.255.255.255"), domain.Location{CountryCode: "US", Country: "United States of America", Region: "Texas"})
	if status, body = get(""); status != 200 || body["client_ip"] != "127.0.0.1" || body["bandwidth_region"] != "Texas" {
		t.Fatalf("caller's own address = %d %v", status, body)
	}

	none := geoServer(t, httpapi.GeoOptions{Locator: noDatabase{}})
	status, body, _ = call(t, "GET", none.URL+"/api/v0/location?ip=8.8.8.8", "", "")
	if status != 503 || body["code"] != 8.0 || !strings.Contains(body["message"].(string), "no geolocation database") {
		t.Fatalf("no database = %d %v", status, body)
	}
}
