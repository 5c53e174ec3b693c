package score

import (
	"errors"
	"testing"

	"ddn/domain"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in    string
		model string
		ok    bool
	}{
		{"NVIDIA GeForce RTX 4060 Ti", "4060 ti", true},
		{"NVIDIA GeForce RTX 4070 Ti SUPER", "4070 ti super", true},
		{"NVIDIA GeForce RTX 4090 D", "4090 d", true},
		{"NVIDIA GeForce RTX 2060 Ultra", "2060 ultra", true},
		{"NVIDIA GeForce RTX 3080 OC Edition", "3080 oc", true},
		{"NVIDIA GeForce  RTX 4070  Ti  SUPER", "4070 ti super", true}, // empty parts dropped
		{"NVIDIA GeForce RTX 4090 ", "4090", true},
		{"NVIDIA GeForce RTX 3060Ti", "3060ti", true},        // glued: one part, kept whole
		{"NVIDIA GeForce RTX 3050\tTi", "3050\tti", true},    // only spaces split
		{"NVIDIA GeForce RTX 4060 Laptop GPU", "4060", true}, // other words dropped
		{"NVIDIA GeForce RTX 2060 16GB", "2060", true},       // memory sizes too
		{"RTX2060", "2060", true},                            // from the first digit on
		{"NVIDIA A100-SXM4-80GB", "100-sxm4-80gb", true},     // as the original cuts it
		{"GEFORCE RTX 2070 SUPER", "2070 super", true},       // lower case
		{"NVIDIA TITAN RTX", "", false},                      // no digit: no model
		{"", "", false},
	}
	for _, tt := range tests {
		if m, ok := Normalize(tt.in); m != tt.model || ok != tt.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, m, ok, tt.model, tt.ok)
		}
	}
	if got := Models([]string{"RTX 4090", "TITAN V", "4060"}); len(got) != 2 || got[0] != "4090" || got[1] != "4060" {
		t.Errorf("Models leaves out names without a model: %q", got)
	}
}

func testTable(t *testing.T) *Table {
	t.Helper()
	tb, err := NewTable([]GPU{
		{"3060", 8, 3584},
		{"3060", 12, 3584},
		{"3080", 10, 8704},
		{"3080", 12, 8960},
		{"4090", 24, 16384},
		{"4060", 8, 3072},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestTableAnswersTheFirstEntry(t *testing.T) {
	tb := testTable(t)
	if g, ok := tb.First("3080"); !ok || g.MemoryGB != 10 || g.CUDACores != 8704 {
		t.Errorf("First(3080) = %+v, %v; want the 10 GB entry, listed first", g, ok)
	}
	if g, ok := tb.WithMemory("3080", 12); !ok || g.CUDACores != 8960 {
		t.Errorf("WithMemory(3080, 12) = %+v, %v", g, ok)
	}
	if _, ok := tb.WithMemory("3080", 11); ok {
		t.Error("WithMemory(3080, 11) found an entry")
	}
	if tb.Len() != 6 {
		t.Errorf("Len = %d", tb.Len())
	}
}

func TestNewTableRefuses(t *testing.T) {
	for name, gpus := range map[string][]GPU{
		"empty":           nil,
		"no model":        {{"", 8, 100}},
		"zero cores":      {{"4060", 8, 0}},
		"negative memory": {{"4060", -8, 100}},
	} {
		if _, err := NewTable(gpus); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func info(names []string, mem []int64, total int64) domain.ShortTermInfo {
	return domain.ShortTermInfo{GPUNames: names, GPUMemoryTotal: mem, MemoryTotal: total}
}

func TestOf(t *testing.T) {
	tb := testTable(t)
	tests := []struct {
		name  string
		info  domain.ShortTermInfo
		point float64
		path  Path
		mem   []int64
		err   error
	}{
		// 16/3.5 + 25 + sqrt(3072)·sqrt(8/10) = 79.15
		{"exact, MiB converted", info([]string{"NVIDIA GeForce RTX 4060"}, []int64{8188}, 16), 79.15, PathExact, []int64{8}, nil},
		// GB sent: round(8/1024) = 0, so by model alone with the entry's 8 GB
		{"fuzzy when sent in GB", info([]string{"NVIDIA GeForce RTX 4060"}, []int64{8}, 16), 79.15, PathFuzzy, []int64{0}, nil},
		// the first 3060 entry is 8 GB: 16/3.5 + 25 + sqrt(3584)·sqrt(0.8)
		{"fuzzy takes the first entry's memory", info([]string{"RTX 3060"}, []int64{12}, 16), 83.12, PathFuzzy, []int64{0}, nil},
		// the smallest core count of the GPUs found, with that GPU's memory; n counts every GPU
		{"smallest of several", info([]string{"RTX 4090", "RTX 3080"}, []int64{24564, 12288}, 64), 275.67, PathExact, []int64{24, 12}, nil},
		// one GPU not in the catalog does not stop the others from scoring
		{"unknown gpu skipped", info([]string{"RTX 4090", "RTX 9999"}, []int64{24564, 8192}, 64), 464.88, PathExact, []int64{24, 8}, nil},
		{"lists of different lengths: fuzzy", info([]string{"RTX 4060", "RTX 4060"}, []int64{8188}, 16), 153.72, PathFuzzy, []int64{8}, nil},
		{"names without a model are not counted", info([]string{"RTX 4060", "TITAN RTX"}, []int64{8188, 24576}, 16), 79.15, PathFuzzy, []int64{8, 24}, nil},
		{"nothing known", info([]string{"RTX 9999"}, []int64{8192}, 16), 0, PathNone, []int64{8}, ErrNoCUDACores},
		// memory_total wraps as the original's int32: 2^32 + 16 counts as 16
		{"memory_total as int32", info([]string{"NVIDIA GeForce RTX 4060"}, []int64{8188}, 1<<32+16), 79.15, PathExact, []int64{8}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Of(tt.info, tb)
			if r.CalcPoint != tt.point || r.Path != tt.path || !errors.Is(r.Err, tt.err) || len(r.GPUMemoryGB) != len(tt.mem) {
				t.Fatalf("Of = %+v; want %v %s %v %v", r, tt.point, tt.path, tt.mem, tt.err)
			}
			for i := range tt.mem {
				if r.GPUMemoryGB[i] != tt.mem[i] {
					t.Fatalf("converted memory %v, want %v", r.GPUMemoryGB, tt.mem)
				}
			}
			refusal := r.Refusal()
			if (refusal != nil) != (tt.path == PathNone) {
				t.Fatalf("Refusal = %v", refusal)
			}
			if refusal != nil && (domain.CodeOf(refusal) != domain.CodeInvalidInfo || refusal.Error() != "calculate gpu point failed can not find the number of cuda cores") {
				t.Fatalf("Refusal = %v (code %d)", refusal, domain.CodeOf(refusal))
			}
		})
	}
}
