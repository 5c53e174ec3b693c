package deploy

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"ddn/config"
)

// ddnNodes are the ddn replicas of the compose stack.
var ddnNodes = []string{"ddn-1", "ddn-2", "ddn-3"}

// loadCompose parses docker-compose.yml with the compose-spec loader (the
// one docker compose uses): interpolation, merge keys, normalization and
// the schema's validation; paths resolved against the repository.
func loadCompose(t *testing.T, root string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(nil), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

// inRepo fails unless path (absolute, resolved by the loader) exists inside
// the repository.
func inRepo(t *testing.T, root, what, path string) {
	t.Helper()
	rel, err := filepath.Rel(root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Errorf("%s: %s is outside the repository", what, path)
		return
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("%s: %s does not exist in the repository", what, rel)
	}
}

// hostPath maps a path inside a service's container back to the repository
// file mounted there, if any.
func hostPath(s types.ServiceConfig, inContainer string) (string, bool) {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if inContainer == v.Target {
			return v.Source, true
		}
		if rest, ok := strings.CutPrefix(inContainer, strings.TrimSuffix(v.Target, "/")+"/"); ok {
			return filepath.Join(v.Source, rest), true
		}
	}
	return "", false
}

func TestComposeStack(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, root)

	want := append([]string{"mongodb", "balancer", "prometheus", "pushgateway", "grafana"}, ddnNodes...)
	if got := slices.Sorted(maps.Keys(p.Services)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("services %v; want %v", got, slices.Sorted(slices.Values(want)))
	}

	// Volumes: every named volume used is declared and every declared one
	// used; every bind mount is a file or directory of the repository.
	used := map[string]bool{}
	published := map[string]string{}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			switch v.Type {
			case types.VolumeTypeVolume:
				used[v.Source] = true
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("%s mounts volume %q, which is not declared", name, v.Source)
				}
			case types.VolumeTypeBind:
				inRepo(t, root, name+" bind mount", v.Source)
				if !v.ReadOnly {
					t.Errorf("%s mounts %s read-write; repository files are mounted read-only", name, v.Source)
				}
			default:
				t.Errorf("%s: volume of type %s", name, v.Type)
			}
		}
		for _, port := range s.Ports {
			if other, dup := published[port.Published]; dup {
				t.Errorf("host port %s published by %s and %s", port.Published, other, name)
			}
			published[port.Published] = name
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable {
			t.Errorf("%s has no health check", name)
		}
		for dep := range s.DependsOn {
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
			}
		}
	}
	for name := range p.Volumes {
		if !used[name] {
			t.Errorf("volume %s is declared but unused", name)
		}
	}
	if want := map[string]string{"9521": "balancer", "9090": "prometheus", "9091": "pushgateway", "3000": "grafana"}; !maps.Equal(published, want) {
		t.Errorf("published ports %v; want %v (nodes only behind the balancer, MongoDB not published)", published, want)
	}

	// MongoDB 7 as a single-member replica set, initiated by its health check.
	m := p.Services["mongodb"]
	if m.Image != "mongodb/mongodb-community-server:7.0.12-ubuntu2204" {
		t.Errorf("mongodb image %s", m.Image)
	}
	if cmd := strings.Join(m.Command, " "); !strings.Contains(cmd, "--replSet rs0") {
		t.Errorf("mongodb command %q does not start replica set rs0", cmd)
	}
	if hc := strings.Join(m.HealthCheck.Test, " "); !strings.Contains(hc, "rs.initiate({_id: 'rs0', members: [{_id: 0, host: 'mongodb:27017'}]})") ||
		!strings.Contains(hc, "try { rs.status() }") || !strings.Contains(hc, "isWritablePrimary") {
		t.Errorf("mongodb health check %q: want an idempotent rs.initiate of rs0 and healthy only once primary", hc)
	}

	// Three distinct nodes, built from this Dockerfile, on the replica set.
	stages := map[string]bool{}
	for _, s := range parseDockerfile(t, filepath.Join(root, "Dockerfile")) {
		stages[s.Name] = true
	}
	ids := map[string]bool{}
	var trusted []string // Security.TrustedProxies of every node
	for _, name := range ddnNodes {
		s := p.Services[name]
		if s.Build == nil || s.Build.Context != root || !stages[s.Build.Target] || s.Build.Target != "ddn" {
			t.Errorf("%s build %+v; want this repository's Dockerfile, target ddn", name, s.Build)
		} else {
			df := s.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(s.Build.Context, df)
			}
			inRepo(t, root, name+" Dockerfile", df)
		}
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		id := env("DDN_NODEID")
		if id != name || ids[id] {
			t.Errorf("%s: DDN_NODEID %q; want its own service name", name, id)
		}
		ids[id] = true
		if uri := env("DDN_MONGODB_URI"); !strings.HasPrefix(uri, "mongodb://mongodb:27017/") ||
			!(strings.Contains(uri, "replicaSet=rs0") || strings.Contains(uri, "directConnection=true")) {
			t.Errorf("%s: DDN_MONGODB_URI %q; want the mongodb service as replica set rs0", name, uri)
		}
		if u := env("DDN_PROMETHEUS_PUSHGATEWAYURL"); u != "http://pushgateway:9091" {
			t.Errorf("%s: DDN_PROMETHEUS_PUSHGATEWAYURL %q; want the pushgateway service", name, u)
		}
		if env("DDN_PROMETHEUS_JOBNAME") == "ddn" || env("DDN_PROMETHEUS_JOBNAME") == "ddn-fleet" {
			t.Errorf("%s pushes under a scraped job name: the dashboard would count it twice", name)
		}
		if dep, ok := s.DependsOn["mongodb"]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s does not wait for a healthy mongodb", name)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes ports; nodes are reached through the balancer", name)
		}
		// The configuration file it is given exists, is mounted, and loads.
		cmd := []string(s.Command)
		i := slices.Index(cmd, "-config")
		if i < 0 || i+1 >= len(cmd) {
			t.Errorf("%s: command %v has no -config", name, cmd)
			continue
		}
		file, ok := hostPath(s, cmd[i+1])
		if !ok {
			t.Errorf("%s: -config %s is not in a mounted directory", name, cmd[i+1])
			continue
		}
		inRepo(t, root, name+" -config", file)
		cfg, err := config.Load(file)
		if err != nil {
			t.Errorf("%s: %s does not load: %v", name, file, err)
		} else {
			if cfg.Addr != "0.0.0.0:9521" {
				t.Errorf("%s: Addr %s; the balancer and Prometheus expect port 9521", name, cfg.Addr)
			}
			trusted = append(trusted, cfg.Security.TrustedProxies...)
		}
		if hc := strings.Join(s.HealthCheck.Test, " "); !strings.Contains(hc, "/usr/local/bin/ddn healthcheck") {
			t.Errorf("%s health check %q; want ddn healthcheck", name, hc)
		}
	}

	// The balancer waits for the nodes and its upstreams are exactly them;
	// its fixed address is the proxy the nodes trust to name the agents.
	b := p.Services["balancer"]
	var balancerIP string
	if n := b.Networks["default"]; n != nil {
		balancerIP = n.Ipv4Address
	}
	if balancerIP == "" {
		t.Error("balancer has no fixed address on the default network; the nodes cannot trust it as a proxy")
	}
	for _, ip := range trusted {
		if ip != balancerIP {
			t.Errorf("a node trusts %s as a proxy; want only the balancer's %s", ip, balancerIP)
		}
	}
	if len(trusted) != len(ddnNodes) {
		t.Errorf("%d of %d nodes trust the balancer as a proxy (Security.TrustedProxies)", len(trusted), len(ddnNodes))
	}
	for _, name := range ddnNodes {
		if _, ok := b.DependsOn[name]; !ok {
			t.Errorf("balancer does not depend on %s", name)
		}
	}
	conf, ok := hostPath(b, "/etc/nginx/nginx.conf")
	if !ok {
		t.Fatal("balancer does not mount an nginx.conf from the repository")
	}
	checkNginxConf(t, conf)

	checkPrometheus(t, root, p)
	checkGrafana(t, p)
}

// checkNginxConf: upstreams are the ddn services on 9521, WebSockets are
// proxied (HTTP/1.1, Upgrade, Connection), idle timeouts exceed the node's
// HeartbeatTimeout.
func checkNginxConf(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	upstream := regexp.MustCompile(`(?s)upstream ddn \{(.*?)\}`).FindStringSubmatch(conf)
	if upstream == nil {
		t.Fatal("nginx.conf has no upstream ddn")
	}
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+([^\s;]+)[^;]*;`).FindAllStringSubmatch(upstream[1], -1) {
		servers = append(servers, m[1])
	}
	var want []string
	for _, n := range ddnNodes {
		want = append(want, n+":9521")
	}
	if !slices.Equal(servers, want) {
		t.Errorf("nginx upstream servers %v; want %v", servers, want)
	}
	for _, directive := range []string{
		"proxy_http_version 1.1;",
		"proxy_set_header Upgrade $http_upgrade;",
		"proxy_set_header Connection $connection_upgrade;",
		"proxy_pass http://ddn;",
		"listen 9521;",
	} {
		if !strings.Contains(conf, directive) {
			t.Errorf("nginx.conf lacks %q", directive)
		}
	}
	heartbeat := 30 * time.Second
	for _, key := range []string{"proxy_read_timeout", "proxy_send_timeout"} {
		m := regexp.MustCompile(key + `\s+(\d+)s;`).FindStringSubmatch(conf)
		if m == nil {
			t.Errorf("nginx.conf has no %s in seconds", key)
			continue
		}
		if d, _ := time.ParseDuration(m[1] + "s"); d <= heartbeat {
			t.Errorf("%s %s is not above the node's HeartbeatTimeout %s", key, d, heartbeat)
		}
	}
}

type promConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		HonorLabels   bool   `yaml:"honor_labels"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// checkPrometheus: the mounted configuration scrapes each node (job ddn),
// the fleet from one node (job ddn-fleet) and the Pushgateway, and its rule
// files are mounted with it.
func checkPrometheus(t *testing.T, root string, p *types.Project) {
	t.Helper()
	s := p.Services["prometheus"]
	path, ok := hostPath(s, "/etc/prometheus/prometheus.yml")
	if !ok {
		t.Fatal("prometheus does not mount prometheus.yml from the repository")
	}
	inRepo(t, root, "prometheus config", path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg promConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, rf := range cfg.RuleFiles {
		inRepo(t, root, "prometheus rule file", filepath.Join(filepath.Dir(path), rf))
	}
	jobs := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			jobs[sc.JobName] = append(jobs[sc.JobName], st.Targets...)
		}
		if sc.JobName == "ddn-fleet" && sc.MetricsPath != "/metrics/prometheus" {
			t.Errorf("job ddn-fleet scrapes %q; want /metrics/prometheus", sc.MetricsPath)
		}
		if sc.JobName == "pushgateway" && !sc.HonorLabels {
			t.Error("job pushgateway without honor_labels: pushed job labels would be lost")
		}
	}
	var nodes []string
	for _, n := range ddnNodes {
		nodes = append(nodes, n+":9521")
	}
	if got := jobs["ddn"]; !slices.Equal(slices.Sorted(slices.Values(got)), nodes) {
		t.Errorf("job ddn scrapes %v; want every node %v", got, nodes)
	}
	if got := jobs["ddn-fleet"]; len(got) != 1 || !slices.Contains(nodes, got[0]) {
		t.Errorf("job ddn-fleet scrapes %v; want exactly one node", got)
	}
	if got := jobs["pushgateway"]; !slices.Equal(got, []string{"pushgateway:9091"}) {
		t.Errorf("job pushgateway scrapes %v; want the pushgateway service", got)
	}
	for job, targets := range jobs {
		for _, target := range targets {
			host, _, _ := strings.Cut(target, ":")
			if _, ok := p.Services[host]; !ok {
				t.Errorf("job %s scrapes %s, which is not a service", job, target)
			}
		}
	}
}

// checkGrafana: the provisioned data source is the prometheus service and
// the dashboards provider reads the mounted dashboards directory.
func checkGrafana(t *testing.T, p *types.Project) {
	t.Helper()
	s := p.Services["grafana"]
	dsDir, ok := hostPath(s, "/etc/grafana/provisioning/datasources")
	if !ok {
		t.Fatal("grafana has no provisioned data sources")
	}
	b, err := os.ReadFile(filepath.Join(dsDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "url: http://prometheus:9090") {
		t.Error("grafana's data source is not the prometheus service")
	}
	provDir, ok := hostPath(s, "/etc/grafana/provisioning/dashboards")
	if !ok {
		t.Fatal("grafana has no dashboard provider")
	}
	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	b, err = os.ReadFile(filepath.Join(provDir, "ddn.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &prov); err != nil || len(prov.Providers) != 1 {
		t.Fatalf("dashboard provider: %v", err)
	}
	dir, ok := hostPath(s, prov.Providers[0].Options.Path)
	if !ok {
		t.Fatalf("dashboards path %s is not mounted", prov.Providers[0].Options.Path)
	}
	if _, err := os.Stat(filepath.Join(dir, "ddn.json")); err != nil {
		t.Errorf("the ddn dashboard is not in the mounted dashboards: %v", err)
	}
}
