package embedded

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// countingHandler counts the WithAttrs calls that reach the base handler.
type countingHandler struct {
	slog.Handler
	withs *int
}

func (c countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	*c.withs++
	return countingHandler{c.Handler.WithAttrs(as), c.withs}
}

func (c countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{c.Handler.WithGroup(name), c.withs}
}

func TestErrorsOnlyDropsDebugWithoutAttachingItsAttributes(t *testing.T) {
	var out bytes.Buffer
	withs := 0
	base := countingHandler{slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}), &withs}
	lg := slog.New(errorsOnly(base))

	lg.With("query", "INSERT ...", "args", []any{"a whole document"}).DebugContext(context.Background(), ">>> INSERT")
	lg.Warn("refused command")
	if out.Len() != 0 || withs != 0 {
		t.Fatalf("debug and warn records: wrote %q, %d WithAttrs reached the base handler; want nothing", out.String(), withs)
	}

	conn := lg.WithGroup("conn").With("peer", "127.0.0.1:1")
	a := conn.With("op", "insert")
	b := conn.With("op", "find")
	a.Error("failed", "code", 1)
	b.Error("failed", "code", 2)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d records, want 2: %q", len(lines), out.String())
	}
	for i, want := range []string{`"conn":{"peer":"127.0.0.1:1","op":"insert","code":1}`, `"conn":{"peer":"127.0.0.1:1","op":"find","code":2}`} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], `"level":"ERROR"`) {
			t.Errorf("record %d = %s; want it to hold %s at ERROR", i, lines[i], want)
		}
	}
}
