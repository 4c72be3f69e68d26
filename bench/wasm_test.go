package bench

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
)

// BenchmarkWasmRequest measures the full per-request callback sequence
// (context create, request headers, log, done, delete) on one worker VM of
// the local host, for each kind of request, against a baseline measured in
// the same run: the pass-through module (the host's and binding's floor)
// for cache hits and answers without a token, and for cache misses a guest
// on the same binding that runs only the standard library's bare signature
// check (verifyguest, named "baseline").
//
// paired-ratio is the ratio to the baseline measured interleaved with the
// scopegate requests (see loopMeasured), the figure to trust on a busy
// machine; the ratio column compares two separate runs.
//
// guest-allocs/op and guest-B/op are Go heap allocations inside the VM per
// request, read from the guest's runtime/metrics before and after the loop
// (allocs/op and B/op are the host's, outside the VM). vm-bytes is the
// worker's linear memory after the run.
//
// ns/op is the median request time (see timer): the build machine is
// shared, and a mean would mostly measure the other processes.
func BenchmarkWasmRequest(b *testing.B) {
	ctx := context.Background()
	// The Go path (host_crypto "off"): these misses are compared with the
	// bare check in the VM; BenchmarkHostCrypto measures the proxy's path.
	cfg := cryptoConfig("off")
	sg := startHost(b, build(b, modDebug), cfg)
	pass := startHost(b, build(b, modPassthrough), nil)
	hitToken := mint(keyFor("RS256"))

	// Each case sends the same request through scopegate and through the floor.
	cases := []struct {
		name   string
		req    host.Request
		status int // scopegate's answer; 0 = continue
	}{
		{"cache_hit", request("/api/orders/42", hitToken), 0},
		{"cache_hit_browser", browserRequest("/api/orders/42", hitToken), 0},
		{"missing_token", request("/api/orders/42", ""), 401},
		{"denied_scope", request("/admin/users", hitToken), 403},
		{"allow_rule", request("/health", ""), 0},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.Run("scopegate", func(b *testing.B) {
				d, err := sg.DoOn(ctx, 0, c.req) // warm: the token enters the cache
				expect(b, d, err, c.status)
				loopMeasured(b, sg, func() {
					d, err := sg.DoOn(ctx, 0, c.req)
					expect(b, d, err, c.status)
				}, func() {
					d, err := pass.DoOn(ctx, 0, c.req)
					expect(b, d, err, 0)
				})
			})
			b.Run("passthrough", func(b *testing.B) {
				b.ReportAllocs()
				t := newTimer(b)
				for i := 0; i < b.N; i++ {
					t.start()
					d, err := pass.DoOn(ctx, 0, c.req)
					t.stop()
					expect(b, d, err, 0)
				}
				t.report()
				b.ReportMetric(float64(pass.MemoryStats(0).Bytes), "vm-bytes")
			})
		})
	}

	vo := startHost(b, build(b, modVerifyOnly), verifyConfig(b))
	for _, alg := range benchAlgs {
		b.Run("cache_miss_"+alg, func(b *testing.B) {
			k := keyFor(alg)
			base := request("/api/orders/42", mint(k))
			base.Headers = append(base.Headers, [2]string{"x-bench-alg", alg})
			b.Run("scopegate", func(b *testing.B) {
				measureFresh(b, sg, func() host.Request { return request("/api/orders/42", mint(k)) }, vo, base)
			})
			b.Run("baseline", func(b *testing.B) { timeRequests(b, vo, base) })
		})
	}
}

// measureFresh runs b.N requests through worker 0 of h, each built by
// fresh before the timer starts (a request that must not repeat: a new
// token, a new DPoP proof), paired with base sent to pair (see loopMeasured).
func measureFresh(b *testing.B, h *host.Host, fresh func() host.Request, pair *host.Host, base host.Request) {
	ctx := context.Background()
	reqs := make([]host.Request, b.N)
	for i := range reqs {
		reqs[i] = fresh()
	}
	i := 0
	loopMeasured(b, h, func() {
		d, err := h.DoOn(ctx, 0, reqs[i])
		expect(b, d, err, 0)
		i++
	}, func() {
		d, err := pair.DoOn(ctx, 0, base)
		expect(b, d, err, 0)
	})
}

// timeRequests sends req b.N times to worker 0 of h, each to be let
// through, and reports the median as ns/op (see timer).
func timeRequests(b *testing.B, h *host.Host, req host.Request) {
	b.ReportAllocs()
	t := newTimer(b)
	for i := 0; i < b.N; i++ {
		t.start()
		d, err := h.DoOn(context.Background(), 0, req)
		t.stop()
		expect(b, d, err, 0)
	}
	t.report()
}

// loopMeasured runs do b.N times with the timer on, and reports the guest's
// own allocations per request and the worker's linear memory. After each
// do it runs pair, the same request through the baseline, outside the
// benchmark's timer, and reports paired-ratio: the median of do over the
// median of pair. Measured interleaved, the two see the same machine load,
// so the ratio holds better than one of two separate runs on a busy host.
func loopMeasured(b *testing.B, h *host.Host, do, pair func()) {
	b.ReportAllocs()
	objs, bytes, gcs, gcCPU := guestStat(b, h, statAllocObjects), guestStat(b, h, statAllocBytes), guestStat(b, h, statGCCycles), guestStat(b, h, statGCCPU)
	t := newTimer(b)
	paired := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t.start()
		do()
		t.stop()
		t0 := time.Now()
		pair()
		paired = append(paired, time.Since(t0))
	}
	t.report()
	slices.Sort(paired)
	b.ReportMetric(float64(t.median())/float64(paired[len(paired)/2]), "paired-ratio")
	n := float64(b.N)
	b.ReportMetric(float64(guestStat(b, h, statAllocObjects)-objs)/n, "guest-allocs/op")
	b.ReportMetric(float64(guestStat(b, h, statAllocBytes)-bytes)/n, "guest-B/op")
	b.ReportMetric(float64(guestStat(b, h, statGCCycles)-gcs)/n, "guest-gcs/op")
	b.ReportMetric(float64(guestStat(b, h, statGCCPU)-gcCPU)/n, "guest-gc-ns/op")
	b.ReportMetric(float64(h.MemoryStats(0).Bytes), "vm-bytes")
}

// timer records each iteration's duration so a benchmark can report the
// median as ns/op (robust to the preemptions of a busy shared machine) and
// the mean and 99th percentile besides. Only the timed sections count:
// setup between iterations (minting tokens, checking decisions) does not.
type timer struct {
	b     *testing.B
	t0    time.Time
	durs  []time.Duration
	total time.Duration
}

func newTimer(b *testing.B) *timer {
	b.ResetTimer()
	b.StopTimer()
	return &timer{b: b, durs: make([]time.Duration, 0, b.N)}
}

func (t *timer) start() { t.b.StartTimer(); t.t0 = time.Now() }

func (t *timer) stop() {
	d := time.Since(t.t0)
	t.b.StopTimer()
	t.durs = append(t.durs, d)
	t.total += d
}

// median returns the median duration; report (which sorts) must run first.
func (t *timer) median() time.Duration { return t.durs[len(t.durs)/2] }

// report sets ns/op to the median and adds mean-ns/op and p99-ns.
func (t *timer) report() {
	if len(t.durs) == 0 {
		return
	}
	slices.Sort(t.durs)
	t.b.ReportMetric(float64(t.median().Nanoseconds()), "ns/op")
	t.b.ReportMetric(float64(t.total.Nanoseconds())/float64(len(t.durs)), "mean-ns/op")
	t.b.ReportMetric(float64(t.durs[len(t.durs)*99/100].Nanoseconds()), "p99-ns")
}
