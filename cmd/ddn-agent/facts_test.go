package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const cpuinfoX86 = `processor	: 0
vendor_id	: GenuineIntel
model name	: 13th Gen Intel(R) Core(TM) i5-13400F
cpu MHz		: 2500.400
flags		: fpu vme

processor	: 1
vendor_id	: GenuineIntel
model name	: 13th Gen Intel(R) Core(TM) i5-13400F
cpu MHz		: 800.000
`

const cpuinfoARM = `processor	: 0
BogoMIPS	: 50.00
CPU part	: 0xd0c

processor	: 1
BogoMIPS	: 50.00

processor	: 2

processor	: 3
`

const meminfo = `MemTotal:       16314036 kB
MemFree:         1234567 kB
`

// fixture writes name=content files into a temporary directory.
func fixture(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeNvidiaSMI is a script that checks it is asked the documented query
// and answers like nvidia-smi does.
const fakeNvidiaSMI = `#!/bin/sh
[ "$1" = "--query-gpu=name,memory.total" ] && [ "$2" = "--format=csv,noheader,nounits" ] || { echo "unexpected arguments: $*" >&2; exit 9; }
echo "NVIDIA GeForce RTX 4060, 8188"
echo "NVIDIA GeForce RTX 3090, 24576"
`

func TestFactsOfAGPUMachine(t *testing.T) {
	dir := fixture(t, map[string]string{"cpuinfo": cpuinfoX86, "meminfo": meminfo, "nvidia-smi": fakeNvidiaSMI})
	f, err := collectFacts(context.Background(), factSources{
		CPUInfo: filepath.Join(dir, "cpuinfo"), MemInfo: filepath.Join(dir, "meminfo"),
		CPUFreq: filepath.Join(dir, "absent"), NvidiaSMI: filepath.Join(dir, "nvidia-smi"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.CPUType != "13th Gen Intel(R) Core(TM) i5-13400F" || f.CPUMHz != 2500 || f.CPUCores != 2 {
		t.Errorf("CPU facts %+v", f)
	}
	if f.MemoryGB != 16 { // 16314036 kB = 15.56 GiB
		t.Errorf("memory %d GB, want 16", f.MemoryGB)
	}
	if !slices.Equal(f.GPUNames, []string{"NVIDIA GeForce RTX 4060", "NVIDIA GeForce RTX 3090"}) || !slices.Equal(f.GPUMemoryMiB, []int64{8188, 24576}) {
		t.Errorf("GPUs %v %v", f.GPUNames, f.GPUMemoryMiB)
	}
}

func TestFactsOfAnARMMachineWithoutGPU(t *testing.T) {
	dir := fixture(t, map[string]string{"cpuinfo": cpuinfoARM, "meminfo": "MemTotal: 3900000 kB\n", "max_freq": "3000000\n"})
	f, err := collectFacts(context.Background(), factSources{
		CPUInfo: filepath.Join(dir, "cpuinfo"), MemInfo: filepath.Join(dir, "meminfo"),
		CPUFreq: filepath.Join(dir, "max_freq"), NvidiaSMI: filepath.Join(dir, "no-nvidia-smi-here"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.CPUType != "" || f.CPUMHz != 3000 || f.CPUCores != 4 || f.MemoryGB != 4 || len(f.GPUNames) != 0 {
		t.Errorf("facts %+v", f)
	}
	o := options{URLs: urlList{"ws://127.0.0.1:1/websocket"}, MachineID: "m", Project: "p", Wallet: "w", Kind: "shortterm",
		Interval: 1, PingEvery: 1, MinBackoff: 1, MaxBackoff: 1}
	if err := o.validate(f); err == nil || err.Error() != "CPU model unknown: set -cpu-type" {
		t.Errorf("validate: %v", err)
	}
	o.CPUType = "Neoverse"
	_ = o.override(&f)
	if err := o.validate(f); err == nil || err.Error() != "no GPU found (nvidia-smi absent or silent): set -gpus, or use -kind bandwidth" {
		t.Errorf("validate: %v", err)
	}
	o.Kind = "bandwidth"
	if err := o.validate(f); err == nil || err.Error() != "-disk-gb (DDN_AGENT_DISK_GB) is required with -kind bandwidth" {
		t.Errorf("validate: %v", err)
	}
	o.DiskGB, o.BandwidthMbps = 100, 10
	if err := o.validate(f); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestFactsErrors(t *testing.T) {
	dir := fixture(t, map[string]string{"cpuinfo": cpuinfoX86, "meminfo": "MemFree: 1 kB\n", "nvidia-smi": "#!/bin/sh\nexit 3\n"})
	src := factSources{CPUInfo: filepath.Join(dir, "cpuinfo"), MemInfo: filepath.Join(dir, "meminfo")}
	if _, err := collectFacts(context.Background(), src); err == nil {
		t.Error("meminfo without MemTotal: no error")
	}
	src.MemInfo = filepath.Join(dir, "missing")
	if _, err := collectFacts(context.Background(), src); err == nil {
		t.Error("missing meminfo: no error")
	}
	src.MemInfo = filepath.Join(dir, "cpuinfo")
	if err := os.WriteFile(src.MemInfo+"2", []byte(meminfo), 0o644); err != nil {
		t.Fatal(err)
	}
	src.MemInfo += "2"
	src.NvidiaSMI = filepath.Join(dir, "nvidia-smi")
	if _, err := collectFacts(context.Background(), src); err == nil {
		t.Error("failing nvidia-smi: no error")
	}
	if _, _, err := parseGPUs("no memory column\n"); err == nil {
		t.Error("nvidia-smi line without a comma: no error")
	}
}

func TestGPUFlag(t *testing.T) {
	names, mem, err := parseGPUFlag("NVIDIA GeForce RTX 4090:24, NVIDIA A100 80GB PCIe:80")
	if err != nil || !slices.Equal(names, []string{"NVIDIA GeForce RTX 4090", "NVIDIA A100 80GB PCIe"}) || !slices.Equal(mem, []int64{24, 80}) {
		t.Errorf("got %v %v %v", names, mem, err)
	}
	for _, bad := range []string{"RTX", "RTX:0", ":8", "RTX:x"} {
		if _, _, err := parseGPUFlag(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
