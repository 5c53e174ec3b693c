package ddnproc

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program a test started: its output, and the means to stop
// it. When the test ends it is killed if it still runs, and its output is
// printed if the test failed.
type Process struct {
	// Log is the process's stdout and stderr.
	Log  *Log
	name string
	cmd  *exec.Cmd
	done chan error

	mu     sync.Mutex
	killed bool
}

// StartProcess starts cmd (its Stdout and Stderr go to the Log) and waits
// until ready returns nil, polling, for at most within; the test fails if
// the process exits or is not ready in time. A nil ready does not wait.
func StartProcess(t testing.TB, cmd *exec.Cmd, ready func() error, within time.Duration) *Process {
	t.Helper()
	p := &Process{Log: &Log{}, name: filepath.Base(cmd.Path), cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.Kill()
		if t.Failed() {
			t.Logf("%s (pid %d) logged:\n%s", p.name, cmd.Process.Pid, p.Log.String())
		}
	})
	if ready == nil {
		return p
	}
	deadline := time.Now().Add(within)
	for {
		err := ready()
		if err == nil {
			return p
		}
		select {
		case exit := <-p.done:
			p.done <- exit
			t.Fatalf("%s exited before it was ready: %v\n%s", p.name, exit, p.Log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v: %v\n%s", p.name, within, err, p.Log.String())
		}
	}
}

// exited reports whether the process has ended, and how.
func (p *Process) exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM (a ddn node drains) and waits for the process to
// exit; the test fails if it had already ended on its own, exits with an
// error, or takes more than 30s.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.StopWithin(t, 30*time.Second)
}

// StopWithin is Stop with the bound on the exit a test asserts.
func (p *Process) StopWithin(t testing.TB, within time.Duration) {
	t.Helper()
	if gone, err := p.exited(); gone {
		p.mu.Lock()
		killed := p.killed
		p.mu.Unlock()
		if !killed {
			t.Fatalf("%s had exited before it was stopped: %v\n%s", p.name, err, p.Log.String())
		}
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("%s exited with %v after SIGTERM\n%s", p.name, err, p.Log.String())
		}
	case <-time.After(within):
		_ = p.cmd.Process.Kill()
		t.Fatalf("%s did not stop within %v of SIGTERM\n%s", p.name, within, p.Log.String())
	}
}

// Pause stops the process with SIGSTOP (a stalled node: it holds its
// sockets and answers nothing) until Resume.
func (p *Process) Pause(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %s: %v", p.name, err)
	}
}

// Resume continues a paused process (SIGCONT).
func (p *Process) Resume(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT %s: %v", p.name, err)
	}
}

// Kill ends the process at once (SIGKILL) and waits for it. It says so in
// an error when the process had already exited, so a test that kills a
// node on purpose knows the node was still running until then.
func (p *Process) Kill() error {
	if gone, err := p.exited(); gone {
		return fmt.Errorf("%s had already exited (%v)", p.name, err)
	}
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = p.cmd.Process.Kill()
	err := <-p.done
	p.done <- err
	return nil
}
