// Package gpucatalog loads the GPU catalog the score needs: the JSON file of
// public NVIDIA specifications shipped inside ddn, or an operator's file that
// replaces it and is reloaded when its content changes.
package gpucatalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"ddn/domain/periodic"
	"ddn/domain/score"
)

// Shipped is the catalog built into ddn (gpus.json in this package).
//
//go:embed gpus.json
var Shipped []byte

// fileFormat is the catalog file: {"gpus": [{"name", "memory_gb", "cuda_cores"}]}.
type fileFormat struct {
	Source string `json:"source"`
	GPUs   []struct {
		Name      string `json:"name"`
		MemoryGB  int64  `json:"memory_gb"`
		CUDACores int64  `json:"cuda_cores"`
	} `json:"gpus"`
}

// Parse reads a catalog file; unknown fields are refused so that a typo
// ("cuda_core") is an error, not a catalog of zeros.
func Parse(data []byte) (*score.Table, error) {
	var f fileFormat
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("gpu catalog is not valid JSON of the form {\"gpus\":[{\"name\",\"memory_gb\",\"cuda_cores\"}]}: %w", err)
	}
	gpus := make([]score.GPU, len(f.GPUs))
	for i, g := range f.GPUs {
		gpus[i] = score.GPU{Name: g.Name, MemoryGB: g.MemoryGB, CUDACores: g.CUDACores}
	}
	return score.NewTable(gpus)
}

// Catalog is the live catalog: a score.Catalog whose table is swapped
// atomically when the file changes, so lookups never wait for a reload.
type Catalog struct {
	path  string
	log   *zap.Logger
	table atomic.Pointer[score.Table]

	mu      sync.Mutex // serialises reloads
	lastSum [sha256.Size]byte
}

// Open loads the catalog at path, or the shipped one when path is "". A file
// that cannot be read or parsed is an error: the node must not start with a
// catalog it cannot use.
func Open(path string, log *zap.Logger) (*Catalog, error) {
	if log == nil {
		log = zap.NewNop()
	}
	c := &Catalog{path: path, log: log}
	data := Shipped
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("gpu catalog %s: %w", path, err)
		}
	}
	t, err := Parse(data)
	if err != nil {
		if path == "" {
			return nil, fmt.Errorf("shipped gpu catalog: %w", err)
		}
		return nil, fmt.Errorf("gpu catalog %s: %w", path, err)
	}
	c.table.Store(t)
	c.lastSum = sha256.Sum256(data)
	return c, nil
}

// Path is the file the catalog follows; "" for the shipped one.
func (c *Catalog) Path() string { return c.path }

// Len is how many entries the current table holds.
func (c *Catalog) Len() int { return c.table.Load().Len() }

// CUDACores implements score.Catalog on the current table.
func (c *Catalog) CUDACores(normalized string, memoryGB int64) (int64, bool) {
	return c.table.Load().CUDACores(normalized, memoryGB)
}

// Reload reads the file again and swaps the table when its content changed,
// and says whether it did. A file that cannot be read or parsed leaves the
// previous table in place and is returned as the error. The shipped catalog
// never changes.
func (c *Catalog) Reload() (bool, error) {
	if c.path == "" {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := os.ReadFile(c.path)
	if err != nil {
		return false, fmt.Errorf("gpu catalog %s: %w (keeping the previous catalog)", c.path, err)
	}
	sum := sha256.Sum256(data)
	if sum == c.lastSum {
		return false, nil
	}
	t, err := Parse(data)
	if err != nil {
		// Remember the bad content so that it is reported once, not every poll.
		c.lastSum = sum
		return false, fmt.Errorf("gpu catalog %s: %w (keeping the previous catalog)", c.path, err)
	}
	c.table.Store(t)
	c.lastSum = sum
	return true, nil
}

// Run polls the file every interval until ctx ends, logging each reload and
// each bad edit. Polling the content rather than watching with fsnotify also
// follows editors that replace the file and Kubernetes ConfigMap symlink
// swaps, which a watch on the file loses; reading a few KB every few seconds
// costs nothing.
func (c *Catalog) Run(ctx context.Context, every time.Duration) {
	if c.path == "" || every <= 0 {
		return
	}
	periodic.Run(ctx, every, func(context.Context) { c.reloadAndLog() })
}

func (c *Catalog) reloadAndLog() {
	changed, err := c.Reload()
	switch {
	case err != nil:
		c.log.Error("gpu catalog edit refused", zap.Error(err))
	case changed:
		c.log.Info("gpu catalog reloaded", zap.String("path", c.path), zap.Int("gpus", c.Len()))
	}
}
