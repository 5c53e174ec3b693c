package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"ddn/adapters/httpapi"
	"ddn/adapters/memory"
)

// TestConsoleMountedOnBothListeners: the console is served at / and under
// /console/ on Addr and on the admin listener; the admin listener also
// serves the reads the console calls, under the same read token; other
// paths stay JSON 404s.
func TestConsoleMountedOnBothListeners(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "console "+r.URL.Path) })
	o := httpapi.Options{Fleet: memory.NewStore(), Console: page, ReadToken: "rd", AdminToken: "adm", AdminSeparate: true}
	public := httptest.NewServer(httpapi.New(o))
	defer public.Close()
	admin := httptest.NewServer(httpapi.NewAdmin(o))
	defer admin.Close()
	for _, base := range []string{public.URL, admin.URL} {
		for _, path := range []string{"/", "/console/app.js"} {
			resp, err := http.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != "console "+path {
				t.Errorf("GET %s%s = %d %q", base, path, resp.StatusCode, b)
			}
		}
		if code, _, _ := call(t, "GET", base+"/nope", "", ""); code != 404 {
			t.Errorf("GET %s/nope = %d, want the JSON 404", base, code)
		}
	}
	if code, _, _ := call(t, "GET", admin.URL+"/api/v0/machines", "", ""); code != 401 {
		t.Errorf("admin listener read without the read token = %d, want 401", code)
	}
	if code, _, _ := call(t, "GET", admin.URL+"/api/v0/uptime", "rd", ""); code != 200 {
		t.Errorf("admin listener uptime with the read token = %d, want 200", code)
	}
	if code, _, _ := call(t, "GET", public.URL+"/api/v0/admin/outbox", "adm", ""); code != 404 {
		t.Errorf("admin route on Addr with AdminAddr set = %d, want 404", code)
	}
}
