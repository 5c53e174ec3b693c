// Package ddnproc runs real processes on loopback for the end-to-end tests
// (ddn nodes above all, and the helper servers they talk to: geth,
// Prometheus), so that the commands are tested against the real binaries
// and not stand-ins, with one harness for every package that does it.
package ddnproc

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Build compiles ./cmd/<command> with deploy/build.sh, the script CI, the
// Dockerfile and `task build` use, so tests run the binary that ships.
func Build(t testing.TB, command string) string {
	t.Helper()
	return BuildVersion(t, command, "test")
}

// BuildVersion is Build with the version stamped into main.version, for the
// tests that check what `-version` prints.
func BuildVersion(t testing.TB, command, version string) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "deploy/build.sh", dir, version, command)
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

// FreePort is the port of FreeAddr, for programs that take the address and
// the port apart (geth --http.port).
func FreePort(t testing.TB) string {
	t.Helper()
	_, port, err := net.SplitHostPort(FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}
