package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"ddn/domain"
)

// CORS configures the cross-origin headers of the HTTP API. The node's
// defaults (config) are the headers the original node sent with
// gin-contrib/cors: any origin, GET and POST, the headers Origin,
// Content-Length and Content-Type, credentials allowed, preflights cached
// 12 hours. An empty AllowOrigins sends no CORS headers at all.
type CORS struct {
	AllowOrigins     []string
	AllowMethods     []string
	AllowHeaders     []string
	AllowCredentials bool
	MaxAge           time.Duration
}

// withCORS answers cross-origin requests as the original node did: a
// request whose Origin is not its own host gets the allow headers (an
// origin not allowed is refused 403), and a preflight (OPTIONS) is answered
// 204 without reaching a route. The WebSocket endpoint has its own origin
// rule (Security.AllowedOrigins) and is left alone.
func withCORS(c CORS, next http.Handler) http.Handler {
	if len(c.AllowOrigins) == 0 {
		return next
	}
	all := slices.Contains(c.AllowOrigins, "*")
	origins := make([]string, len(c.AllowOrigins))
	for i, o := range c.AllowOrigins {
		origins[i] = strings.ToLower(strings.TrimSpace(o))
	}
	methods := make([]string, len(c.AllowMethods))
	for i, m := range c.AllowMethods {
		methods[i] = strings.ToUpper(strings.TrimSpace(m))
	}
	headers := make([]string, len(c.AllowHeaders))
	for i, h := range c.AllowHeaders {
		headers[i] = http.CanonicalHeaderKey(strings.TrimSpace(h))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || r.URL.Path == "/websocket" || origin == "http://"+r.Host || origin == "https://"+r.Host {
			next.ServeHTTP(w, r)
			return
		}
		if !all && !slices.Contains(origins, strings.ToLower(origin)) {
			writeError(w, http.StatusForbidden, domain.CodeParameter, "origin not allowed")
			return
		}
		h := w.Header()
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if all {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if len(methods) > 0 {
			h.Set("Access-Control-Allow-Methods", strings.Join(methods, ","))
		}
		if len(headers) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(headers, ","))
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.FormatInt(int64(c.MaxAge/time.Second), 10))
		}
		if !all {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
