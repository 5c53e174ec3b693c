package clientip_test

import (
	"net/http/httptest"
	"testing"

	"ddn/adapters/clientip"
)

func TestClientIP(t *testing.T) {
	r, err := clientip.New([]string{"10.0.0.0/8", "192.0.2.1", " ", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, peer, xff, realIP, want string
	}{
		{"direct client, no headers", "203.0.113.7:5000", "", "", "203.0.113.7"},
		{"untrusted peer's headers are ignored", "203.0.113.7:5000", "1.2.3.4", "5.6.7.8", "203.0.113.7"},
		{"trusted proxy: rightmost untrusted hop", "10.1.2.3:4000", "6.6.6.6, 198.51.100.9, 10.9.9.9", "", "198.51.100.9"},
		{"spoofed leftmost hop is not taken", "10.1.2.3:4000", "1.1.1.1, 198.51.100.9", "", "198.51.100.9"},
		{"single-IP trusted proxy", "192.0.2.1:80", "198.51.100.10", "", "198.51.100.10"},
		{"all hops trusted: leftmost", "10.1.2.3:4000", "10.0.0.5, 10.0.0.6", "", "10.0.0.5"},
		{"garbled hop stops the walk", "10.1.2.3:4000", "198.51.100.1, garbage", "", "10.1.2.3"},
		{"X-Real-IP from a trusted proxy", "10.1.2.3:4000", "", "198.51.100.11", "198.51.100.11"},
		{"bad X-Real-IP: the peer", "10.1.2.3:4000", "", "nope", "10.1.2.3"},
		{"hop with port", "10.1.2.3:4000", "198.51.100.12:3456", "", "198.51.100.12"},
		{"IPv6 trusted proxy and hop", "[2001:db8::1]:443", "2001:db9::7", "", "2001:db9::7"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:4000", "198.51.100.13", "", "198.51.100.13"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/websocket", nil)
			req.RemoteAddr = tc.peer
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.realIP != "" {
				req.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := r.ClientIP(req); got != tc.want {
				t.Fatalf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNoTrustedProxies(t *testing.T) {
	r, err := clientip.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:9"
	req.Header.Set("X-Forwarded-For", "8.8.8.8")
	if got := r.ClientIP(req); got != "127.0.0.1" {
		t.Fatalf("ClientIP = %s, want the peer", got)
	}
}

func TestNewRejectsGarbage(t *testing.T) {
	if _, err := clientip.New([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
	if _, err := clientip.New([]string{"proxy.example"}); err == nil {
		t.Fatal("host name accepted")
	}
}
