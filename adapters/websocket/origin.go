package websocket

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// originAllowed applies OriginPatterns to a browser's Origin header: no
// patterns allow any origin (agents are not browsers and send none); a
// request from its own host is allowed; otherwise the origin's host must
// match a pattern (path.Match syntax, case-insensitive).
func originAllowed(r *http.Request, patterns []string) (bool, string) {
	origin := r.Header.Get("Origin")
	if len(patterns) == 0 || origin == "" {
		return true, ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false, fmt.Sprintf("request Origin %q is not a valid URL with a host", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true, ""
	}
	host := strings.ToLower(u.Host)
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true, ""
		}
	}
	return false, fmt.Sprintf("request Origin %q is not authorized", origin)
}
