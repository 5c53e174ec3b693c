// Package ddnproc runs real ddn processes on loopback for the tests of the
// commands that talk to a node (the agent, the load generator), so that
// they are tested against the real binary and not a stand-in.
package ddnproc

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles ./cmd/<command> with deploy/build.sh, the script CI, the
// Dockerfile and `task build` use, so tests run the binary that ships.
func Build(t testing.TB, command string) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "deploy/build.sh", dir, "test", command)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build.sh %s: %v\n%s", command, err, out)
	}
	return filepath.Join(dir, command)
}

// FreeAddr is a loopback address nobody listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Node is a running ddn process.
type Node struct {
	Addr string
	cmd  *exec.Cmd
	done chan error
	mu   sync.Mutex
	logs []string
}

// Logs is what the node wrote to stderr so far.
func (n *Node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.logs, "\n")
}

// Start runs the ddn binary bin in dir, listening on addr, with the extra
// environment env (DDN_* variables), and waits until /readyz answers 200.
// The process is killed when the test ends if it still runs.
func Start(t testing.TB, bin, dir, addr string, env ...string) *Node {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DDN_ADDR="+addr, "DDN_LOGLEVEL=info"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &Node{Addr: addr, cmd: cmd, done: make(chan error, 1)}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.mu.Lock()
			n.logs = append(n.logs, sc.Text())
			n.mu.Unlock()
		}
	}()
	go func() { <-copied; n.done <- cmd.Wait() }()
	t.Cleanup(func() {
		n.Kill()
		if t.Failed() {
			t.Logf("ddn on %s logged:\n%s", addr, n.Logs())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		select {
		case err := <-n.done:
			n.done <- err
			t.Fatalf("ddn exited before it was ready: %v\n%s", err, n.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("ddn not ready on %s within 60s\n%s", addr, n.Logs())
		}
	}
}

// Stop sends SIGTERM (the node drains) and waits for the process to exit.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	select {
	case err := <-n.done:
		n.done <- err
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.done <- err
		if err != nil {
			t.Errorf("ddn exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		t.Fatalf("ddn did not stop within 30s of SIGTERM")
	}
}

// Kill ends the process at once (SIGKILL) if it still runs, and waits for it.
func (n *Node) Kill() {
	select {
	case err := <-n.done:
		n.done <- err
		return
	default:
	}
	_ = n.cmd.Process.Kill()
	err := <-n.done
	n.done <- err
}
