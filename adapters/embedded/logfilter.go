package embedded

import (
	"context"
	"log/slog"
)

// errorsOnly passes FerretDB's error records to h and drops the rest.
func errorsOnly(h slog.Handler) slog.Handler { return levelFilter{base: h, min: slog.LevelError} }

// levelFilter drops records below min. It keeps FerretDB's With and
// WithGroup calls as pending steps and applies them to the base handler only
// for a record it passes: FerretDB attaches every SQL statement and its
// arguments (whole documents) to a logger twice per statement, and zap
// encodes such attributes when they are attached, not when a record is
// written; done eagerly, that was 4 % of a durable node's CPU, spent inside
// the store's write transactions, for debug records that are then dropped.
type levelFilter struct {
	base    slog.Handler
	min     slog.Level
	pending []step
}

// step is one deferred WithGroup (group set) or WithAttrs call.
type step struct {
	group string
	attrs []slog.Attr
}

func (l levelFilter) Enabled(ctx context.Context, lv slog.Level) bool {
	return lv >= l.min && l.base.Enabled(ctx, lv)
}

func (l levelFilter) Handle(ctx context.Context, r slog.Record) error {
	h := l.base
	for _, s := range l.pending {
		if s.group != "" {
			h = h.WithGroup(s.group)
		} else {
			h = h.WithAttrs(s.attrs)
		}
	}
	return h.Handle(ctx, r)
}

func (l levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return l
	}
	return l.then(step{attrs: as})
}

func (l levelFilter) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	return l.then(step{group: name})
}

// then gives a filter with s after l's steps, never sharing l's array.
func (l levelFilter) then(s step) levelFilter {
	l.pending = append(l.pending[:len(l.pending):len(l.pending)], s)
	return l
}
