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

	"ddn/domain/score"
	"ddn/internal/periodic"
)

// Shipped is the catalog built into ddn (gpus.json in this package).
//
//go:embed gpus.json
var Shipped []byte

// fileFormat is ddn's catalog file: {"gpus": [{"name", "memory_gb",
// "cuda_cores"}]}, each name a card's marketing name (its model is found
// with score.Normalize).
type fileFormat struct {
	Source string `json:"source"`
	GPUs   []struct {
		Name      string `json:"name"`
		MemoryGB  int64  `json:"memory_gb"`
		CUDACores int64  `json:"cuda_cores"`
	} `json:"gpus"`
}

// originalEntry is one entry of the original node's gpus.json, a JSON
// array: its Name is the model itself ("4060 ti"), matched as written.
type originalEntry struct {
	Name        string
	CudaCore    int32
	MemoryTotal int32
}

// Parse reads a catalog file in either format: ddn's object, whose unknown
// fields are refused so that a typo ("cuda_core") is an error rather than a
// catalog of zeros, or the original node's array, read as that node read it.
// Entry order is kept: a lookup answers the first match.
func Parse(data []byte) (*score.Table, error) {
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '[' {
		var entries []originalEntry
		if err := json.Unmarshal(trimmed, &entries); err != nil {
			return nil, fmt.Errorf("gpu catalog is not valid JSON of the original's form [{\"Name\",\"CudaCore\",\"MemoryTotal\"}]: %w", err)
		}
		gpus := make([]score.GPU, len(entries))
		for i, e := range entries {
			gpus[i] = score.GPU{Model: e.Name, MemoryGB: int64(e.MemoryTotal), CUDACores: int64(e.CudaCore)}
		}
		return score.NewTable(gpus)
	}
	var f fileFormat
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("gpu catalog is not valid JSON of the form {\"gpus\":[{\"name\",\"memory_gb\",\"cuda_cores\"}]} (or the original's array): %w", err)
	}
	gpus := make([]score.GPU, len(f.GPUs))
	for i, g := range f.GPUs {
		model, ok := score.Normalize(g.Name)
		if !ok {
			return nil, fmt.Errorf("gpu catalog entry %d (%q): a name needs a model number, as reported names are matched by it", i, g.Name)
		}
		gpus[i] = score.GPU{Model: model, MemoryGB: g.MemoryGB, CUDACores: g.CUDACores}
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

// WithMemory implements score.Catalog on the current table.
func (c *Catalog) WithMemory(model string, memoryGB int64) (score.GPU, bool) {
	return c.table.Load().WithMemory(model, memoryGB)
}

// First implements score.Catalog on the current table.
func (c *Catalog) First(model string) (score.GPU, bool) { return c.table.Load().First(model) }

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
