package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// facts are what the agent tells the node about its machine.
type facts struct {
	CPUType      string   `json:"cpu_type"`
	CPUMHz       int64    `json:"cpu_mhz"`
	CPUCores     int64    `json:"cpu_cores"`
	MemoryGB     int64    `json:"memory_gb"`
	GPUNames     []string `json:"gpu_names"`
	GPUMemoryMiB []int64  `json:"gpu_memory_mib"`
}

// factSources are where facts are read; tests point them at fixtures.
type factSources struct {
	CPUInfo   string // /proc/cpuinfo
	CPUFreq   string // /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq (kHz), when cpuinfo has no MHz
	MemInfo   string // /proc/meminfo
	NvidiaSMI string // the nvidia-smi command; absent means no NVIDIA GPU
}

// defaultSources are the real machine's.
var defaultSources = factSources{
	CPUInfo:   "/proc/cpuinfo",
	CPUFreq:   "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",
	MemInfo:   "/proc/meminfo",
	NvidiaSMI: "nvidia-smi",
}

// collectFacts reads the machine: CPU model, MHz and logical cores from
// cpuinfo (MHz from cpufreq when cpuinfo has none, as on ARM), total memory
// from meminfo, and GPU names and memory from nvidia-smi when it is there.
// A fact it cannot read stays zero, for a flag to supply.
func collectFacts(ctx context.Context, src factSources) (facts, error) {
	var f facts
	if err := readCPUInfo(src.CPUInfo, &f); err != nil {
		return f, err
	}
	if f.CPUMHz == 0 && src.CPUFreq != "" {
		if b, err := os.ReadFile(src.CPUFreq); err == nil {
			if khz, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				f.CPUMHz = khz / 1000
			}
		}
	}
	if f.CPUCores == 0 {
		f.CPUCores = int64(runtime.NumCPU())
	}
	mem, err := readMemInfo(src.MemInfo)
	if err != nil {
		return f, err
	}
	f.MemoryGB = mem
	f.GPUNames, f.GPUMemoryMiB, err = readGPUs(ctx, src.NvidiaSMI)
	return f, err
}

// readCPUInfo takes the first "model name" and "cpu MHz" and counts
// "processor" entries.
func readCPUInfo(path string, f *facts) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read CPU facts: %w", err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch key {
		case "processor":
			f.CPUCores++
		case "model name":
			if f.CPUType == "" {
				f.CPUType = value
			}
		case "cpu MHz":
			if f.CPUMHz == 0 {
				if mhz, err := strconv.ParseFloat(value, 64); err == nil {
					f.CPUMHz = int64(math.Round(mhz))
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read CPU facts %s: %w", path, err)
	}
	return nil
}

// readMemInfo is MemTotal in GB (GiB, rounded; at least 1 when known).
func readMemInfo(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read memory facts: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				break
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read memory facts %s: MemTotal %q: %w", path, fields[0], err)
			}
			return max(1, int64(math.Round(float64(kb)/(1<<20)))), nil
		}
	}
	return 0, fmt.Errorf("read memory facts %s: no MemTotal", path)
}

// readGPUs asks nvidia-smi for each GPU's name and total memory (MiB). No
// nvidia-smi on the PATH means no NVIDIA GPU: no error, no GPUs.
func readGPUs(ctx context.Context, nvidiaSMI string) ([]string, []int64, error) {
	if nvidiaSMI == "" {
		return nil, nil, nil
	}
	path, err := exec.LookPath(nvidiaSMI)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find %s: %w", nvidiaSMI, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("run %s: %w", path, err)
	}
	return parseGPUs(string(out))
}

// parseGPUs reads nvidia-smi's "name, MiB" lines; memory stays in MiB, as
// agents of the original node report it (the node converts it to GB).
func parseGPUs(csv string) ([]string, []int64, error) {
	var names []string
	var mem []int64
	for line := range strings.Lines(csv) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		i := strings.LastIndex(line, ",")
		if i < 0 {
			return nil, nil, fmt.Errorf("nvidia-smi line %q: want name, memory", line)
		}
		mib, err := strconv.ParseFloat(strings.TrimSpace(line[i+1:]), 64)
		if err != nil {
			return nil, nil, fmt.Errorf("nvidia-smi line %q: memory: %w", line, err)
		}
		names = append(names, strings.TrimSpace(line[:i]))
		mem = append(mem, int64(math.Round(mib)))
	}
	return names, mem, nil
}

// parseGPUFlag reads -gpus: "NAME:MIB,NAME:MIB" (memory as nvidia-smi prints it).
func parseGPUFlag(s string) ([]string, []int64, error) {
	var names []string
	var mem []int64
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		i := strings.LastIndex(part, ":")
		if i <= 0 {
			return nil, nil, fmt.Errorf("%q: want NAME:MIB", part)
		}
		mib, err := strconv.ParseInt(strings.TrimSpace(part[i+1:]), 10, 32)
		if err != nil || mib <= 0 {
			return nil, nil, fmt.Errorf("%q: memory must be a positive number of MiB", part)
		}
		names = append(names, strings.TrimSpace(part[:i]))
		mem = append(mem, mib)
	}
	return names, mem, nil
}
