package domain

import (
	"errors"
	"testing"
)

func TestParseClientIP(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4":             "1.2.3.4",
		" 1.2.3.4\n":          "1.2.3.4",
		"1.2.3.4:5678":        "1.2.3.4",
		"::ffff:1.2.3.4":      "1.2.3.4",
		"[::ffff:1.2.3.4]:80": "1.2.3.4",
		"2001:db8::1":         "2001:db8::1",
		"[2001:db8::1]:443":   "2001:db8::1",
		"fe80::1%eth0":        "fe80::1",
	} {
		got, err := ParseClientIP(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseClientIP(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "localhost", "1.2.3", "1.2.3.4/8", "1.2.3.4:", "[2001:db8::1]"} {
		if _, err := ParseClientIP(in); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("ParseClientIP(%q) = %v; want a parameter error", in, err)
		}
	}
}
