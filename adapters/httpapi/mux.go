package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"ddn/domain"
)

// routeMux is an http.ServeMux that records the patterns registered on it,
// so the routes served and the routes documented come from one place, and
// that caps every request body.
type routeMux struct {
	*http.ServeMux
	patterns []string
	bodyMax  int64
}

func newRouteMux(bodyMax int64) *routeMux {
	if bodyMax <= 0 {
		bodyMax = 64 << 10
	}
	return &routeMux{ServeMux: http.NewServeMux(), bodyMax: bodyMax}
}

// Handle registers h (a 503 "not configured" answer when nil) with the
// default body limit.
func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.handleLimited(pattern, h, m.bodyMax)
}

// HandleFunc registers f with the default body limit.
func (m *routeMux) HandleFunc(pattern string, f http.HandlerFunc) {
	if f == nil {
		m.handleLimited(pattern, nil, m.bodyMax)
		return
	}
	m.handleLimited(pattern, f, m.bodyMax)
}

// handleLimited registers h with its own body limit.
func (m *routeMux) handleLimited(pattern string, h http.Handler, limit int64) {
	if h == nil {
		h = notConfigured
	}
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeError(w, http.StatusRequestEntityTooLarge, domain.CodeParameter, "request body larger than "+byteSize(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	}))
}

var notConfigured http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusServiceUnavailable, domain.CodeInternal, "not configured on this node")
})

// byteSize names a body limit the way an operator configured it (64 KiB).
func byteSize(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// tooLarge tells whether err came from a body over its limit (answer 413).
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// upgradeOnly answers a plain request to the WebSocket endpoint with the
// JSON error every route uses (426) instead of the WebSocket library's text.
func upgradeOnly(h http.Handler) http.Handler {
	if h == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			w.Header().Set("Upgrade", "websocket")
			writeError(w, http.StatusUpgradeRequired, domain.CodeParameter, "this endpoint needs a WebSocket upgrade (PROTOCOL.md)")
			return
		}
		h.ServeHTTP(w, r)
	})
}
