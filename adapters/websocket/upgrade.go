package websocket

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// upgrader answers the handshake (RFC 6455 section 4.2) with gobwas/ws,
// which checks the request and writes the 101 or the refusal on the
// hijacked connection; it leaves no buffer behind (net/http's 4 KiB read
// and write buffers go with the request), so an idle connection costs its
// socket and the node's state only.
var upgrader = ws.HTTPUpgrader{Timeout: 10 * time.Second}

// upgrade takes the connection over from net/http. early holds the bytes
// the agent sent after its handshake that net/http had already read.
func upgrade(w http.ResponseWriter, r *http.Request) (nc net.Conn, early []byte, err error) {
	nc, rw, _, err := upgrader.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			_ = nc.Close()
		}
		return nil, nil, fmt.Errorf("websocket handshake: %w", err)
	}
	if n := rw.Reader.Buffered(); n > 0 {
		p, _ := rw.Reader.Peek(n)
		early = bytes.Clone(p)
	}
	return nc, early, nil
}

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
