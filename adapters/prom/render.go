package prom

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"ddn/domain"
)

// family is one metric family being rendered.
type family struct {
	name, typ, help string
	body            []byte
}

// Render writes the fleet's series in the Prometheus text format, one
// family after another, machines in the store's key order.
func Render(machines []domain.Machine) []byte {
	fams := []*family{
		{name: "ddn_machine_online", typ: "gauge", help: "1 while the machine holds an open, heart-beating connection to the cluster, else 0."},
		{name: "ddn_machine_state", typ: "gauge", help: "The machine's presence state (online, disconnected, offline); 1 for the current state."},
		{name: "ddn_machine_info", typ: "gauge", help: "Facts of the machine as labels (kind, staking type, wallet, CPU, region, node); always 1."},
		{name: "ddn_machine_last_report_timestamp_seconds", typ: "gauge", help: "When the machine last reported, as far as machine_info knows (refreshed at most once a minute)."},
		{name: "ddn_machine_last_offline_timestamp_seconds", typ: "gauge", help: "When the machine last went offline."},
		{name: "ddn_machine_gpus", typ: "gauge", help: "GPUs a short-term (GPU) machine reports."},
		{name: "ddn_machine_gpu_memory_bytes", typ: "gauge", help: "Memory of each GPU of a short-term machine."},
		{name: "ddn_machine_memory_bytes", typ: "gauge", help: "Memory of the machine."},
		{name: "ddn_machine_cpu_frequency_hertz", typ: "gauge", help: "CPU rate a short-term machine reports."},
		{name: "ddn_machine_score", typ: "gauge", help: "Calc point (score) of a short-term machine."},
		{name: "ddn_machine_cpu_cores", typ: "gauge", help: "CPU cores a bandwidth machine reports."},
		{name: "ddn_machine_disk_bytes", typ: "gauge", help: "Disk a bandwidth machine reports."},
		{name: "ddn_machine_bandwidth_bytes_per_second", typ: "gauge", help: "Bandwidth a bandwidth machine reports (agents report Mbps)."},
	}
	// Most families hold one series per machine: size them once instead of
	// letting a 100,000-machine fleet grow each buffer by doubling.
	for _, f := range fams {
		f.body = make([]byte, 0, len(machines)*(len(f.name)+80))
	}
	online, state, info, lastReport, lastOffline, gpus, gpuMem, mem, cpuHz, score, cores, disk, bw :=
		fams[0], fams[1], fams[2], fams[3], fams[4], fams[5], fams[6], fams[7], fams[8], fams[9], fams[10], fams[11], fams[12]

	type group struct{ project, state string }
	counts := map[group]int{}
	var key []byte
	for _, m := range machines {
		st := string(m.State)
		if st == "" {
			st = "unknown"
		}
		counts[group{m.Key.Project, st}]++
		key = appendLabel(key[:0], "machine_id", m.Key.MachineID)
		key = append(key, ',')
		key = appendLabel(key, "project", m.Key.Project)
		key = append(key, ',')
		key = appendLabel(key, "container_id", m.Key.ContainerID)

		v := 0.0
		if m.State == domain.StateOnline {
			v = 1
		}
		online.sample(key, nil, v)
		state.sample(key, []string{"state", st}, 1)
		kind, wallet, cpuType, region := "unknown", "", "", ""
		switch {
		case m.ShortTerm != nil:
			kind, wallet, cpuType, region = "short_term", m.ShortTerm.Wallet, m.ShortTerm.CPUType, m.ShortTerm.Region
		case m.Bandwidth != nil:
			kind, wallet, region = "bandwidth", m.Bandwidth.Wallet, m.Bandwidth.Region
		}
		info.sample(key, []string{"kind", kind, "staking_type", strconv.Itoa(int(m.StakingType)), "wallet", wallet,
			"cpu_type", cpuType, "region", region, "node_id", m.NodeID}, 1)
		if !m.LastReportTime.IsZero() {
			lastReport.sample(key, nil, float64(m.LastReportTime.UnixMilli())/1e3)
		}
		if !m.LastOfflineTime.IsZero() {
			lastOffline.sample(key, nil, float64(m.LastOfflineTime.UnixMilli())/1e3)
		}
		if s := m.ShortTerm; s != nil {
			gpus.sample(key, nil, float64(len(s.GPUNames)))
			for i, name := range s.GPUNames {
				if i < len(s.GPUMemoryTotal) {
					gpuMem.sample(key, []string{"gpu_index", strconv.Itoa(i), "gpu_name", name}, float64(s.GPUMemoryTotal[i])*gib)
				}
			}
			mem.sample(key, nil, float64(s.MemoryTotal)*gib)
			cpuHz.sample(key, nil, float64(s.CPURate)*1e6)
			score.sample(key, nil, s.CalcPoint)
		} else if b := m.Bandwidth; b != nil {
			mem.sample(key, nil, float64(b.MemoryTotal)*gib)
		}
		if b := m.Bandwidth; b != nil {
			cores.sample(key, nil, float64(b.CPUCores))
			disk.sample(key, nil, float64(b.HDD)*gib)
			bw.sample(key, nil, b.Bandwidth*1e6/8)
		}
	}
	machinesFam := &family{name: "ddn_machines", typ: "gauge", help: "Machines by project and presence state."}
	groups := make([]group, 0, len(counts))
	for g := range counts {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b group) int { return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.state, b.state)) })
	for _, g := range groups {
		machinesFam.sample(nil, []string{"project", g.project, "state", g.state}, float64(counts[g]))
	}
	fams = append(fams, machinesFam)

	size := 0
	for _, f := range fams {
		size += len(f.body) + 200
	}
	out := make([]byte, 0, size)
	for _, f := range fams {
		if len(f.body) == 0 {
			continue
		}
		out = header(out, f.name, f.typ, f.help)
		out = append(out, f.body...)
	}
	return out
}

// sample appends one series: the machine's labels (key, may be empty), more
// label pairs, and the value.
func (f *family) sample(key []byte, more []string, v float64) {
	f.body = append(f.body, f.name...)
	f.body = append(f.body, '{')
	f.body = append(f.body, key...)
	for i := 0; i+1 < len(more); i += 2 {
		if len(key) > 0 || i > 0 {
			f.body = append(f.body, ',')
		}
		f.body = appendLabel(f.body, more[i], more[i+1])
	}
	f.body = append(f.body, "} "...)
	f.body = strconv.AppendFloat(f.body, v, 'g', -1, 64)
	f.body = append(f.body, '\n')
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
