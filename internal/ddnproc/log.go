package ddnproc

import (
	"encoding/json"
	"strings"
	"sync"
)

// Log collects what a process writes, line by line, so a test can read it
// while the process runs and print it when the test fails. It is an
// io.Writer safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	lines   []string
	partial string
}

// Write splits p into lines; a line not ended yet is kept until it is.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	text := l.partial + string(p)
	for {
		i := strings.IndexByte(text, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, text[:i])
		text = text[i+1:]
	}
	l.partial = text
	return len(p), nil
}

// Lines is a copy of the lines so far, an unfinished last one included, so
// a test can match one line at a time.
func (l *Log) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.lines...)
	if l.partial != "" {
		out = append(out, l.partial)
	}
	return out
}

// String is everything so far, one line after the other, for substring
// checks and failure output.
func (l *Log) String() string {
	return strings.Join(l.Lines(), "\n")
}

// Entries decodes the JSON lines of the log (ddn logs JSON through zap)
// into T and returns those keep accepts, so tests match log fields and not
// substrings; lines that are not JSON objects of that shape are skipped.
func Entries[T any](l *Log, keep func(T) bool) []T {
	var out []T
	for _, line := range l.Lines() {
		var e T
		if json.Unmarshal([]byte(line), &e) == nil && keep(e) {
			out = append(out, e)
		}
	}
	return out
}
