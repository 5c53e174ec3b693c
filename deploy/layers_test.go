package deploy

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// layerOf names the layer of a package directory (relative to the module
// root, slash-separated), or "" for packages outside the layers.
func layerOf(dir string) string {
	first, _, _ := strings.Cut(dir, "/")
	switch first {
	case "domain", "ports", "app", "adapters", "cmd":
		return first
	}
	return ""
}

// allowed lists, for each layer, the project packages its production code
// may import: a layer sees only the layers below it (domain < ports < app <
// adapters < cmd), the domain sees nothing of the project but itself, and
// no adapter sees another.
func allowed(from, imp string) bool {
	to := strings.TrimPrefix(imp, "ddn/")
	switch layerOf(from) {
	case "domain":
		return layerOf(to) == "domain"
	case "ports":
		return layerOf(to) == "domain" || layerOf(to) == "ports"
	case "app":
		return layerOf(to) == "domain" || layerOf(to) == "ports" || layerOf(to) == "app" || to == "internal/periodic"
	case "adapters":
		own := strings.Join(strings.SplitN(from, "/", 3)[:2], "/")
		switch {
		case strings.HasPrefix(to, "adapters/"):
			return to == own || strings.HasPrefix(to, own+"/")
		case layerOf(to) == "cmd", to == "config":
			return false
		}
		return true
	}
	return layerOf(to) != "cmd"
}

// TestLayers: no production file imports a package above its layer, the
// domain imports nothing of the project, the application layer no library
// beyond the standard one, and adapters never import each other.
func TestLayers(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if !strings.HasPrefix(imp, "ddn/") {
				if (layerOf(rel) == "domain" || layerOf(rel) == "app") && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
					t.Errorf("%s imports the library %s: the %s layer uses the standard library only", rel, imp, layerOf(rel))
				}
				continue
			}
			if !allowed(rel, imp) {
				t.Errorf("%s (layer %q) imports %s", rel, layerOf(rel), imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("checked %d files; the walk missed the tree", checked)
	}
}

// TestLayersRule: the rule itself refuses what it must.
func TestLayersRule(t *testing.T) {
	for _, c := range []struct {
		from, imp string
		ok        bool
	}{
		{"domain", "ddn/ports", false},
		{"domain/score", "ddn/domain", true},
		{"ports", "ddn/app/session", false},
		{"app/session", "ddn/adapters/memory", false},
		{"app/session", "ddn/ports", true},
		{"adapters/mongo", "ddn/adapters/embedded", false},
		{"adapters/geo", "ddn/adapters/geo/ip2ltest", true},
		{"adapters/websocket", "ddn/app/session", true},
		{"adapters/httpapi", "ddn/config", false},
		{"internal/wire", "ddn/cmd/ddn", false},
		{"cmd/ddn", "ddn/adapters/mongo", true},
	} {
		if got := allowed(c.from, c.imp); got != c.ok {
			t.Errorf("allowed(%s, %s) = %v, want %v", c.from, c.imp, got, c.ok)
		}
	}
}
