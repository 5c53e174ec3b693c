package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouteMuxCapsBodies(t *testing.T) {
	var read int
	mux := newRouteMux(100)
	mux.HandleFunc("POST /x", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		read = len(b)
		if tooLarge(err) {
			writeError(w, http.StatusRequestEntityTooLarge, 1, "too large")
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(body string, length int64) int {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/x", io.MultiReader(strings.NewReader(body)))
		req.ContentLength = length
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(strings.Repeat("a", 100), 100); code != 200 || read != 100 {
		t.Fatalf("body at the cap: %d (read %d), want 200", code, read)
	}
	read = -1
	if code := post(strings.Repeat("a", 101), 101); code != 413 || read != -1 {
		t.Fatalf("declared body over the cap: %d (handler read %d), want 413 before the handler", code, read)
	}
	// A chunked body of unknown length is cut off by the reader.
	if code := post(strings.Repeat("b", 5000), -1); code != 413 || read > 100 {
		t.Fatalf("chunked body over the cap: %d, handler read %d", code, read)
	}
}
