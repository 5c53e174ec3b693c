package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"ddn/internal/ddnproc"
)

// healthServer answers /healthz with status on a loopback port.
func healthServer(t *testing.T, status int) (addr string, hits *int) {
	t.Helper()
	hits = new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		*hits++
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), hits
}

func TestHealthcheck(t *testing.T) {
	okAddr, okHits := healthServer(t, http.StatusOK)
	badAddr, _ := healthServer(t, http.StatusServiceUnavailable)
	var out, errOut bytes.Buffer
	if code := run([]string{"healthcheck", "-addr", okAddr}, &out, &errOut); code != 0 || *okHits != 1 {
		t.Errorf("healthy node: exit %d (hits %d), %s", code, *okHits, errOut.String())
	}
	if code := run([]string{"healthcheck", "-addr", badAddr}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "503") {
		t.Errorf("unhealthy node: exit %d, %q", code, errOut.String())
	}
	if code := run([]string{"healthcheck", "-addr", okAddr, "-path", "/readyz"}, &out, &errOut); code != 1 {
		t.Errorf("missing path: exit %d", code)
	}
	if code := run([]string{"healthcheck", "-addr", ddnproc.FreeAddr(t)}, &out, &errOut); code != 1 {
		t.Errorf("nobody listening: exit %d", code)
	}
}

// TestHealthcheckReadsTheNodeAddr: without -addr, the node's own Addr (here
// DDN_ADDR with a wildcard host) is probed on loopback.
func TestHealthcheckReadsTheNodeAddr(t *testing.T) {
	addr, hits := healthServer(t, http.StatusOK)
	_, port, _ := net.SplitHostPort(addr)
	t.Setenv("DDN_ADDR", "0.0.0.0:"+port)
	var out, errOut bytes.Buffer
	if code := run([]string{"healthcheck"}, &out, &errOut); code != 0 || *hits != 1 {
		t.Errorf("exit %d (hits %d): %s", code, *hits, errOut.String())
	}
	for in, want := range map[string]string{"0.0.0.0:9521": "127.0.0.1:9521", ":9521": "127.0.0.1:9521", "[::]:9521": "127.0.0.1:9521", "10.0.0.5:9521": "10.0.0.5:9521"} {
		if got := loopbackAddr(in); got != want {
			t.Errorf("loopbackAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
