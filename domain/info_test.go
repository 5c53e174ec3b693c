package domain

import (
	"errors"
	"strings"
	"testing"
)

func validShortTerm() ShortTermInfo {
	return ShortTermInfo{CPUType: "13th Gen Intel(R) Core(TM) i5-13400F", CPURate: 2500,
		GPUNames: []string{"NVIDIA GeForce RTX 4060"}, GPUMemoryTotal: []int64{8}, MemoryTotal: 16, Wallet: "0xabc"}
}

func validBandwidth() BandwidthInfo {
	return BandwidthInfo{CPUCores: 1, MemoryTotal: 2, HDD: 50, Bandwidth: 10, Wallet: "0xabc"}
}

func TestShortTermInfoValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ShortTermInfo)
		field  string
	}{
		{"valid", func(*ShortTermInfo) {}, ""},
		{"no cpu type", func(i *ShortTermInfo) { i.CPUType = "" }, "cpu_type"},
		{"zero cpu rate", func(i *ShortTermInfo) { i.CPURate = 0 }, "cpu_rate"},
		{"negative cpu rate", func(i *ShortTermInfo) { i.CPURate = -1 }, "cpu_rate"},
		{"no gpus", func(i *ShortTermInfo) { i.GPUNames, i.GPUMemoryTotal = nil, nil }, "gpu_names"},
		{"more memories than gpus", func(i *ShortTermInfo) { i.GPUMemoryTotal = []int64{8, 8} }, "gpu_memory_total"},
		{"fewer memories than gpus", func(i *ShortTermInfo) { i.GPUNames = []string{"a", "b"} }, "gpu_memory_total"},
		{"empty gpu name", func(i *ShortTermInfo) { i.GPUNames = []string{""} }, "gpu_names[0]"},
		{"zero gpu memory", func(i *ShortTermInfo) { i.GPUMemoryTotal = []int64{0} }, "gpu_memory_total[0]"},
		{"zero memory", func(i *ShortTermInfo) { i.MemoryTotal = 0 }, "memory_total"},
		{"no wallet", func(i *ShortTermInfo) { i.Wallet = "" }, "wallet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := validShortTerm()
			tt.change(&info)
			assertField(t, info.ValidateStrict(), tt.field)
		})
	}
}

// TestShortTermInfoValidateAsTheOriginal: the default check answers the
// original node's texts, in its order, and lets through what it let through.
func TestShortTermInfoValidateAsTheOriginal(t *testing.T) {
	tests := []struct {
		name   string
		change func(*ShortTermInfo)
		text   string
	}{
		{"valid", func(*ShortTermInfo) {}, ""},
		{"everything missing", func(i *ShortTermInfo) { *i = ShortTermInfo{} }, "empty gpu names"},
		{"no gpus", func(i *ShortTermInfo) { i.GPUNames = nil }, "empty gpu names"},
		{"no gpu memory", func(i *ShortTermInfo) { i.GPUMemoryTotal = nil; i.MemoryTotal = 0 }, "empty gpu memory total"},
		{"zero memory", func(i *ShortTermInfo) { i.MemoryTotal = 0; i.CPUType = "" }, "invalid memory total"},
		{"no cpu type", func(i *ShortTermInfo) { i.CPUType = ""; i.CPURate = 0 }, "empty cpu type"},
		{"zero cpu rate", func(i *ShortTermInfo) { i.CPURate = 0; i.Wallet = "" }, "invalid cpu rate"},
		{"no wallet", func(i *ShortTermInfo) { i.Wallet = "" }, "empty wallet"},
		{"negative cpu rate passes", func(i *ShortTermInfo) { i.CPURate = -1 }, ""},
		{"lists of different lengths pass", func(i *ShortTermInfo) { i.GPUMemoryTotal = []int64{8, 8} }, ""},
		{"zero gpu memory passes", func(i *ShortTermInfo) { i.GPUMemoryTotal = []int64{0} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := validShortTerm()
			tt.change(&info)
			assertText(t, info.Validate(), tt.text)
		})
	}
}

func assertText(t *testing.T, err error, text string) {
	t.Helper()
	if text == "" {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	if err == nil || err.Error() != text || CodeOf(err) != CodeParameter {
		t.Fatalf("got %v (code %d), want %q with code 1", err, CodeOf(err), text)
	}
}

func TestBandwidthInfoValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*BandwidthInfo)
		field  string
	}{
		{"valid", func(*BandwidthInfo) {}, ""},
		{"zero cores", func(i *BandwidthInfo) { i.CPUCores = 0 }, "cpu_cores"},
		{"zero memory", func(i *BandwidthInfo) { i.MemoryTotal = 0 }, "memory_total"},
		{"zero hdd", func(i *BandwidthInfo) { i.HDD = 0 }, "hdd"},
		{"zero bandwidth", func(i *BandwidthInfo) { i.Bandwidth = 0 }, "bandwidth"},
		{"no wallet", func(i *BandwidthInfo) { i.Wallet = "" }, "wallet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := validBandwidth()
			tt.change(&info)
			assertField(t, info.ValidateStrict(), tt.field)
		})
	}
	for _, tt := range []struct {
		change func(*BandwidthInfo)
		text   string
	}{
		{func(i *BandwidthInfo) { *i = BandwidthInfo{} }, "invalid cpu cores"},
		{func(i *BandwidthInfo) { i.MemoryTotal, i.HDD = 0, 0 }, "invalid memory total"},
		{func(i *BandwidthInfo) { i.HDD, i.Bandwidth = 0, 0 }, "invalid hdd"},
		{func(i *BandwidthInfo) { i.Bandwidth, i.Wallet = 0, "" }, "invalid bandwidth"},
		{func(i *BandwidthInfo) { i.Wallet = "" }, "empty wallet"},
		{func(i *BandwidthInfo) { i.CPUCores, i.HDD = -1, -5 }, ""},
	} {
		info := validBandwidth()
		tt.change(&info)
		assertText(t, info.Validate(), tt.text)
	}
}

func TestMachineKeyValidate(t *testing.T) {
	assertText(t, MachineKey{MachineID: "m", Project: "p"}.Validate(), "")
	assertText(t, MachineKey{Project: "p"}.Validate(), "machine id is empty")
	assertText(t, MachineKey{MachineID: "m"}.Validate(), "") // project is optional, as in the original
	assertField(t, StakingType(3).Validate(), "staking_type")
	assertField(t, StakingFree.Validate(), "")
}

func assertField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != field {
		t.Fatalf("want field error on %q, got %v", field, err)
	}
	if !errors.Is(err, ErrInvalidParam) || CodeOf(err) != CodeParameter {
		t.Fatalf("field error %v must be a parameter error (code 1), got code %d", err, CodeOf(err))
	}
	if !strings.HasPrefix(err.Error(), field+" ") {
		t.Fatalf("message %q must start with the field name", err)
	}
}

func TestSameReport(t *testing.T) {
	a, b := validShortTerm(), validShortTerm()
	if !a.SameReport(b) {
		t.Fatal("identical short-term infos differ")
	}
	b.CalcPoint, b.Region = 12.5, "East China" // derived, not reported
	if !a.SameReport(b) {
		t.Fatal("derived fields must not count as a content change")
	}
	b.GPUMemoryTotal = []int64{12}
	if a.SameReport(b) {
		t.Fatal("changed GPU memory not detected")
	}
	c, d := validBandwidth(), validBandwidth()
	d.ClientIP = "10.0.0.1"
	if c.SameReport(d) {
		t.Fatal("changed client IP not detected")
	}
}
