package ddnproc

import (
	"slices"
	"testing"
)

func TestLogSplitsWritesIntoLines(t *testing.T) {
	var l Log
	for _, w := range []string{"one\ntw", "o\n", "\nthr", "ee"} {
		if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	if got, want := l.Lines(), []string{"one", "two", "", "three"}; !slices.Equal(got, want) {
		t.Fatalf("Lines() = %q, want %q", got, want)
	}
	if got := l.String(); got != "one\ntwo\n\nthree" {
		t.Fatalf("String() = %q", got)
	}
}

func TestEntriesDecodesTheJSONLinesKept(t *testing.T) {
	var l Log
	_, _ = l.Write([]byte(`{"msg":"machine event","event":"online","machine":"p/a"}` + "\n" +
		"not json\n" +
		`{"msg":"machine event","event":"offline","machine":"p/b"}` + "\n" +
		`{"msg":"other","event":"online","machine":"p/c"}` + "\n"))
	type entry struct {
		Msg     string `json:"msg"`
		Event   string `json:"event"`
		Machine string `json:"machine"`
	}
	got := Entries(&l, func(e entry) bool { return e.Msg == "machine event" && e.Event == "online" })
	if len(got) != 1 || got[0].Machine != "p/a" {
		t.Fatalf("Entries = %+v, want the one online machine event of p/a", got)
	}
}
