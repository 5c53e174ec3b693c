// Package score computes a GPU machine's calc point, the figure the
// machine-info contract rewards, from what the machine reports and a catalog
// of GPU specifications, by the original node's algorithm (DESIGN.md,
// "Integrations", Score; parity/score.json holds its answers).
package score

import (
	"errors"
	"fmt"
	"math"

	"ddn/domain"
)

// GPU is one catalog entry: a card's public specification.
type GPU struct {
	// Model is the key reported names are matched with (see Normalize).
	Model     string
	MemoryGB  int64
	CUDACores int64
}

// Catalog finds GPUs by model. Entries are ordered: a lookup answers the
// first matching one, as the original node's list does.
type Catalog interface {
	// WithMemory returns the first entry of model with that memory.
	WithMemory(model string, memoryGB int64) (GPU, bool)
	// First returns the first entry of model, whatever its memory.
	First(model string) (GPU, bool)
}

// Failures of a scoring step, with the original node's words.
var (
	ErrInconsistent = errors.New("gpu name and memory list are inconsistent")
	ErrNoCUDACores  = errors.New("can not find the number of cuda cores")
)

// Path says which step produced a calc point.
type Path string

// Paths of Result.
const (
	PathExact Path = "exact" // (model, GB) found in the catalog
	PathFuzzy Path = "fuzzy" // by model alone, after the exact step gave 0
	PathNone  Path = "none"  // neither step scored
)

// Result is the outcome of scoring a report.
type Result struct {
	// CalcPoint is the score (2 decimals); 0 when not scored.
	CalcPoint float64
	Path      Path
	// GPUMemoryGB is the reported per-GPU memory converted from MiB,
	// round(v/1024) in int32 as the original does: what is stored and
	// sent to the chain for a report that was scored.
	GPUMemoryGB []int64
	// Err is the failure of the last step tried (nil when scored).
	Err error
}

// Of scores a short-term info as the original node does for a machine with
// no score yet: each GPU memory entry is converted from MiB; the exact step
// looks each GPU up by (model, GB); when it gives 0 the fuzzy step looks up
// by model alone and uses the entry's own memory. With n the GPUs that have
// a model, C the smallest CUDA-core count found and M its memory in GB,
// score = memory_total/3.5 + 25·n + sqrt(C)·sqrt(M/10)·n, rounded to 2
// decimals; memory_total is taken as the original's int32 (it wraps).
// The info is not validated here.
func Of(info domain.ShortTermInfo, cat Catalog) Result {
	models := Models(info.GPUNames)
	mem := make([]int64, len(info.GPUMemoryTotal))
	for i, v := range info.GPUMemoryTotal {
		mem[i] = int64(int32(math.Round(float64(int32(v)) / 1024)))
	}
	memoryTotal := float64(int32(info.MemoryTotal))
	r := Result{GPUMemoryGB: mem, Path: PathExact}
	r.CalcPoint, r.Err = exact(models, mem, memoryTotal, cat)
	if r.CalcPoint == 0 {
		r.Path = PathFuzzy
		r.CalcPoint, r.Err = fuzzy(models, memoryTotal, cat)
	}
	if r.CalcPoint == 0 {
		r.Path = PathNone
	}
	return r
}

// Refusal is the error a type-2 report that could not be scored is answered
// with (code 6, the original's text).
func (r Result) Refusal() error {
	if r.Path != PathNone {
		return nil
	}
	return &domain.TextError{Err: domain.ErrInvalidInfo, Text: fmt.Sprintf("calculate gpu point failed %v", r.Err)}
}

func exact(models []string, mem []int64, memoryTotal float64, cat Catalog) (float64, error) {
	if len(models) != len(mem) {
		return 0, ErrInconsistent
	}
	var minCores, minMem int64
	for i, m := range models {
		if g, ok := cat.WithMemory(m, mem[i]); ok && (minCores == 0 || g.CUDACores < minCores) {
			minCores, minMem = g.CUDACores, mem[i]
		}
	}
	return point(len(models), minCores, minMem, memoryTotal)
}

func fuzzy(models []string, memoryTotal float64, cat Catalog) (float64, error) {
	var minCores, minMem int64
	for _, m := range models {
		if g, ok := cat.First(m); ok && (minCores == 0 || g.CUDACores < minCores) {
			minCores, minMem = g.CUDACores, g.MemoryGB
		}
	}
	return point(len(models), minCores, minMem, memoryTotal)
}

func point(n int, cores, memGB int64, memoryTotal float64) (float64, error) {
	if cores == 0 {
		return 0, ErrNoCUDACores
	}
	gpus := float64(n)
	p := memoryTotal/3.5 + gpus*25 + math.Sqrt(float64(cores))*math.Sqrt(float64(memGB)/10)*gpus
	return math.Round(p*100) / 100, nil
}

type modelMem struct {
	model string
	mem   int64
}

// Table is an immutable, ordered catalog.
type Table struct {
	withMem map[modelMem]GPU
	first   map[string]GPU
	size    int
}

// NewTable indexes gpus in their order (the first entry of a model, or of a
// model and memory, is the one found). Entries without a model or with
// non-positive CUDA cores are refused, and so is a negative memory.
func NewTable(gpus []GPU) (*Table, error) {
	if len(gpus) == 0 {
		return nil, errors.New("gpu catalog is empty")
	}
	t := &Table{withMem: map[modelMem]GPU{}, first: map[string]GPU{}, size: len(gpus)}
	for i, g := range gpus {
		switch {
		case g.Model == "":
			return nil, fmt.Errorf("gpu catalog entry %d: model is empty", i)
		case g.MemoryGB < 0:
			return nil, fmt.Errorf("gpu catalog entry %d (%q): memory must not be negative, got %d", i, g.Model, g.MemoryGB)
		case g.CUDACores <= 0:
			return nil, fmt.Errorf("gpu catalog entry %d (%q): CUDA cores must be positive, got %d", i, g.Model, g.CUDACores)
		}
		if _, ok := t.withMem[modelMem{g.Model, g.MemoryGB}]; !ok {
			t.withMem[modelMem{g.Model, g.MemoryGB}] = g
		}
		if _, ok := t.first[g.Model]; !ok {
			t.first[g.Model] = g
		}
	}
	return t, nil
}

// Len is how many entries the table was built from.
func (t *Table) Len() int { return t.size }

// WithMemory implements Catalog.
func (t *Table) WithMemory(model string, memoryGB int64) (GPU, bool) {
	g, ok := t.withMem[modelMem{model, memoryGB}]
	return g, ok
}

// First implements Catalog.
func (t *Table) First(model string) (GPU, bool) {
	g, ok := t.first[model]
	return g, ok
}
