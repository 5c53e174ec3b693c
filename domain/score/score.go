// Package score computes a GPU machine's calc point, the figure the
// machine-info contract rewards, from what the machine reports and a catalog
// of GPU specifications (DESIGN.md, "Integrations", Score).
package score

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"ddn/domain"
)

// GPU is one catalog entry: a card's public specification.
type GPU struct {
	// Name is the card's marketing name; it is looked up by Normalize(Name).
	Name      string
	MemoryGB  int64
	CUDACores int64
}

// Catalog answers how many CUDA cores a reported GPU has; the adapter that
// loads the catalog file implements it (and may swap its table at any time).
type Catalog interface {
	// CUDACores looks a normalised name up by (name, memory GB), else by name
	// alone, and says whether it found it.
	CUDACores(normalized string, memoryGB int64) (int64, bool)
}

type nameMem struct {
	name string
	mem  int64
}

// Table is an immutable catalog built from a list of GPUs.
type Table struct {
	exact  map[nameMem]int64
	byName map[string]int64
	size   int
}

// NewTable checks and indexes gpus. A name alone resolves to the variant with
// the least memory, the conservative choice when a card's memory variants
// differ in cores (the 10 and 12 GB RTX 3080). Two entries with the same
// normalised name and memory but different cores are an error: the catalog
// could not decide between them.
func NewTable(gpus []GPU) (*Table, error) {
	if len(gpus) == 0 {
		return nil, errors.New("gpu catalog is empty")
	}
	t := &Table{exact: map[nameMem]int64{}, byName: map[string]int64{}, size: len(gpus)}
	sorted := slices.Clone(gpus)
	slices.SortStableFunc(sorted, func(a, b GPU) int { return cmp.Compare(a.MemoryGB, b.MemoryGB) })
	for i, g := range sorted {
		name := Normalize(g.Name)
		switch {
		case name == "":
			return nil, fmt.Errorf("gpu catalog entry %q: name is empty", g.Name)
		case g.MemoryGB <= 0:
			return nil, fmt.Errorf("gpu catalog entry %q: memory_gb must be positive, got %d", g.Name, g.MemoryGB)
		case g.CUDACores <= 0:
			return nil, fmt.Errorf("gpu catalog entry %q: cuda_cores must be positive, got %d", g.Name, g.CUDACores)
		}
		k := nameMem{name, g.MemoryGB}
		if prev, ok := t.exact[k]; ok && prev != g.CUDACores {
			return nil, fmt.Errorf("gpu catalog entry %q (%d GB): %d CUDA cores contradicts another entry with %d (both normalise to %q)", g.Name, g.MemoryGB, g.CUDACores, prev, name)
		}
		t.exact[k] = g.CUDACores
		if _, ok := t.byName[name]; !ok {
			t.byName[name] = sorted[i].CUDACores
		}
	}
	return t, nil
}

// Len is how many entries the table was built from.
func (t *Table) Len() int { return t.size }

// CUDACores implements Catalog.
func (t *Table) CUDACores(normalized string, memoryGB int64) (int64, bool) {
	if c, ok := t.exact[nameMem{normalized, memoryGB}]; ok {
		return c, true
	}
	c, ok := t.byName[normalized]
	return c, ok
}

// Of scores a short-term info: with n GPUs, C the smallest CUDA-core count
// among them and M that GPU's reported memory in GB (the smaller memory when
// several share the smallest count),
// score = memory_total/3.5 + 25·n + sqrt(C)·sqrt(M/10)·n, rounded to 2
// decimals. Only the fields the rule uses are checked (a calculator may
// score a machine without a wallet): invalid ones are a domain.FieldError
// (code 1); a GPU the catalog does not know is domain.ErrInvalidInfo (code 6)
// naming the GPU.
func Of(info domain.ShortTermInfo, cat Catalog) (float64, error) {
	if err := validate(info); err != nil {
		return 0, err
	}
	if cat == nil {
		return 0, &domain.DetailError{Err: domain.ErrInvalidInfo, Detail: "no GPU catalog loaded"}
	}
	n := float64(len(info.GPUNames))
	var minCores, minMem int64
	for i, name := range info.GPUNames {
		norm := Normalize(name)
		cores, ok := cat.CUDACores(norm, info.GPUMemoryTotal[i])
		if !ok {
			return 0, &domain.DetailError{Err: domain.ErrInvalidInfo,
				Detail: fmt.Sprintf("gpu_names[%d] %q (model %q) is not in the GPU catalog", i, name, norm)}
		}
		if i == 0 || cores < minCores || (cores == minCores && info.GPUMemoryTotal[i] < minMem) {
			minCores, minMem = cores, info.GPUMemoryTotal[i]
		}
	}
	s := float64(info.MemoryTotal)/3.5 + 25*n + math.Sqrt(float64(minCores))*math.Sqrt(float64(minMem)/10)*n
	return math.Round(s*100) / 100, nil
}

// validate checks the fields the score uses, with the protocol's words.
func validate(i domain.ShortTermInfo) error {
	full := i
	full.CPUType, full.CPURate, full.Wallet = "x", 1, "x"
	return full.Validate()
}
