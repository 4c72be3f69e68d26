package bench

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// BenchmarkEngine measures the same requests through the shipped module in
// both engines a proxy runs it in: wazero (the local host, host/) and V8
// (Node's, with Envoy's flags, under the small proxy-wasm host in bench/v8).
// Each engine runs every row in one process, against the floor measured in
// the same run: the pass-through module (filter/abi/testdata/passthrough,
// built with the same toolchain and runtime overlay) on the minimal request.
//
// Rows: floor and floor_browser (the pass-through module); hit_minimal and
// hit_browser (a cached token, with 5 and with 20 browser-like headers);
// missing_token (401) and denied_scope (403); miss_<alg> (a fresh token per
// request, one per algorithm, in a second scopegate VM so the misses never
// evict the hit rows' token; RS* and ES* signatures checked by the host's
// verify_signature) and miss_<alg>_go (the same with host_crypto "off", in
// a third VM); dpop_ES256 and dpop_ES256_go (a cached DPoP-bound token with
// a fresh ES256 proof per request, in VMs of their own); flood_<alg> and
// flood_<alg>_go (the forged-token flood of issue #14: tokens under the
// provider's kid signed by another key, a pool of floodPoolSize distinct
// ones sent in turn, each answered 401 after the signature check, through
// verify_signature and in Go, in VMs of their own). Flood rows also report
// rps (requests per second of one worker, from the median) and, on the
// host path's row, x-go-rps: its rps over the Go path's.
//
// Method (the same in both engines): warm-up first (reused requests for
// engineWarmup, which also sizes their batches to about engineBatch; miss
// rows a few batches), then engineRounds rounds, each running one batch of
// every row in turn. ns/op is the median over the rounds of the time per
// request; paired-x-floor is the median over the rounds of the row's time
// over the floor's in the same round. Every answer is checked.
func BenchmarkEngine(b *testing.B) {
	rounds := engineRounds
	if v := os.Getenv("SCOPEGATE_BENCH_ENGINE_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("SCOPEGATE_BENCH_ENGINE_ROUNDS=%q: want a number of rounds >= 1", v)
		}
		rounds = n
	}
	sc := newEngineScenario(b, rounds)
	b.Run("wazero", func(b *testing.B) { reportEngine(b, runWazeroEngine(b, sc)) })
	b.Run("v8", func(b *testing.B) { reportEngine(b, runV8Engine(b, sc)) })
}

// engineRounds is the default number of rounds (SCOPEGATE_BENCH_ENGINE_ROUNDS
// overrides it).
const (
	engineRounds = 15
	engineWarmup = 300 * time.Millisecond
	engineBatch  = 10 * time.Millisecond
)

// missBatch is how many fresh tokens one batch of a miss row sends: about
// 5-25 ms in V8 on the reference machine (twice that in wazero).
var missBatch = map[string]int{"RS256": 40, "PS256": 40, "ES256": 10, "ES384": 4, "ES512": 1, "EdDSA": 20, "HS256": 150}

const missWarmupBatches = 2

// floodAlgs are the algorithms of the forged-token flood rows (issue #14's
// targets), and floodPoolSize how many distinct forged tokens a flood row
// sends in turn (as BenchmarkHostCrypto's flood: a forged token is never
// cached, so the pool only keeps the requests from being one repeated
// string).
var floodAlgs = []string{"RS256", "ES256"}

const floodPoolSize = 64

// engineScenario is what both engines run; it is also the input of
// bench/v8/bench.mjs, so its JSON names are that script's.
type engineScenario struct {
	Rounds   int                     `json:"rounds"`
	WarmupMs int                     `json:"warmupMs"`
	BatchMs  int                     `json:"batchMs"`
	Modules  map[string]engineModule `json:"modules"`
	Rows     []engineRow             `json:"rows"`
}

type engineModule struct {
	Path         string `json:"path"`
	PluginConfig string `json:"pluginConfig"`
}

type engineRow struct {
	Name          string      `json:"name"`
	Module        string      `json:"module"`
	Requests      []jsRequest `json:"requests"`
	Reuse         bool        `json:"reuse"`
	Cycle         bool        `json:"cycle,omitempty"` // requests sent in turn, round and round, batches sized like reuse
	Batch         int         `json:"batch,omitempty"`
	WarmupBatches int         `json:"warmupBatches,omitempty"`
	Expect        struct {
		Continue bool `json:"continue,omitempty"`
		Status   int  `json:"status,omitempty"`
	} `json:"expect"`

	requests []host.Request // the same, for the Go host
}

// newEngineScenario builds the rows; rounds decides how many fresh tokens
// each miss row gets (0: one, for a test that sends each row once).
func newEngineScenario(tb testing.TB, rounds int) *engineScenario {
	tb.Helper()
	sg := build(tb, modScopegate)
	cfg, goCrypto := latin1(string(pluginConfig())), latin1(string(cryptoConfig("off")))
	sc := &engineScenario{
		Rounds: rounds, WarmupMs: int(engineWarmup / time.Millisecond), BatchMs: int(engineBatch / time.Millisecond),
		Modules: map[string]engineModule{
			"passthrough":        {Path: build(tb, modPassthrough)},
			"scopegate":          {Path: sg, PluginConfig: cfg},
			"scopegate-miss":     {Path: sg, PluginConfig: cfg},
			"scopegate-miss-go":  {Path: sg, PluginConfig: goCrypto},
			"scopegate-dpop":     {Path: sg, PluginConfig: cfg},
			"scopegate-dpop-go":  {Path: sg, PluginConfig: goCrypto},
			"scopegate-flood":    {Path: sg, PluginConfig: cfg},
			"scopegate-flood-go": {Path: sg, PluginConfig: goCrypto},
		},
	}
	hit := mint(keyFor("RS256"))
	add := func(name, module string, status int, reqs ...host.Request) *engineRow {
		r := engineRow{Name: name, Module: module, Reuse: len(reqs) == 1, requests: reqs}
		for _, q := range reqs {
			r.Requests = append(r.Requests, toJS(q))
		}
		r.Expect.Continue, r.Expect.Status = status == 0, status
		sc.Rows = append(sc.Rows, r)
		return &sc.Rows[len(sc.Rows)-1]
	}
	add("floor", "passthrough", 0, minimalRequest("/api/orders/42", hit))
	add("floor_browser", "passthrough", 0, browserRequest("/api/orders/42", hit))
	add("hit_minimal", "scopegate", 0, minimalRequest("/api/orders/42", hit))
	add("hit_browser", "scopegate", 0, browserRequest("/api/orders/42", hit))
	add("missing_token", "scopegate", 401, minimalRequest("/api/orders/42", ""))
	add("denied_scope", "scopegate", 403, minimalRequest("/admin/users", hit))
	// fresh adds a row whose every request is new (a fresh token, a fresh
	// DPoP proof), batch of them per batch, plus one more than the rounds
	// use: bench.mjs counts the host calls of one request with it.
	fresh := func(name, module string, batch int, request func() host.Request) {
		n := 1
		if rounds > 0 {
			n = (missWarmupBatches+rounds)*batch + 1
		}
		reqs := make([]host.Request, n)
		for i := range reqs {
			reqs[i] = request()
		}
		r := add(name, module, 0, reqs...)
		r.Reuse, r.Batch, r.WarmupBatches = false, batch, missWarmupBatches
	}
	// Misses: RS*/ES* signatures checked by the proxy's verify_signature
	// (host_crypto "auto", as on Envoy 1.30+), and checked in Go ("off").
	for _, alg := range benchAlgs {
		fresh("miss_"+alg, "scopegate-miss", missBatch[alg], func() host.Request {
			return minimalRequest("/api/orders/42", mint(keyFor(alg)))
		})
	}
	for _, alg := range hostCryptoAlgs {
		fresh("miss_"+alg+"_go", "scopegate-miss-go", missBatch[alg], func() host.Request {
			return minimalRequest("/api/orders/42", mint(keyFor(alg)))
		})
	}
	// DPoP: a cached token with a fresh ES256 proof per request, the proof
	// checked by verify_signature and in Go.
	client := dpopKey("ES256")
	token := dpopToken(client)
	dpopRequest := func() host.Request {
		return host.Request{Method: "GET", Path: "/api/orders/42", Authority: "api.example.com", Headers: dpopHeaders(token, client)}
	}
	fresh("dpop_ES256", "scopegate-dpop", missBatch["ES256"], dpopRequest)
	fresh("dpop_ES256_go", "scopegate-dpop-go", missBatch["ES256"], dpopRequest)
	// The forged-token flood: the provider's kid, another key's signature,
	// through verify_signature and in Go.
	for _, alg := range floodAlgs {
		pool := floodPool(alg)
		add("flood_"+alg, "scopegate-flood", 401, pool...).Cycle = true
		add("flood_"+alg+"_go", "scopegate-flood-go", 401, pool...).Cycle = true
	}
	// SCOPEGATE_BENCH_ENGINE_BASELINE names another build of the module
	// (an earlier commit's, say): its hit, 401, 403 and flood rows run
	// beside these, named <row>_baseline, for a before/after in one run.
	if base := os.Getenv("SCOPEGATE_BENCH_ENGINE_BASELINE"); base != "" {
		sc.Modules["baseline"] = engineModule{Path: base, PluginConfig: cfg}
		sc.Modules["baseline-flood"] = engineModule{Path: base, PluginConfig: cfg}
		sc.Modules["baseline-flood-go"] = engineModule{Path: base, PluginConfig: goCrypto}
		baseline := map[string]string{"hit_minimal": "baseline", "hit_browser": "baseline", "missing_token": "baseline",
			"denied_scope": "baseline"}
		for _, alg := range floodAlgs {
			baseline["flood_"+alg], baseline["flood_"+alg+"_go"] = "baseline-flood", "baseline-flood-go"
		}
		for _, r := range sc.Rows {
			if module, ok := baseline[r.Name]; ok {
				r.Name, r.Module = r.Name+"_baseline", module
				sc.Rows = append(sc.Rows, r)
			}
		}
	}
	// SCOPEGATE_BENCH_SCENARIO keeps a copy, for bench/v8/profile.mjs.
	if path := os.Getenv("SCOPEGATE_BENCH_SCENARIO"); path != "" {
		data, err := json.Marshal(sc)
		if err == nil {
			err = os.WriteFile(path, data, 0o644)
		}
		if err != nil {
			tb.Fatalf("SCOPEGATE_BENCH_SCENARIO: %v", err)
		}
	}
	return sc
}

// floodPool is floodPoolSize minimal requests, each carrying a distinct
// token under the provider's alg key id, signed by another key of that alg.
func floodPool(alg string) []host.Request {
	forger := testjwt.CachedKey(alg, "flood-forger").WithKid(keyFor(alg).Kid)
	pool := make([]host.Request, floodPoolSize)
	for i := range pool {
		pool[i] = minimalRequest("/api/orders/42", mint(forger))
	}
	return pool
}

// minimalRequest carries only the pseudo headers and the token: 5 headers.
func minimalRequest(path, token string) host.Request {
	r := host.Request{Method: "GET", Path: path, Authority: "api.example.com", Scheme: "https"}
	if token != "" {
		r.Headers = [][2]string{{"authorization", "Bearer " + token}}
	}
	return r
}

// browserRequest is what a browser's fetch() sends: 20 headers with the
// pseudo headers and the token, a 1 KiB cookie among them (3.2 KB
// serialized with mint's 1.3 KB token).
func browserRequest(path, token string) host.Request {
	r := minimalRequest(path, token)
	r.Headers = append(r.Headers, [][2]string{
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"},
		{"accept", "application/json, text/plain, */*"},
		{"accept-language", "en-US,en;q=0.9,de;q=0.8"},
		{"accept-encoding", "gzip, deflate, br, zstd"},
		{"referer", "https://app.example.com/orders?page=2&sort=created"},
		{"origin", "https://app.example.com"},
		{"sec-ch-ua", `"Not/A)Brand";v="8", "Chromium";v="126", "Google Chrome";v="126"`},
		{"sec-ch-ua-mobile", "?0"},
		{"sec-ch-ua-platform", `"Linux"`},
		{"sec-fetch-site", "same-site"},
		{"sec-fetch-mode", "cors"},
		{"sec-fetch-dest", "empty"},
		{"priority", "u=1, i"},
		{"x-request-id", "9b2f6c1e-4d7a-4b8e-a1f0-3c5d7e9f1a2b"},
		{"cookie", browserCookie},
	}...)
	return r
}

// browserCookie is 1 KiB of analytics and session cookies.
var browserCookie = func() string {
	c := "_ga=GA1.2.1093817462.1718000000; _gid=GA1.2.771263540.1718600000; theme=dark; lang=en-US; session="
	for len(c) < 1024 {
		c += strconv.FormatUint(uint64(len(c))*2654435761%4294967291, 36)
	}
	return c[:1024]
}()

// engineResult is one engine's figures (bench.mjs's output format).
type engineResult struct {
	Rows    []engineRowResult             `json:"rows"`
	Modules map[string]engineModuleResult `json:"modules"`
}

// engineRowResult is one row's figures, per request.
type engineRowResult struct {
	Name        string  `json:"name"`
	Batch       int     `json:"batch"`
	Rounds      int     `json:"rounds"`
	MedianNs    float64 `json:"medianNs"`
	MeanNs      float64 `json:"meanNs"`
	MinNs       float64 `json:"minNs"`
	MaxNs       float64 `json:"maxNs"`
	PairedRatio float64 `json:"pairedRatio"`
	// HostCalls counts, by name, the host calls of one request (V8 only).
	HostCalls map[string]int `json:"hostCalls"`
}

// engineModuleResult is what a module's host saw over the whole run.
type engineModuleResult struct {
	Violations []jsViolation      `json:"violations"`
	Traps      int                `json:"traps"`
	Metrics    map[string]float64 `json:"metrics"`
}

// reportEngine reports each row as a sub-benchmark whose ns/op is the
// median time per request. The figures were measured before; the
// sub-benchmarks only report them.
func reportEngine(b *testing.B, res engineResult) {
	for name, m := range res.Modules {
		if len(m.Violations) > 0 || m.Traps > 0 {
			b.Fatalf("module %s: violations %v, traps %d", name, m.Violations, m.Traps)
		}
	}
	// The hit rows must have been hits: the scopegate VM verified one token.
	if misses := res.Modules["scopegate"].Metrics["scopegate.cache.miss"]; misses != 1 {
		b.Fatalf("the hit rows' VM counted %v cache misses, want 1", misses)
	}
	// Signatures took the path each module's host_crypto says.
	for _, module := range []string{"scopegate-miss", "scopegate-dpop", "scopegate-flood"} {
		m := res.Modules[module].Metrics
		if m["scopegate.signature.host"] == 0 || res.Modules[module+"-go"].Metrics["scopegate.signature.host"] != 0 {
			b.Fatalf("verify_signature checked %v signatures for %s and %v for %s-go; want some and none",
				m["scopegate.signature.host"], module, res.Modules[module+"-go"].Metrics["scopegate.signature.host"], module)
		}
	}
	// Every forged token's signature was refused by verify_signature, none in Go.
	if n := res.Modules["scopegate-flood"].Metrics["scopegate.signature.guest"]; n != 0 {
		b.Fatalf("the flood's host path checked %v signatures in Go, want 0", n)
	}
	medians := map[string]float64{}
	for _, r := range res.Rows {
		medians[r.Name] = r.MedianNs
	}
	for _, r := range res.Rows {
		if r.HostCalls != nil {
			var parts []string
			for _, n := range slices.Sorted(maps.Keys(r.HostCalls)) {
				parts = append(parts, n+" "+strconv.Itoa(r.HostCalls[n]))
			}
			b.Logf("%s: host calls of one request: %s", r.Name, strings.Join(parts, ", "))
		}
		b.Run(r.Name, func(b *testing.B) {
			b.ReportMetric(r.MedianNs, "ns/op")
			b.ReportMetric(r.MeanNs, "mean-ns/op")
			b.ReportMetric(r.MinNs, "min-ns/op")
			b.ReportMetric(r.MaxNs, "max-ns/op")
			b.ReportMetric(r.PairedRatio, "paired-x-floor")
			b.ReportMetric(float64(r.Batch), "requests/batch")
			if strings.HasPrefix(r.Name, "flood_") {
				b.ReportMetric(1e9/r.MedianNs, "rps")
				// flood_RS256 against flood_RS256_go (and their _baseline twins).
				host, suffix, _ := strings.Cut(r.Name, "_baseline")
				if goNs, ok := medians[host+"_go"+suffix]; ok && !strings.HasSuffix(host, "_go") {
					b.ReportMetric(goNs/r.MedianNs, "x-go-rps")
				}
			}
			if r.HostCalls != nil {
				total := 0
				for n, c := range r.HostCalls {
					if n != "guest allocator" {
						total += c
					}
				}
				b.ReportMetric(float64(total), "host-calls/op")
				b.ReportMetric(float64(r.HostCalls["guest allocator"]), "allocator-calls/op")
			}
		})
	}
}

// runV8Engine runs the scenario in bench/v8/bench.mjs.
func runV8Engine(b *testing.B, sc *engineScenario) engineResult {
	data, err := json.Marshal(sc)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "scenario.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	out := runNode(b, 30*time.Minute, "bench.mjs", nil, path)
	var res engineResult
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("bench.mjs output: %v\n%s", err, out)
	}
	return res
}

// runWazeroEngine runs the scenario in the local host, exactly as
// bench.mjs does in V8.
func runWazeroEngine(b *testing.B, sc *engineScenario) engineResult {
	ctx := context.Background()
	hosts := map[string]*host.Host{}
	for name, m := range sc.Modules {
		var cfg []byte
		if m.PluginConfig != "" {
			cfg = []byte(fromLatin1(m.PluginConfig))
		}
		hosts[name] = startHost(b, m.Path, cfg)
	}
	type rowState struct {
		*engineRow
		h          *host.Host
		next       int
		perRequest []float64
		paired     []float64
	}
	rows := make([]*rowState, len(sc.Rows))
	for i := range sc.Rows {
		rows[i] = &rowState{engineRow: &sc.Rows[i], h: hosts[sc.Rows[i].Module]}
	}
	runBatch := func(r *rowState, n int) float64 {
		t0 := time.Now()
		var d host.Decision
		var err error
		for i := 0; i < n; i++ {
			req := r.requests[0]
			switch {
			case r.Cycle:
				req = r.requests[r.next%len(r.requests)]
				r.next++
			case !r.Reuse:
				req = r.requests[r.next]
				r.next++
			}
			d, err = r.h.DoOn(ctx, 0, req)
			if err != nil || d.Continue != r.Expect.Continue {
				break
			}
		}
		elapsed := time.Since(t0)
		expect(b, d, err, r.Expect.Status)
		return float64(elapsed.Nanoseconds()) / float64(n)
	}
	for _, r := range rows {
		if r.Reuse || r.Cycle {
			n, spent, best := 1, 0.0, math.Inf(1)
			for spent < float64(engineWarmup.Nanoseconds()) {
				per := runBatch(r, n)
				best = min(best, per)
				spent += per * float64(n)
				n = min(2*n, 1<<16)
			}
			// The fastest batch sizes it: a slow one only saw the machine's load.
			r.Batch = max(1, int(float64(engineBatch.Nanoseconds())/best+0.5))
			continue
		}
		for i := 0; i < r.WarmupBatches; i++ {
			runBatch(r, r.Batch)
		}
	}
	var floor *rowState
	for _, r := range rows {
		if r.Name == "floor" {
			floor = r
		}
	}
	for round := 0; round < sc.Rounds; round++ {
		fl := runBatch(floor, floor.Batch)
		floor.perRequest = append(floor.perRequest, fl)
		for _, r := range rows {
			if r == floor {
				continue
			}
			t := runBatch(r, r.Batch)
			r.perRequest = append(r.perRequest, t)
			r.paired = append(r.paired, t/fl)
		}
	}
	var res engineResult
	res.Rows = make([]engineRowResult, len(rows))
	for i, r := range rows {
		out := &res.Rows[i]
		out.Name, out.Batch, out.Rounds = r.Name, r.Batch, len(r.perRequest)
		out.MedianNs, out.MeanNs = median(r.perRequest), mean(r.perRequest)
		out.MinNs, out.MaxNs = slices.Min(r.perRequest), slices.Max(r.perRequest)
		out.PairedRatio = 1
		if r != floor {
			out.PairedRatio = median(r.paired)
		}
	}
	res.Modules = map[string]engineModuleResult{}
	for name, h := range hosts {
		m := res.Modules[name]
		m.Traps = h.Traps()
		for _, v := range h.Violations() {
			m.Violations = append(m.Violations, jsViolation{Rule: v.Rule, VM: v.VM, Detail: v.Detail})
		}
		m.Metrics = map[string]float64{}
		for _, metric := range []string{"scopegate.cache.miss", "scopegate.signature.host", "scopegate.signature.guest"} {
			if n, ok := h.Metric(metric); ok {
				m.Metrics[metric] = float64(n)
			}
		}
		res.Modules[name] = m
	}
	return res
}

// median is the middle value of xs (the mean of the two middle ones for an
// even count); xs is not reordered.
func median[T ~int64 | ~float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// headerBytes is the size of a request's header map as proxy-wasm
// serializes it (for the docs: the browser-like set is about 3.2 KB,
// 3,215 bytes with mint's token, as TestEngineRequestsAreWhatTheDocsSay
// logs it).
func headerBytes(r host.Request) int {
	n := 4
	pairs := append([][2]string{{":authority", r.Authority}, {":path", r.Path}, {":method", r.Method}, {":scheme", r.Scheme}}, r.Headers...)
	for _, p := range pairs {
		n += 8 + len(p[0]) + len(p[1]) + 2
	}
	return n
}

// TestEngineRequestsAreWhatTheDocsSay keeps BenchmarkEngine's header sets
// what BENCHMARKS.md describes: 5 headers, and 20 browser-like ones (about
// 3 KB serialized with the 1.3 KB token, a 1 KiB cookie among them), both
// with the pseudo headers and the token.
func TestEngineRequestsAreWhatTheDocsSay(t *testing.T) {
	token := mint(keyFor("RS256"))
	minimal, browser := minimalRequest("/api/orders/42", token), browserRequest("/api/orders/42", token)
	if n := 4 + len(minimal.Headers); n != 5 {
		t.Errorf("the minimal request has %d headers, want 5", n)
	}
	if n := 4 + len(browser.Headers); n != 20 {
		t.Errorf("the browser-like request has %d headers, want 20", n)
	}
	if len(browserCookie) != 1024 {
		t.Errorf("the cookie is %d bytes, want 1024", len(browserCookie))
	}
	if size := headerBytes(browser); size < 2600 || size > 3600 {
		t.Errorf("the browser-like header map is %d bytes serialized, want about 3 KB", size)
	}
	t.Logf("serialized header maps: minimal %d bytes, browser-like %d bytes (token %d bytes)", headerBytes(minimal), headerBytes(browser), len(token))
}

// BenchmarkHostCallV8 is host.BenchmarkHostCall for the V8 host
// (bench/v8/callcost.mjs): what one proxy-wasm call costs in bench/v8's
// JavaScript host, per call, from the callloop guest repeating it; "floor"
// is the same loop over an import that does nothing. It tells how much of
// an Engine/v8 row is this host's own work rather than the module's.
func BenchmarkHostCallV8(b *testing.B) {
	module, err := wasmbuild.Build("./host/testdata/guests/callloop", wasmbuild.Options{NoOverlay: true})
	if err != nil {
		b.Fatal(err)
	}
	out := runNode(b, 10*time.Minute, "callcost.mjs", nil, module)
	var res struct {
		Rows []struct {
			Name     string  `json:"name"`
			MedianNs float64 `json:"medianNs"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("callcost.mjs output: %v\n%s", err, out)
	}
	for _, r := range res.Rows {
		b.Run(r.Name, func(b *testing.B) { b.ReportMetric(r.MedianNs, "ns/op") })
	}
}
