package bench

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/scopegate/scopegate/host"
)

// memorySnapshot is one worker's memory as the host and the guest see it.
type memorySnapshot struct {
	linear    uint64 // linear memory size (only ever grows)
	heapLive  uint64 // Go heap object bytes (live plus not yet swept)
	heapGoal  uint64 // the heap size the next GC cycle aims for
	mapped    uint64 // everything the Go runtime mapped
	gcCycles  uint64
	allocObjs uint64
}

func snapshot(tb testing.TB, h *host.Host) memorySnapshot {
	return memorySnapshot{
		linear:    h.MemoryStats(0).Bytes,
		heapLive:  guestStat(tb, h, statHeapObjects),
		heapGoal:  guestStat(tb, h, statHeapGoal),
		mapped:    guestStat(tb, h, statTotal),
		gcCycles:  guestStat(tb, h, statGCCycles),
		allocObjs: guestStat(tb, h, statAllocObjects),
	}
}

// memoryHost is the filter (debug build, for the guest's statistics) with
// an HS256 key, so a cache miss costs little and long runs stay short.
func memoryHost(tb testing.TB) *host.Host {
	return startHost(tb, build(tb, modDebug), pluginConfig())
}

// drive sends n requests to worker 0, each with token(i), all allowed.
func drive(tb testing.TB, h *host.Host, n int, token func(i int) string) {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		d, err := h.DoOn(ctx, 0, request("/api/orders/42", token(i)))
		expect(tb, d, err, 0)
	}
}

// TestMemoryBounded is the bounded memory check that runs in make test:
// two batches of distinct tokens, each about five times the verified-token cache (1024 entries),
// must not make the VM's memory grow from the first batch to the second by
// more than a small margin (it is a bound on memory, not a timing).
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and drives the wasm module; skipped with -short")
	}
	const batch = 5_000
	h := memoryHost(t)
	k := keyFor("HS256")
	distinct := func(int) string { return mint(k) }
	drive(t, h, batch, distinct)
	first := snapshot(t, h)
	drive(t, h, batch, distinct)
	second := snapshot(t, h)
	t.Logf("after %d distinct tokens: linear %d B, heap %d B (goal %d); after %d: linear %d B, heap %d B (goal %d)",
		batch, first.linear, first.heapLive, first.heapGoal, 2*batch, second.linear, second.heapLive, second.heapGoal)
	const margin = 1 << 20
	if second.linear > first.linear+first.linear/10+margin {
		t.Errorf("linear memory grew from %d to %d bytes over the second batch of %d distinct tokens", first.linear, second.linear, batch)
	}
	if second.heapGoal > first.heapGoal+first.heapGoal/2+margin {
		t.Errorf("the guest's heap goal grew from %d to %d bytes over the second batch", first.heapGoal, second.heapGoal)
	}
	if h.Traps() != 0 {
		t.Fatalf("%d traps", h.Traps())
	}
}

// memoryRequests is the length of BenchmarkMemory's runs: 1,000,000 unless
// SCOPEGATE_BENCH_MEMORY_REQUESTS says otherwise.
func memoryRequests(tb testing.TB) int {
	if s := os.Getenv("SCOPEGATE_BENCH_MEMORY_REQUESTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			tb.Fatalf("SCOPEGATE_BENCH_MEMORY_REQUESTS=%q: want a positive integer", s)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkMemory drives one worker with memoryRequests requests carrying
// distinct tokens (every one a cache miss, HS256) and then as many with one
// token (every one a cache hit), and reports the VM's linear memory and the
// guest's Go heap at the start, after 10% and 50%, and at the end of each
// run. The run length does not
// follow b.N: one run is the measurement, and ns/op is its time per request.
func BenchmarkMemory(b *testing.B) {
	n := memoryRequests(b)
	k := keyFor("HS256")
	b.Run("distinct_tokens", func(b *testing.B) {
		h := memoryHost(b)
		drive(b, h, 1000, func(int) string { return mint(k) }) // past start-up allocations
		runMemory(b, h, n, func(int) string { return mint(k) })
	})
	b.Run("same_token", func(b *testing.B) {
		h := memoryHost(b)
		tok := mint(k)
		drive(b, h, 1000, func(int) string { return tok })
		runMemory(b, h, n, func(int) string { return tok })
	})
}

func runMemory(b *testing.B, h *host.Host, n int, token func(int) string) {
	start := snapshot(b, h)
	b.ResetTimer()
	// Checkpoints at 10% and 50% tell growth that levels off (the runtime
	// sizing its heap) from growth that goes on (a leak).
	drive(b, h, n/10, token)
	b.StopTimer()
	tenth := snapshot(b, h)
	b.StartTimer()
	drive(b, h, n/2-n/10, token)
	b.StopTimer()
	half := snapshot(b, h)
	b.StartTimer()
	drive(b, h, n-n/2, token)
	b.StopTimer()
	end := snapshot(b, h)
	mib := func(x uint64) float64 { return float64(x) / (1 << 20) }
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/op") // one run of n requests, whatever b.N is
	b.ReportMetric(float64(n), "requests")
	b.ReportMetric(mib(start.linear), "linear-MiB-start")
	b.ReportMetric(mib(tenth.linear), "linear-MiB-10pct")
	b.ReportMetric(mib(half.linear), "linear-MiB-50pct")
	b.ReportMetric(mib(end.linear), "linear-MiB-end")
	b.ReportMetric(mib(start.heapLive), "heap-MiB-start")
	b.ReportMetric(mib(half.heapLive), "heap-MiB-50pct")
	b.ReportMetric(mib(end.heapLive), "heap-MiB-end")
	b.ReportMetric(mib(end.heapGoal), "heap-goal-MiB-end")
	b.ReportMetric(float64(end.gcCycles-start.gcCycles), "guest-gcs")
	b.ReportMetric(float64(end.allocObjs-start.allocObjs)/float64(n), "guest-allocs/request")
	if h.Traps() != 0 {
		b.Fatalf("%d traps", h.Traps())
	}
}
