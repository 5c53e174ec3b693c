package score

import (
	"testing"

	"ddn/domain"
)

// BenchmarkOf measures scoring an eight-GPU machine: the cost of a type-2
// report whose content changed.
func BenchmarkOf(b *testing.B) {
	tb, err := NewTable([]GPU{{"4090", 24, 16384}, {"4060 ti", 16, 4352}})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, 8)
	mems := make([]int64, 8)
	for i := range names {
		names[i], mems[i] = "NVIDIA GeForce RTX 4090", 24564
	}
	info := domain.ShortTermInfo{GPUNames: names, GPUMemoryTotal: mems, MemoryTotal: 256}
	for b.Loop() {
		if r := Of(info, tb); r.Path != PathExact {
			b.Fatal(r)
		}
	}
}
