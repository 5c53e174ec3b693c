package ddnproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProcessCapturesOutputAndKillSaysWhetherItRan(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command("sh", "-c", `echo out; echo err >&2; : > "$0"; exec sleep 60`, marker)
	p := StartProcess(t, cmd, func() error { _, err := os.Stat(marker); return err }, 10*time.Second)
	if !Eventually(10*time.Second, 5*time.Millisecond, func() bool {
		got := p.Log.Lines()
		return len(got) == 2 && strings.Contains(p.Log.String(), "out") && strings.Contains(p.Log.String(), "err")
	}) {
		t.Fatalf("log = %q, want stdout and stderr", p.Log.String())
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill of a running process: %v", err)
	}
	if err := p.Kill(); err == nil {
		t.Fatal("a second Kill reported no error, yet the process had already exited")
	}
}

func TestEventuallyStopsAtTheBound(t *testing.T) {
	calls := 0
	if !Eventually(time.Second, time.Millisecond, func() bool { calls++; return calls == 3 }) || calls != 3 {
		t.Fatalf("Eventually returned before cond held or after: %d calls", calls)
	}
	if Eventually(10*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Fatal("Eventually said a condition that never holds held")
	}
}
