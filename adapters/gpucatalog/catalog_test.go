package gpucatalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ddn/domain/score"
)

func TestShippedCatalogCoversTheFleet(t *testing.T) {
	c, err := Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		name  string
		mem   int64
		cores int64
	}{
		{"NVIDIA GeForce RTX 2080 Ti", 11, 4352},
		{"NVIDIA GeForce RTX 3060", 12, 3584},
		{"NVIDIA GeForce RTX 3080", 10, 8704},
		{"NVIDIA GeForce RTX 3080", 12, 8960},
		{"NVIDIA GeForce RTX 4060 Ti", 16, 4352},
		{"NVIDIA GeForce RTX 4070 Ti SUPER", 16, 8448},
		{"NVIDIA GeForce RTX 4090", 24, 16384},
		{"NVIDIA GeForce RTX 4090 D", 24, 14592},
		{"NVIDIA GeForce RTX 5090", 32, 21760},
		{"Tesla V100-SXM2-32GB", 32, 5120},
		{"NVIDIA A100-SXM4-80GB", 80, 6912},
		{"NVIDIA A100-PCIE-40GB", 40, 6912},
		{"NVIDIA A10", 24, 9216},
		{"NVIDIA A40", 48, 10752},
		{"NVIDIA A30", 24, 3584},
		{"NVIDIA L4", 24, 7424},
		{"NVIDIA L40", 48, 18176},
		{"NVIDIA L40S", 48, 18176},
		{"NVIDIA H100 PCIe", 80, 14592},
		{"NVIDIA H200", 141, 16896},
		{"NVIDIA RTX A4000", 16, 6144},
		{"NVIDIA RTX A5000", 24, 8192},
		{"NVIDIA RTX A6000", 48, 10752},
		{"NVIDIA RTX 6000 Ada Generation", 48, 18176},
		{"Quadro RTX 6000", 24, 4608},
		{"NVIDIA GeForce RTX 4090 Laptop GPU", 16, 9728}, // told from the desktop card by its memory
		{"NVIDIA GeForce RTX 4060 Laptop GPU", 8, 3072},
	} {
		cores, ok := c.CUDACores(score.Normalize(g.name), g.mem)
		if !ok || cores != g.cores {
			t.Errorf("%s %d GB: %d, %v; want %d", g.name, g.mem, cores, ok, g.cores)
		}
	}
	if c.Len() < 80 {
		t.Errorf("shipped catalog has %d entries", c.Len())
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
		"not json":      `{"gpus": [`,
		"typo in field": `{"gpus":[{"name":"RTX 4060","memory_gb":8,"cuda_core":3072}]}`,
		"empty":         `{"gpus":[]}`,
		"zero cores":    `{"gpus":[{"name":"RTX 4060","memory_gb":8,"cuda_cores":0}]}`,
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
	if _, ok := c.CUDACores("4090", 24); ok {
		t.Fatal("4090 known before it was added")
	}
	if changed, err := c.Reload(); changed || err != nil {
		t.Fatalf("unchanged file: Reload = %v, %v", changed, err)
	}

	writeCatalog(t, path, `{"gpus":[{"name":"GeForce RTX 4060","memory_gb":8,"cuda_cores":3072},{"name":"GeForce RTX 4090","memory_gb":24,"cuda_cores":16384}]}`)
	if changed, err := c.Reload(); !changed || err != nil {
		t.Fatalf("edited file: Reload = %v, %v", changed, err)
	}
	if cores, ok := c.CUDACores("4090", 24); !ok || cores != 16384 {
		t.Fatalf("after reload: 4090 = %d, %v", cores, ok)
	}

	writeCatalog(t, path, `{"gpus":[{"name":"GeForce RTX 4060","memory_gb":8}`)
	if changed, err := c.Reload(); changed || err == nil {
		t.Fatalf("bad edit: Reload = %v, %v; want an error", changed, err)
	}
	if cores, ok := c.CUDACores("4090", 24); !ok || cores != 16384 {
		t.Fatalf("bad edit replaced the catalog: 4090 = %d, %v", cores, ok)
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
	if _, ok := c.CUDACores("4090", 24); !ok {
		t.Fatal("removed file dropped the catalog")
	}
	writeCatalog(t, path, oneGPU)
	if changed, err := c.Reload(); !changed || err != nil {
		t.Fatalf("fixed file: Reload = %v, %v", changed, err)
	}
	if _, ok := c.CUDACores("4090", 24); ok {
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
