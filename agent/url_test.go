package agent

import "testing"

func TestNodeURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9521":                    "ws://127.0.0.1:9521/websocket",
		"http://127.0.0.1:9521":             "ws://127.0.0.1:9521/websocket",
		"https://ddn.example:443":           "wss://ddn.example:443/websocket",
		"ws://127.0.0.1:9521/websocket":     "ws://127.0.0.1:9521/websocket",
		"wss://ddn.example":                 "wss://ddn.example/websocket",
		"ws://127.0.0.1:9521/other/path/ws": "ws://127.0.0.1:9521/other/path/ws",
	} {
		if got := NodeURL(in); got != want {
			t.Errorf("NodeURL(%q) = %q, want %q", in, got, want)
		}
	}
}
