package score

import (
	"errors"
	"math"
	"strings"
	"testing"

	"ddn/domain"
)

func TestNormalize(t *testing.T) {
	tests := map[string]string{
		"NVIDIA GeForce RTX 4060 Ti":                   "4060 ti",
		"NVIDIA GeForce RTX 4060":                      "4060",
		"NVIDIA GeForce RTX 4070 Ti SUPER":             "4070 ti super",
		"NVIDIA GeForce RTX 4090 D":                    "4090 d",
		"GeForce RTX 4090D":                            "4090 d",
		"NVIDIA GeForce GTX 1080Ti":                    "1080 ti",
		"NVIDIA GeForce RTX 3080 Ti Laptop GPU":        "3080 ti",
		"NVIDIA GeForce RTX 4060 Laptop GPU":           "4060",
		"GeForce RTX4090":                              "4090",
		"NVIDIA GeForce GTX 1660 SUPER":                "1660 super",
		"NVIDIA RTX A6000":                             "a6000",
		"NVIDIA A100-SXM4-80GB":                        "a100",
		"NVIDIA A100 80GB PCIe":                        "a100",
		"NVIDIA H100 80GB HBM3":                        "h100",
		"NVIDIA H100 PCIe":                             "h100",
		"Tesla V100-PCIE-32GB":                         "v100",
		"Tesla T4":                                     "t4",
		"NVIDIA L40S":                                  "l40s",
		"NVIDIA L4":                                    "l4",
		"NVIDIA A10G":                                  "a10g",
		"NVIDIA RTX 6000 Ada Generation":               "6000 ada",
		"Quadro RTX 6000":                              "6000",
		"NVIDIA RTX PRO 6000 Blackwell Server Edition": "6000",
		"NVIDIA TITAN RTX":                             "titan rtx",
		"  nvidia  geforce rtx 3090  ":                 "3090",
		"":                                             "",
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func testTable(t *testing.T) *Table {
	t.Helper()
	tb, err := NewTable([]GPU{
		{"GeForce RTX 4060", 8, 3072},
		{"GeForce RTX 4060 Ti", 8, 4352},
		{"GeForce RTX 4060 Ti", 16, 4352},
		{"GeForce RTX 3080", 12, 8960},
		{"GeForce RTX 3080", 10, 8704},
		{"A100", 40, 6912},
		{"Quadro RTX 6000", 24, 4608},
		{"RTX 6000 Ada Generation", 48, 18176},
		{"RTX A6000", 48, 10752},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestLookupExactThenByName(t *testing.T) {
	tb := testTable(t)
	tests := []struct {
		name  string
		mem   int64
		cores int64
		ok    bool
	}{
		{"3080", 12, 8960, true}, // exact
		{"3080", 10, 8704, true}, // exact
		{"3080", 11, 8704, true}, // by name: the least-memory variant
		{"4060 ti", 16, 4352, true},
		{"6000", 24, 4608, true},
		{"6000 ada", 48, 18176, true},
		{"a6000", 48, 10752, true},
		{"a100", 80, 6912, true}, // by name
		{"4090", 24, 0, false},
	}
	for _, tt := range tests {
		cores, ok := tb.CUDACores(tt.name, tt.mem)
		if cores != tt.cores || ok != tt.ok {
			t.Errorf("CUDACores(%q, %d) = %d, %v; want %d, %v", tt.name, tt.mem, cores, ok, tt.cores, tt.ok)
		}
	}
}

func TestNewTableRefusesBadEntries(t *testing.T) {
	for name, gpus := range map[string][]GPU{
		"empty":         nil,
		"no name":       {{"", 8, 100}},
		"zero memory":   {{"RTX 4060", 0, 3072}},
		"zero cores":    {{"RTX 4060", 8, 0}},
		"contradiction": {{"RTX 4060", 8, 3072}, {"GeForce RTX 4060", 8, 3000}},
	} {
		if _, err := NewTable(gpus); err == nil {
			t.Errorf("%s: NewTable accepted %+v", name, gpus)
		}
	}
}

func info(names []string, mems []int64, memTotal int64) domain.ShortTermInfo {
	return domain.ShortTermInfo{GPUNames: names, GPUMemoryTotal: mems, MemoryTotal: memTotal, CPUType: "i5", CPURate: 2500, Wallet: "0xabc"}
}

func TestOf(t *testing.T) {
	tb := testTable(t)
	tests := []struct {
		name string
		in   domain.ShortTermInfo
		want float64
	}{
		// 16/3.5 + 25 + sqrt(3072)*sqrt(0.8) = 4.5714 + 25 + 49.5742
		{"one 4060", info([]string{"NVIDIA GeForce RTX 4060"}, []int64{8}, 16), 79.15},
		// two GPUs: C is the smaller (3072, M=8): 32/3.5 + 50 + 2*49.5742
		{"4060 and 4060 Ti", info([]string{"NVIDIA GeForce RTX 4060 Ti", "NVIDIA GeForce RTX 4060"}, []int64{16, 8}, 32), 158.29},
		// 64/3.5 + 25*4 + 4*sqrt(6912)*sqrt(8)
		{"four A100 80GB by name", info([]string{"NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB"}, []int64{80, 80, 80, 80}, 64),
			math.Round((64/3.5+100+4*math.Sqrt(6912)*math.Sqrt(8))*100) / 100},
	}
	for _, tt := range tests {
		got, err := Of(tt.in, tb)
		if err != nil || got != tt.want {
			t.Errorf("%s: Of = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestOfRefusesWhatItCannotScore(t *testing.T) {
	tb := testTable(t)
	_, err := Of(info([]string{"NVIDIA GeForce RTX 4060", "NVIDIA GeForce RTX 9999"}, []int64{8, 8}, 16), tb)
	if !errors.Is(err, domain.ErrInvalidInfo) || domain.CodeOf(err) != domain.CodeInvalidInfo {
		t.Fatalf("unknown GPU: %v, want ErrInvalidInfo (code 6)", err)
	}
	if want := `gpu_names[1] "NVIDIA GeForce RTX 9999" (model "9999")`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the GPU (%s)", err, want)
	}
	_, err = Of(info([]string{"NVIDIA GeForce RTX 4060"}, []int64{8, 8}, 16), tb)
	if domain.CodeOf(err) != domain.CodeParameter {
		t.Errorf("mismatched memory list: %v, want code 1", err)
	}
	if _, err = Of(info([]string{"NVIDIA GeForce RTX 4060"}, []int64{8}, 16), nil); !errors.Is(err, domain.ErrInvalidInfo) {
		t.Errorf("no catalog: %v, want ErrInvalidInfo", err)
	}
}
