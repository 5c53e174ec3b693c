package agent

import "strings"

// NodeURL lets people name a node the way they think of it (host:port,
// http(s)://host:port) and returns the WebSocket URL of its agent endpoint
// (ws(s)://host:port/websocket); a ws(s) URL is kept as it is, and a URL
// with a path keeps its path.
func NodeURL(addr string) string {
	switch {
	case strings.HasPrefix(addr, "ws://"), strings.HasPrefix(addr, "wss://"):
	case strings.HasPrefix(addr, "http://"):
		addr = "ws://" + strings.TrimPrefix(addr, "http://")
	case strings.HasPrefix(addr, "https://"):
		addr = "wss://" + strings.TrimPrefix(addr, "https://")
	default:
		addr = "ws://" + addr
	}
	if _, rest, _ := strings.Cut(addr, "://"); !strings.Contains(rest, "/") {
		addr += "/websocket"
	}
	return addr
}
