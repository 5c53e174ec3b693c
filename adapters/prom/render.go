package prom

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"ddn/domain"
)

// family is one metric family of the fleet: series appends the family's
// lines for one machine (none when it does not apply), its labels starting
// with key.
type family struct {
	name, typ, help string
	series          func(b []byte, name string, key []byte, m *domain.Machine) []byte
}

// families are the fleet's per-machine families, in the order written.
var families = []family{
	{"ddn_machine_online", "gauge", "1 while the machine holds an open, heart-beating connection to the cluster, else 0.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			v := 0.0
			if m.State == domain.StateOnline {
				v = 1
			}
			return sample(b, name, key, nil, v)
		}},
	{"ddn_machine_state", "gauge", "The machine's presence state (online, disconnected, offline); 1 for the current state.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			return sample(b, name, key, []string{"state", stateOf(m)}, 1)
		}},
	{"ddn_machine_info", "gauge", "Facts of the machine as labels (kind, staking type, wallet, CPU, region, node); always 1.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			kind, wallet, cpuType, region := "unknown", "", "", ""
			switch {
			case m.ShortTerm != nil:
				kind, wallet, cpuType, region = "short_term", m.ShortTerm.Wallet, m.ShortTerm.CPUType, m.ShortTerm.Region
			case m.Bandwidth != nil:
				kind, wallet, region = "bandwidth", m.Bandwidth.Wallet, m.Bandwidth.Region
			}
			return sample(b, name, key, []string{"kind", kind, "staking_type", strconv.Itoa(int(m.StakingType)), "wallet", wallet,
				"cpu_type", cpuType, "region", region, "node_id", m.NodeID}, 1)
		}},
	{"ddn_machine_last_report_timestamp_seconds", "gauge", "When the machine last reported, as far as machine_info knows (refreshed at most once a minute).",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.LastReportTime.IsZero() {
				return b
			}
			return sample(b, name, key, nil, float64(m.LastReportTime.UnixMilli())/1e3)
		}},
	{"ddn_machine_last_offline_timestamp_seconds", "gauge", "When the machine last went offline.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.LastOfflineTime.IsZero() {
				return b
			}
			return sample(b, name, key, nil, float64(m.LastOfflineTime.UnixMilli())/1e3)
		}},
	{"ddn_machine_gpus", "gauge", "GPUs a short-term (GPU) machine reports.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.ShortTerm == nil {
				return b
			}
			return sample(b, name, key, nil, float64(len(m.ShortTerm.GPUNames)))
		}},
	{"ddn_machine_gpu_memory_bytes", "gauge", "Memory of each GPU of a short-term machine.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if s := m.ShortTerm; s != nil {
				for i, gpu := range s.GPUNames {
					if i < len(s.GPUMemoryTotal) {
						b = sample(b, name, key, []string{"gpu_index", strconv.Itoa(i), "gpu_name", gpu}, float64(s.GPUMemoryTotal[i])*gib)
					}
				}
			}
			return b
		}},
	{"ddn_machine_memory_bytes", "gauge", "Memory of the machine.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			switch {
			case m.ShortTerm != nil:
				return sample(b, name, key, nil, float64(m.ShortTerm.MemoryTotal)*gib)
			case m.Bandwidth != nil:
				return sample(b, name, key, nil, float64(m.Bandwidth.MemoryTotal)*gib)
			}
			return b
		}},
	{"ddn_machine_cpu_frequency_hertz", "gauge", "CPU rate a short-term machine reports.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.ShortTerm == nil {
				return b
			}
			return sample(b, name, key, nil, float64(m.ShortTerm.CPURate)*1e6)
		}},
	{"ddn_machine_score", "gauge", "Calc point (score) of a short-term machine.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.ShortTerm == nil {
				return b
			}
			return sample(b, name, key, nil, m.ShortTerm.CalcPoint)
		}},
	{"ddn_machine_cpu_cores", "gauge", "CPU cores a bandwidth machine reports.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.Bandwidth == nil {
				return b
			}
			return sample(b, name, key, nil, float64(m.Bandwidth.CPUCores))
		}},
	{"ddn_machine_disk_bytes", "gauge", "Disk a bandwidth machine reports.",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.Bandwidth == nil {
				return b
			}
			return sample(b, name, key, nil, float64(m.Bandwidth.HDD)*gib)
		}},
	{"ddn_machine_bandwidth_bytes_per_second", "gauge", "Bandwidth a bandwidth machine reports (agents report Mbps).",
		func(b []byte, name string, key []byte, m *domain.Machine) []byte {
			if m.Bandwidth == nil {
				return b
			}
			return sample(b, name, key, nil, m.Bandwidth.Bandwidth*1e6/8)
		}},
}

func stateOf(m *domain.Machine) string {
	if m.State == "" {
		return "unknown"
	}
	return string(m.State)
}

// Render returns the fleet's series in the Prometheus text format (see
// writeFleet).
func Render(machines []domain.Machine) []byte {
	var b bytes.Buffer
	_ = writeFleet(&b, machines) // a bytes.Buffer takes every write
	return b.Bytes()
}

// writeFleet writes the fleet's series in the Prometheus text format to w,
// one family after another, machines in the store's key order. It holds
// the machines' label keys and one machine's lines at a time, not the
// text (120 MB at 100,000 machines): the snapshot is written straight
// into its compressor.
func writeFleet(w io.Writer, machines []domain.Machine) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	keys := make([]byte, 0, len(machines)*64)
	ends := make([]int, len(machines))
	for i := range machines {
		k := &machines[i].Key
		keys = appendLabel(keys, "machine_id", k.MachineID)
		keys = append(keys, ',')
		keys = appendLabel(keys, "project", k.Project)
		keys = append(keys, ',')
		keys = appendLabel(keys, "container_id", k.ContainerID)
		ends[i] = len(keys)
	}
	var line []byte
	for _, f := range families {
		started := false
		for i := range machines {
			start := 0
			if i > 0 {
				start = ends[i-1]
			}
			line = f.series(line[:0], f.name, keys[start:ends[i]], &machines[i])
			if len(line) == 0 {
				continue
			}
			if !started {
				_, _ = bw.Write(header(nil, f.name, f.typ, f.help))
				started = true
			}
			_, _ = bw.Write(line)
		}
	}

	type group struct{ project, state string }
	counts := map[group]int{}
	for i := range machines {
		counts[group{machines[i].Key.Project, stateOf(&machines[i])}]++
	}
	groups := make([]group, 0, len(counts))
	for g := range counts {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int { return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.state, b.state)) })
	if len(groups) > 0 {
		line = header(line[:0], "ddn_machines", "gauge", "Machines by project and presence state.")
		for _, g := range groups {
			line = sample(line, "ddn_machines", nil, []string{"project", g.project, "state", g.state}, float64(counts[g]))
		}
		_, _ = bw.Write(line)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write fleet series: %w", err)
	}
	return nil
}

// sample appends one series: the machine's labels (key, may be empty), more
// label pairs, and the value.
func sample(b []byte, name string, key []byte, more []string, v float64) []byte {
	b = append(b, name...)
	b = append(b, '{')
	b = append(b, key...)
	for i := 0; i+1 < len(more); i += 2 {
		if len(key) > 0 || i > 0 {
			b = append(b, ',')
		}
		b = appendLabel(b, more[i], more[i+1])
	}
	b = append(b, "} "...)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	return append(b, '\n')
}

func header(b []byte, name, typ, help string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// labelEscaper escapes a label value as the text format requires.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, `="`...)
	if strings.ContainsAny(value, "\\\"\n") {
		value = labelEscaper.Replace(value)
	}
	b = append(b, value...)
	return append(b, '"')
}
