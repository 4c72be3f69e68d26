//go:build wasip1

// Command scopegatedebug is the scopegate module (the same VM context as
// cmd/scopegate) plus one export, scopegate_debug_stat, that reports the
// guest's own Go runtime statistics to benchmarks: allocations counted
// inside the VM cannot be read from the host any other way.
package main

import (
	"runtime/metrics"

	"github.com/scopegate/scopegate/filter"
	"github.com/scopegate/scopegate/filter/abi"
)

func init() { abi.SetVMContext(filter.NewVMContext()) }

// main is never called in a c-shared (reactor) module.
func main() {}

// Statistic numbers, the argument of scopegate_debug_stat; the bench
// package mirrors them.
var statNames = [...]string{
	0: "/gc/heap/allocs:objects",             // heap objects allocated since start
	1: "/gc/heap/allocs:bytes",               // heap bytes allocated since start
	2: "/memory/classes/heap/objects:bytes",  // live and not-yet-swept object bytes
	3: "/gc/heap/goal:bytes",                 // the heap size the next GC aims for
	4: "/gc/cycles/total:gc-cycles",          // completed GC cycles
	5: "/memory/classes/total:bytes",         // everything the runtime mapped
	6: "/memory/classes/heap/released:bytes", // returned to the "OS" (not reusable without growth)
	7: "/cpu/classes/gc/total:cpu-seconds",   // estimated GC CPU time (reported in nanoseconds)
}

// samples is allocated once, so reading a statistic does not itself count
// as an allocation between two reads.
var samples = func() []metrics.Sample {
	s := make([]metrics.Sample, len(statNames))
	for i, n := range statNames {
		s[i].Name = n
	}
	return s
}()

// debugStat returns statistic n (see statNames), or 1<<64-1 for an unknown n.
//
//go:wasmexport scopegate_debug_stat
func debugStat(n uint32) uint64 {
	if int(n) >= len(samples) {
		return ^uint64(0)
	}
	metrics.Read(samples[n : n+1])
	if v := samples[n].Value; v.Kind() == metrics.KindFloat64 {
		return uint64(v.Float64() * 1e9)
	}
	return samples[n].Value.Uint64()
}
