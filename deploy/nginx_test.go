package deploy

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"ddn/internal/ddnproc"
)

// requireNginx finds nginx (Debian's package; .ci/run installs it) or
// skips, unless DDN_REQUIRE_NGINX=1 makes its absence a failure.
func requireNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("DDN_REQUIRE_NGINX") == "1" {
		t.Fatal("nginx not found and DDN_REQUIRE_NGINX=1")
	}
	t.Skip("nginx not installed (apt-get install nginx-light); set DDN_REQUIRE_NGINX=1 to fail instead")
	return ""
}

// TestNginxConfigProxiesAgents runs the compose stack's nginx.conf (with
// the three upstreams pointed at three real ddn processes on loopback)
// and drives agents through it with ddn-bench: WebSockets pass, every agent
// is acknowledged, and the balancer spreads them over the three nodes.
func TestNginxConfigProxiesAgents(t *testing.T) {
	nginx := requireNginx(t)
	root := repoRoot(t)
	ddn, bench := ddnproc.Build(t, "ddn"), ddnproc.Build(t, "ddn-bench")

	conf, err := os.ReadFile(filepath.Join(root, "deploy", "nginx", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	replace := map[string]string{
		"worker_processes auto;": "worker_processes 1;",
		"pid /tmp/nginx.pid;":    "pid " + filepath.Join(dir, "nginx.pid") + ";",
	}
	var nodes []*ddnproc.Node
	for _, name := range ddnNodes {
		n := ddnproc.Start(t, ddn, dir, ddnproc.FreeAddr(t), "DDN_MONGODB_URI=memory://", "DDN_NODEID="+name)
		nodes = append(nodes, n)
		replace["server "+name+":9521 "] = "server " + n.Addr + " "
	}
	lb := ddnproc.FreeAddr(t)
	replace["listen 9521;"] = "listen " + lb + ";"
	text := string(conf)
	for from, to := range replace {
		if !strings.Contains(text, from) {
			t.Fatalf("nginx.conf no longer contains %q: update this test with it", from)
		}
		text = strings.ReplaceAll(text, from, to)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir + "/", "-c", confPath, "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(nginx, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(nginx, append(args, "-g", "daemon off;")...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful stop of this nginx only
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + lb + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx on %s does not proxy /healthz: %v", lb, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	out, err := exec.Command(bench, "-url", lb, "-agents", "30", "-report-every", "200ms", "-ping-every", "300ms",
		"-ramp-up", "300ms", "-duration", "3s", "-progress", "0", "-json").Output()
	if err != nil {
		t.Fatalf("ddn-bench through nginx: %v\n%s", err, out)
	}
	var s struct {
		Onlines      int64            `json:"onlines"`
		Held         int64            `json:"connections_held"`
		ReportsAcked int64            `json:"reports_acknowledged"`
		Errors       map[string]int64 `json:"errors"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if s.Onlines != 30 || s.Held != 30 || s.ReportsAcked < 30 || len(s.Errors) != 0 {
		t.Errorf("through nginx: %s", out)
	}
	for i, n := range nodes {
		if got := strings.Count(n.Logs(), `"event":"online"`); got == 0 {
			t.Errorf("node %s got no agent through nginx", ddnNodes[i])
		}
	}
}
