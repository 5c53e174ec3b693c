package ddnproc

import (
	"crypto/tls"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// Node is a running ddn process.
type Node struct {
	*Process
	// Addr is the address the node serves agents on (DDN_ADDR).
	Addr string
}

// Spec says how to run one ddn node; the zero values are the plain case.
type Spec struct {
	// Bin is the ddn binary (Build).
	Bin string
	// Dir is the working directory: with no config file, the embedded
	// store's data goes to Dir/ddn-data.
	Dir string
	// Addr is the listener (DDN_ADDR).
	Addr string
	// Env is added to the test's environment after the harness's own
	// DDN_ADDR and DDN_LOGLEVEL=info; a later variable wins.
	Env []string
	// TLS, when set, makes readiness checked over https with this client
	// configuration (a node with a certificate serves TLS only).
	TLS *tls.Config
}

// Logs is what the node wrote so far.
func (n *Node) Logs() string { return n.Log.String() }

// Start runs the ddn binary bin in dir, listening on addr, with the extra
// environment env (DDN_* variables), and waits until /readyz answers 200.
// The process is killed when the test ends if it still runs.
func Start(t testing.TB, bin, dir, addr string, env ...string) *Node {
	t.Helper()
	return Run(t, Spec{Bin: bin, Dir: dir, Addr: addr, Env: env})
}

// Run is Start for any Spec: TLS listeners, say.
func Run(t testing.TB, s Spec) *Node {
	t.Helper()
	cmd := exec.Command(s.Bin)
	cmd.Dir = s.Dir
	cmd.Env = append(append(os.Environ(), "DDN_ADDR="+s.Addr, "DDN_LOGLEVEL=info"), s.Env...)
	scheme, client := "http", &http.Client{Timeout: 5 * time.Second}
	if s.TLS != nil {
		scheme, client.Transport = "https", &http.Transport{TLSClientConfig: s.TLS}
	}
	p := StartProcess(t, cmd, ReadyAt(client, scheme+"://"+s.Addr+"/readyz"), 60*time.Second)
	if tr, ok := client.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	return &Node{Process: p, Addr: s.Addr}
}
