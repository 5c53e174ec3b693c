package gpucatalog

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ddn/domain"
	"ddn/domain/score"
	"ddn/internal/parity"
)

// TestShippedCatalogScoresAsTheOriginal scores every parity case (the
// original node's answers for type-2 reports, internal/parity) with the
// shipped catalog: same validation answer, same path, same calc point, same
// converted memory list, and the same refusal text.
func TestShippedCatalogScoresAsTheOriginal(t *testing.T) {
	c, err := Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := parity.Score()
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range cases {
		info := domain.ShortTermInfo{GPUNames: pc.GPUNames, GPUMemoryTotal: pc.GPUMemoryTotal, MemoryTotal: pc.MemoryTotal,
			CPUType: pc.CPUType, CPURate: pc.CPURate, Wallet: pc.Wallet}
		if err := info.Validate(); err != nil {
			if pc.Path != "invalid" || domain.CodeOf(err) != domain.Code(pc.Code) || err.Error() != pc.Error {
				t.Errorf("%s: Validate = %v (code %d); want path %s code %d %q", pc.ID, err, domain.CodeOf(err), pc.Path, pc.Code, pc.Error)
			}
			continue
		}
		r := score.Of(info, c)
		gotCode, gotText := domain.CodeOK, ""
		if err := r.Refusal(); err != nil {
			gotCode, gotText = domain.CodeOf(err), err.Error()
		}
		if string(r.Path) != pc.Path || r.CalcPoint != pc.CalcPoint || gotCode != domain.Code(pc.Code) || gotText != pc.Error {
			t.Errorf("%s %v %v %d: got %s %v code %d %q; want %s %v code %d %q", pc.ID, pc.GPUNames, pc.GPUMemoryTotal, pc.MemoryTotal,
				r.Path, r.CalcPoint, gotCode, gotText, pc.Path, pc.CalcPoint, pc.Code, pc.Error)
		}
		if !slices.Equal(r.GPUMemoryGB, pc.GPUMemoryTotalAfter) {
			t.Errorf("%s: converted memory %v, want %v", pc.ID, r.GPUMemoryGB, pc.GPUMemoryTotalAfter)
		}
	}
}

// TestOriginalFormat reads the original node's gpus.json shape as that
// node did: names are models matched as written, and order decides.
func TestOriginalFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gpus.json")
	writeCatalog(t, path, `[
	 {"Name": "3060", "CudaCore": 3584, "MemoryTotal": 8},
	 {"Name": "3060", "CudaCore": 3584, "MemoryTotal": 12},
	 {"Name": "4090 d", "CudaCore": 14592, "MemoryTotal": 24},
	 {"name": "5090", "cudacore": 21760, "memorytotal": 32}
	]`)
	c, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 4 {
		t.Fatalf("Len = %d, want 4", c.Len())
	}
	if g, ok := c.First("3060"); !ok || g.MemoryGB != 8 {
		t.Errorf("First(3060) = %+v, %v; want the first entry (8 GB)", g, ok)
	}
	if g, ok := c.WithMemory("4090 d", 24); !ok || g.CUDACores != 14592 {
		t.Errorf("WithMemory(4090 d, 24) = %+v, %v", g, ok)
	}
	if g, ok := c.WithMemory("5090", 32); !ok || g.CUDACores != 21760 {
		t.Errorf("field names match case-insensitively, as encoding/json does: %+v, %v", g, ok)
	}
	r := score.Of(domain.ShortTermInfo{GPUNames: []string{"NVIDIA GeForce RTX 3060"}, GPUMemoryTotal: []int64{12288}, MemoryTotal: 16}, c)
	if r.Path != score.PathExact || r.CalcPoint != 95.15 {
		t.Errorf("RTX 3060 12288 MiB: %+v; want exact 95.15", r)
	}
}

const oneGPU = `{"gpus":[{"name":"GeForce RTX 4060","memory_gb":8,"cuda_cores":3072}]}`

func writeCatalog(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesABadFile(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":       `{"gpus": [`,
		"typo in field":  `{"gpus":[{"name":"RTX 4060","memory_gb":8,"cuda_core":3072}]}`,
		"empty":          `{"gpus":[]}`,
		"zero cores":     `{"gpus":[{"name":"RTX 4060","memory_gb":8,"cuda_cores":0}]}`,
		"no model":       `{"gpus":[{"name":"TITAN RTX","memory_gb":24,"cuda_cores":4608}]}`,
		"bad original":   `[{"Name":"4060","CudaCore":"many"}]`,
		"empty original": `[]`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		writeCatalog(t, path, body)
		if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open = %v, want an error naming %s", name, err, path)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.json"), nil); err == nil {
		t.Error("missing file: no error")
	}
}

func TestReloadSwapsOnChangeAndKeepsThePreviousOnABadEdit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gpus.json")
	writeCatalog(t, path, oneGPU)
	c, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.WithMemory("4090", 24); ok {
		t.Fatal("4090 known before it was added")
	}
	if changed, err := c.Reload(); changed || err != nil {
		t.Fatalf("unchanged file: Reload = %v, %v", changed, err)
	}

	writeCatalog(t, path, `{"gpus":[{"name":"GeForce RTX 4060","memory_gb":8,"cuda_cores":3072},{"name":"GeForce RTX 4090","memory_gb":24,"cuda_cores":16384}]}`)
	if changed, err := c.Reload(); !changed || err != nil {
		t.Fatalf("edited file: Reload = %v, %v", changed, err)
	}
	if g, ok := c.WithMemory("4090", 24); !ok || g.CUDACores != 16384 {
		t.Fatalf("after reload: 4090 = %+v, %v", g, ok)
	}

	writeCatalog(t, path, `{"gpus":[{"name":"GeForce RTX 4060","memory_gb":8}`)
	if changed, err := c.Reload(); changed || err == nil {
		t.Fatalf("bad edit: Reload = %v, %v; want an error", changed, err)
	}
	if g, ok := c.WithMemory("4090", 24); !ok || g.CUDACores != 16384 {
		t.Fatalf("bad edit replaced the catalog: 4090 = %+v, %v", g, ok)
	}
	if changed, err := c.Reload(); changed || err != nil {
		t.Fatalf("the same bad edit is reported once: Reload = %v, %v", changed, err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reload(); err == nil {
		t.Fatal("removed file: no error")
	}
	if _, ok := c.WithMemory("4090", 24); !ok {
		t.Fatal("removed file dropped the catalog")
	}
	writeCatalog(t, path, oneGPU)
	if changed, err := c.Reload(); !changed || err != nil {
		t.Fatalf("fixed file: Reload = %v, %v", changed, err)
	}
	if _, ok := c.WithMemory("4090", 24); ok {
		t.Fatal("fixed file not loaded")
	}
}

func TestShippedCatalogDoesNotReload(t *testing.T) {
	c, err := Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := c.Reload(); changed || err != nil {
		t.Fatalf("Reload of the shipped catalog = %v, %v", changed, err)
	}
}
