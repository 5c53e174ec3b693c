// Package deploy holds the deployment files (compose, Prometheus, Grafana,
// nginx, the build script) and the tests that check them without Docker.
package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the module root (deploy/ is one level down).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found above deploy/: %v", err)
	}
	return root
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string
}

// stage is one FROM and what follows it.
type stage struct {
	Image, Name string
	Body        []instruction
}

// find returns the stage's instructions of one kind.
func (s stage) find(cmd string) []string {
	var out []string
	for _, in := range s.Body {
		if in.Cmd == cmd {
			out = append(out, in.Args)
		}
	}
	return out
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, backslash continuations joined, grouped by stage.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []stage
	var line strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") || (text == "" && line.Len() == 0) {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line.WriteString(cont + " ")
			continue
		}
		line.WriteString(text)
		cmd, args, _ := strings.Cut(strings.Join(strings.Fields(line.String()), " "), " ")
		line.Reset()
		in := instruction{Cmd: strings.ToUpper(cmd), Args: args}
		if in.Cmd == "FROM" {
			f := strings.Fields(args)
			s := stage{Image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before the first FROM", path, in.Cmd)
		}
		stages[len(stages)-1].Body = append(stages[len(stages)-1].Body, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// goDirective is the go version of go.mod ("1.26.0").
func goDirective(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// buildCall matches a call of the build script: deploy/build.sh OUT VERSION.
var buildCall = regexp.MustCompile(`(?:^|[\s;&|])(?:sh |bash |\./)?deploy/build\.sh (\S+) (\S+)`)

// TestDockerfile checks the image without building it: the binaries come
// from deploy/build.sh (the script CI and `task build` run) on the Go
// release of go.mod, and the node's image is minimal, non-root, exposes
// 9521, health-checks /healthz with the binary itself and takes its
// configuration from DDN_* variables or a mounted file.
func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages; want a build stage and a runtime stage", len(stages))
	}
	build := stages[0]
	if want := "golang:" + goDirective(t, root) + "-"; !strings.HasPrefix(build.Image, want) {
		t.Errorf("build stage image %s; want %s* (go.mod's Go release)", build.Image, want)
	}
	var calls [][]string
	for _, run := range build.find("RUN") {
		calls = append(calls, buildCall.FindAllStringSubmatch(run, -1)...)
	}
	if len(calls) != 1 {
		t.Fatalf("build stage calls deploy/build.sh %d times; want once (RUN sh deploy/build.sh /out \"${VERSION}\")", len(calls))
	}
	out, version := calls[0][1], calls[0][2]
	if strings.Trim(version, `"`) != "${VERSION}" || !slices.ContainsFunc(build.find("ARG"), func(a string) bool { return strings.HasPrefix(a, "VERSION") }) {
		t.Errorf("build.sh is called with version %s; want the ARG ${VERSION}", version)
	}
	for _, run := range build.find("RUN") {
		if strings.Contains(run, "go build") {
			t.Errorf("build stage runs go build itself (%q): only deploy/build.sh may, so that every build is the same", run)
		}
	}
	for _, cp := range build.find("COPY") {
		for _, src := range strings.Fields(cp)[:len(strings.Fields(cp))-1] {
			if _, err := os.Stat(filepath.Join(root, src)); err != nil && !strings.HasPrefix(src, "--") {
				t.Errorf("COPY %s: %v", src, err)
			}
		}
	}

	byName := map[string]stage{}
	for _, s := range stages[1:] {
		byName[s.Name] = s
		if !strings.HasPrefix(s.Image, "gcr.io/distroless/static") || !strings.HasSuffix(s.Image, ":nonroot") {
			t.Errorf("stage %s runs on %s; want gcr.io/distroless/static*:nonroot", s.Name, s.Image)
		}
		if users := s.find("USER"); len(users) == 0 || strings.HasPrefix(users[len(users)-1], "0") || strings.HasPrefix(users[len(users)-1], "root") {
			t.Errorf("stage %s: USER %v; want a non-root user", s.Name, users)
		}
	}
	for name, bin := range map[string]string{"ddn": "ddn", "agent": "ddn-agent", "bench": "ddn-bench"} {
		s, ok := byName[name]
		if !ok {
			t.Errorf("no stage %q", name)
			continue
		}
		if want := "--from=" + build.Name + " " + out + "/" + bin + " /usr/local/bin/" + bin; !slices.Contains(s.find("COPY"), want) {
			t.Errorf("stage %s does not COPY %s", name, want)
		}
		if want := `["/usr/local/bin/` + bin + `"]`; !slices.Contains(s.find("ENTRYPOINT"), want) {
			t.Errorf("stage %s: ENTRYPOINT %v; want %s", name, s.find("ENTRYPOINT"), want)
		}
	}
	node := stages[len(stages)-1]
	if node.Name != "ddn" {
		t.Errorf("the last (default) stage is %q; want the node, ddn", node.Name)
	}
	if !slices.Contains(node.find("EXPOSE"), "9521") {
		t.Errorf("node image does not EXPOSE 9521")
	}
	hc := node.find("HEALTHCHECK")
	if len(hc) != 1 || !strings.HasSuffix(hc[0], `CMD ["/usr/local/bin/ddn", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %v; want CMD [\"/usr/local/bin/ddn\", \"healthcheck\"]", hc)
	}
	// No DDN_* in ENV: it would override the keys of a mounted config file.
	if env := strings.Join(node.find("ENV"), " "); strings.Contains(env, "DDN_") {
		t.Errorf("node ENV %q sets DDN_* variables, which would override a mounted configuration", env)
	}
	if wd := node.find("WORKDIR"); !slices.Equal(wd, []string{"/var/lib/ddn"}) {
		t.Errorf("WORKDIR %v; want /var/lib/ddn (the embedded store's ./ddn-data goes there)", wd)
	}
	if !slices.ContainsFunc(node.find("COPY"), func(c string) bool {
		return strings.Contains(c, "--chown=65532:65532") && strings.HasSuffix(c, " /var/lib/ddn")
	}) {
		t.Error("the data directory /var/lib/ddn is not given to the non-root user")
	}

	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ignore), "\n") {
		line = strings.TrimSuffix(strings.TrimSpace(line), "/")
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "deploy", "deploy/build.sh", "adapters", "domain", "ports", "config", "agent"} {
			if line == needed || line == "*" {
				t.Errorf(".dockerignore excludes %s, which the build needs", needed)
			}
		}
	}
}

// TestEveryBuildUsesTheScript: `task build` and CI build through
// deploy/build.sh too, so the image, the release binaries and CI's binary
// are built with the same flags and tags.
func TestEveryBuildUsesTheScript(t *testing.T) {
	root := repoRoot(t)
	taskfile, err := os.ReadFile(filepath.Join(root, "Taskfile.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		re := regexp.MustCompile(`GOOS=linux GOARCH=` + arch + ` (?:sh )?deploy/build\.sh \S+ \{\{\.VERSION\}\}`)
		if !re.Match(taskfile) {
			t.Errorf("Taskfile.yml does not build linux/%s with deploy/build.sh and the version", arch)
		}
	}
	if n := strings.Count(string(taskfile), "go build"); n != 0 {
		t.Errorf("Taskfile.yml runs go build %d times besides deploy/build.sh", n)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !buildCall.Match(ci) {
		t.Error(".ci/run does not build with deploy/build.sh")
	}
}

// TestBuildScript runs deploy/build.sh for the node and checks what the
// image gets: a static ELF (no interpreter), built with CGO_ENABLED=0,
// -trimpath and the netgo,osusergo tags, with the version stamped.
func TestBuildScript(t *testing.T) {
	root := repoRoot(t)
	out := t.TempDir()
	cmd := exec.Command("sh", "deploy/build.sh", out, "v9.8.7-test", "ddn")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build.sh: %v\n%s", err, b)
	}
	bin := filepath.Join(out, "ddn")
	b, err := exec.Command(bin, "-version").Output()
	if err != nil || strings.TrimSpace(string(b)) != "v9.8.7-test" {
		t.Errorf("ddn -version = %q, %v; want the stamped v9.8.7-test", b, err)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"build\tCGO_ENABLED=0", "build\t-trimpath=true", "build\t-tags=netgo,osusergo"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("build info lacks %q:\n%s", want, info)
		}
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("ddn has an ELF interpreter: it is not static")
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("ddn keeps its symbol table: -s -w were not applied")
	}
}
