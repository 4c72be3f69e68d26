//go:build wasip1

// Command guest is the abi binding's test filter: each request path
// exercises one group of host calls, and the outcome is reported in request
// headers (or a local response) that abi_guest_test.go asserts through the
// wazero host. It is a test fixture, not an example of filter design.
package main

import (
	"encoding/hex"
	"errors"
	"runtime"
	"strconv"
	"strings"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// init may only log (Envoy traps any other proxy_* call during
// _initialize); the binding refuses the other calls without asking the host,
// and the test checks the host saw none.
func init() {
	abi.LogInfo("guest: init")
	if err := abi.SetTickPeriodMilliSeconds(1000); err != nil {
		abi.LogInfo("guest: init tick refused: " + err.Error())
	}
	if _, err := abi.GetProperty([]string{"plugin_name"}); err != nil {
		abi.LogInfo("guest: init property refused: " + err.Error())
	}
	abi.SetVMContext(&vmContext{})
}

// main is never called in a c-shared (reactor) module.
func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) OnVMStart(int) types.OnVMStartStatus {
	cfg, err := abi.GetVMConfiguration()
	if err != nil {
		abi.LogError("guest: vm config: " + err.Error())
		return false
	}
	abi.LogInfo("guest: vm config: " + string(cfg))
	return true
}

func (*vmContext) NewPluginContext(id uint32) types.PluginContext { return &pluginContext{id: id} }

type pluginContext struct {
	types.DefaultPluginContext
	id       uint32
	requests abi.MetricCounter
	ticks    abi.MetricCounter
	gauge    abi.MetricGauge
}

func (p *pluginContext) OnPluginStart(size int) types.OnPluginStartStatus {
	cfg, err := abi.GetPluginConfiguration()
	if err != nil {
		abi.LogError("guest: plugin config: " + err.Error())
		return false
	}
	if len(cfg) != size {
		abi.LogError("guest: plugin config is " + strconv.Itoa(len(cfg)) + " bytes, on_configure said " + strconv.Itoa(size))
		return false
	}
	if string(cfg) == "fail" {
		return false
	}
	if string(cfg) == "panic" {
		panic("guest: configure panic")
	}
	name, err := abi.GetProperty([]string{"plugin_name"})
	if err != nil {
		abi.LogError("guest: plugin_name: " + err.Error())
	}
	abi.LogInfo("guest: configured " + string(name) + ": " + string(cfg))
	// What a filter can learn about its host before calling a foreign
	// function (Envoy has both properties; ngx_wasm_module neither).
	for _, path := range [][]string{{"plugin_vm_id"}, {"xds", "node"}} {
		v, err := abi.GetProperty(path)
		status := "ok " + strconv.Itoa(len(v)) + " bytes"
		if err != nil {
			status = err.Error()
		}
		abi.LogInfo("guest: property " + strings.Join(path, ".") + ": " + status)
	}
	p.requests = abi.DefineCounterMetric("guest.requests")
	p.ticks = abi.DefineCounterMetric("guest.ticks")
	p.gauge = abi.DefineGaugeMetric("guest.gauge")
	if err := abi.SetTickPeriodMilliSeconds(60_000); err != nil {
		abi.LogError("guest: tick period: " + err.Error())
	}
	return true
}

// OnTick counts ticks and bumps a shared counter with compare-and-swap.
func (p *pluginContext) OnTick() {
	p.ticks.Increment(1)
	for range 10 {
		v, cas, err := abi.GetSharedData("guest.tick")
		if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
			abi.LogError("guest: tick shared get: " + err.Error())
			return
		}
		n, _ := strconv.Atoi(string(v))
		err = abi.SetSharedData("guest.tick", []byte(strconv.Itoa(n+1)), cas)
		if err == nil {
			return
		}
		if !errors.Is(err, types.ErrorStatusCasMismatch) {
			abi.LogError("guest: tick shared set: " + err.Error())
			return
		}
	}
}

func (p *pluginContext) NewHttpContext(id uint32) types.HttpContext {
	return &httpContext{id: id, plugin: p}
}

type httpContext struct {
	types.DefaultHttpContext
	id     uint32
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	h.plugin.requests.Increment(1)
	path, err := abi.GetHttpRequestHeader(":path")
	if path == "/probe" {
		return h.probe()
	}
	if err != nil {
		abi.LogError("guest: :path: " + err.Error())
		return h.fail("no :path")
	}
	switch path {
	case "/headers":
		return h.headers()
	case "/local":
		return h.local()
	case "/callout", "/callout-deny", "/callout-panic":
		return h.callout(path)
	case "/callout-bad":
		return h.badCallout()
	case "/shared":
		return h.shared()
	case "/property":
		return h.property()
	case "/foreign":
		return h.foreign()
	case "/tick-count":
		v, _, err := abi.GetSharedData("guest.tick")
		if err != nil {
			return h.fail("tick count: " + err.Error())
		}
		_ = abi.ReplaceHttpRequestHeader("x-tick-count", string(v))
		return types.ActionContinue
	case "/log":
		return h.logLevel()
	case "/metrics":
		return h.metrics()
	case "/allocs":
		return h.allocs()
	case "/hot":
		return h.hot()
	case "/churn":
		return h.churn()

	case "/panic":
		panic("guest: request panic")
	case "/nil":
		var m map[string]int
		m["x"] = 1 // a runtime error, not a string panic
	}
	return types.ActionContinue
}

// fail answers the stream with a 599 naming what went wrong in the guest.
func (h *httpContext) fail(what string) types.Action {
	if err := abi.SendHttpResponse(599, nil, []byte(what), -1); err != nil {
		abi.LogError("guest: fail response: " + err.Error())
	}
	return types.ActionPause
}

// headers exercises get/add/replace/remove of single request headers, the
// whole-map get, the allocation-free value form, and response headers.
func (h *httpContext) headers() types.Action {
	in, err := abi.GetHttpRequestHeader("x-in")
	if err != nil {
		return h.fail("x-in: " + err.Error())
	}
	if _, err := abi.GetHttpRequestHeader("x-absent"); !errors.Is(err, types.ErrorStatusNotFound) {
		return h.fail("x-absent: want not found")
	}
	buf, err := abi.AppendHttpRequestHeaderValue([]byte("in="), "x-in")
	if err != nil {
		return h.fail("append x-in: " + err.Error())
	}
	all, err := abi.GetHttpRequestHeaders()
	if err != nil {
		return h.fail("all headers: " + err.Error())
	}
	var names []string
	for _, kv := range all {
		names = append(names, kv[0])
	}
	for _, step := range []error{
		abi.AddHttpRequestHeader("x-added", "a1"),
		abi.AddHttpRequestHeader("x-added", "a2"),
		abi.ReplaceHttpRequestHeader("x-replace", "new"),
		abi.RemoveHttpRequestHeader("x-remove"),
		abi.ReplaceHttpRequestHeader("x-echo", in),
		abi.ReplaceHttpRequestHeader("x-appended", string(buf)),
		abi.ReplaceHttpRequestHeader("x-names", strings.Join(names, ",")),
	} {
		if step != nil {
			return h.fail("header update: " + step.Error())
		}
	}
	return types.ActionContinue
}

func (h *httpContext) local() types.Action {
	err := abi.SendHttpResponse(418, [][2]string{{"x-local", "yes"}, {"content-type", "text/plain"}}, []byte("short and stout"), -1)
	if err != nil {
		return h.fail("local: " + err.Error())
	}
	return types.ActionPause
}

// callout dispatches a callout and resumes (or answers) the stream from
// its callback, which runs on the root context.
func (h *httpContext) callout(path string) types.Action {
	cluster, err := abi.GetHttpRequestHeader("x-cluster")
	if err != nil {
		cluster = "backend"
	}
	headers := [][2]string{{":method", "GET"}, {":path", "/answer"}, {":authority", "backend"}, {"x-from", "guest"}}
	id := h.id
	_, err = abi.DispatchHttpCall(cluster, headers, nil, nil, 5000, func(numHeaders, bodySize, _ int) {
		if path == "/callout-panic" {
			panic("guest: callout panic")
		}
		status := "none"
		if numHeaders > 0 {
			hs, err := abi.GetHttpCallResponseHeaders()
			if err != nil {
				abi.LogError("guest: callout headers: " + err.Error())
			}
			for _, kv := range hs {
				if kv[0] == ":status" {
					status = kv[1]
				}
			}
		}
		var body []byte
		if bodySize > 0 {
			var err error
			if body, err = abi.GetHttpCallResponseBody(0, bodySize); err != nil {
				abi.LogError("guest: callout body: " + err.Error())
			}
		}
		if err := abi.SetEffectiveContext(id); err != nil {
			abi.LogInfo("guest: stream " + strconv.Itoa(int(id)) + " is gone: " + err.Error())
			return
		}
		switch {
		case path == "/callout-deny":
			_ = abi.SendHttpResponse(403, [][2]string{{"x-callout-status", status}}, body, -1)
		case numHeaders == 0 && bodySize == 0:
			_ = abi.SendHttpResponse(503, nil, []byte("callout failed"), -1)
		default:
			_ = abi.ReplaceHttpRequestHeader("x-callout-status", status)
			_ = abi.ReplaceHttpRequestHeader("x-callout-body", string(body))
			if err := abi.ResumeHttpRequest(); err != nil {
				abi.LogError("guest: resume: " + err.Error())
			}
		}
	})
	if err != nil {
		return h.fail("dispatch: " + err.Error())
	}
	return types.ActionPause
}

// shared writes, reads back, and proves a stale CAS is refused.
func (h *httpContext) shared() types.Action {
	key := "guest.shared"
	_, cas, err := abi.GetSharedData(key)
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		return h.fail("shared get: " + err.Error())
	}
	if err := abi.SetSharedData(key, []byte("v1"), cas); err != nil {
		return h.fail("shared set: " + err.Error())
	}
	got, cas2, err := abi.GetSharedData(key)
	if err != nil {
		return h.fail("shared reread: " + err.Error())
	}
	stale := abi.SetSharedData(key, []byte("v2"), cas)
	if cas == 0 {
		// The first write had no CAS; a CAS that was never issued must still fail.
		stale = abi.SetSharedData(key, []byte("v2"), cas2+1000)
	}
	result := "stale-accepted"
	if errors.Is(stale, types.ErrorStatusCasMismatch) {
		result = "cas-mismatch"
	}
	_ = abi.ReplaceHttpRequestHeader("x-shared", string(got))
	_ = abi.ReplaceHttpRequestHeader("x-stale", result)
	return types.ActionContinue
}

func (h *httpContext) property() types.Action {
	p, err := abi.GetProperty([]string{"request", "path"})
	if err != nil {
		return h.fail("property: " + err.Error())
	}
	_, missing := abi.GetProperty([]string{"no", "such", "property"})
	_ = abi.ReplaceHttpRequestHeader("x-property", string(p))
	_ = abi.ReplaceHttpRequestHeader("x-missing-property", strconv.FormatBool(errors.Is(missing, types.ErrorStatusNotFound)))
	return types.ActionContinue
}

// foreign calls the foreign function named by x-function with the
// hex-encoded x-args and reports the answer (hex) and status.
func (h *httpContext) foreign() types.Action {
	name, _ := abi.GetHttpRequestHeader("x-function")
	hexArgs, _ := abi.GetHttpRequestHeader("x-args")
	args, err := hex.DecodeString(hexArgs)
	if err != nil {
		return h.fail("x-args: " + err.Error())
	}
	out, err := abi.CallForeignFunction(name, args)
	status := "ok"
	if err != nil {
		status = err.Error()
	}
	_ = abi.ReplaceHttpRequestHeader("x-foreign-status", status)
	_ = abi.ReplaceHttpRequestHeader("x-foreign-result", hex.EncodeToString(out))
	return types.ActionContinue
}

func (h *httpContext) logLevel() types.Action {
	level, err := abi.GetLogLevel()
	if err != nil {
		return h.fail("log level: " + err.Error())
	}
	abi.LogDebug("guest: debug line")
	abi.LogInfo("guest: info line")
	abi.LogWarn("guest: warn line")
	_ = abi.ReplaceHttpRequestHeader("x-log-level", level.String())
	_ = abi.ReplaceHttpRequestHeader("x-debug-enabled", strconv.FormatBool(abi.LogEnabled(abi.LogLevelDebug)))
	return types.ActionContinue
}

func (h *httpContext) metrics() types.Action {
	h.plugin.gauge.Add(5)
	h.plugin.gauge.Add(-2)
	_ = abi.ReplaceHttpRequestHeader("x-requests", strconv.FormatUint(h.plugin.requests.Value(), 10))
	_ = abi.ReplaceHttpRequestHeader("x-gauge", strconv.FormatInt(h.plugin.gauge.Value(), 10))
	return types.ActionContinue
}

// hot is a filter's cache-hit path in miniature: read the token header,
// strip headers a client may not set, set one, and skip a debug line.
func (h *httpContext) hot() types.Action {
	var buf [64]byte
	tok, err := abi.AppendHttpRequestHeaderValue(buf[:0], "authorization")
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		return h.fail("authorization: " + err.Error())
	}
	_ = abi.RemoveHttpRequestHeader("authorization")
	_ = abi.RemoveHttpRequestHeader("x-jwt-sub")
	_ = abi.ReplaceHttpRequestHeader("x-jwt-sub", "user")
	if abi.LogEnabled(abi.LogLevelDebug) {
		abi.LogDebug("guest: token of " + strconv.Itoa(len(tok)) + " bytes")
	}
	return types.ActionContinue
}

// allocs measures the Go heap allocations of the hot host calls inside the
// VM (runtime.MemStats.Mallocs; no GC is forced) and reports allocations
// per call in x-allocs-<call> headers.
func (h *httpContext) allocs() types.Action {
	const n = 200
	var ms runtime.MemStats
	perCall := func(f func()) string {
		f() // warm up: grow the arena and scratch buffers once
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		for range n {
			f()
		}
		runtime.ReadMemStats(&ms)
		return strconv.FormatFloat(float64(ms.Mallocs-before)/n, 'f', 2, 64)
	}
	var buf [128]byte
	var sink string
	results := [][2]string{
		{"x-allocs-append-value", perCall(func() { _, _ = abi.AppendHttpRequestHeaderValue(buf[:0], "x-in") })},
		{"x-allocs-get-value", perCall(func() { sink, _ = abi.GetHttpRequestHeader("x-in") })},
		{"x-allocs-get-absent", perCall(func() { sink, _ = abi.GetHttpRequestHeader("x-absent") })},
		{"x-allocs-replace", perCall(func() { _ = abi.ReplaceHttpRequestHeader("x-scratch", "value") })},
		{"x-allocs-remove", perCall(func() { _ = abi.RemoveHttpRequestHeader("x-scratch") })},
		{"x-allocs-log", perCall(func() { abi.LogInfo("guest: allocation probe") })},
		{"x-allocs-log-skipped", perCall(func() { abi.LogDebug("guest: allocation probe") })},
		{"x-allocs-counter", perCall(func() { h.plugin.requests.Increment(1) })},
	}
	_ = sink
	for _, kv := range results {
		_ = abi.ReplaceHttpRequestHeader(kv[0], kv[1])
	}
	return types.ActionContinue
}

// badCallout breaks Envoy's callout rules; the binding must refuse both
// calls itself, so the host never sees them.
func (h *httpContext) badCallout() types.Action {
	noAuthority := [][2]string{{":method", "GET"}, {":path", "/answer"}}
	_, err1 := abi.DispatchHttpCall("backend", noAuthority, nil, nil, 5000, nil)
	full := append(noAuthority, [2]string{":authority", "backend"})
	_, err2 := abi.DispatchHttpCall("backend", full, nil, nil, 0, nil)
	_ = abi.ReplaceHttpRequestHeader("x-no-authority", strconv.FormatBool(errors.Is(err1, types.ErrorStatusBadArgument)))
	_ = abi.ReplaceHttpRequestHeader("x-no-timeout", strconv.FormatBool(errors.Is(err2, types.ErrorStatusBadArgument)))
	return types.ActionContinue
}

// churnSink keeps the last churned buffer alive so the allocations are real.
var churnSink []byte

// churn allocates 256 KiB of garbage and reports how many GC cycles the VM
// has run, so a test can prove collections happen without the Go runtime
// ever needing poll_oneoff (which Envoy 1.33-1.38 answer with ENOSYS).
func (h *httpContext) churn() types.Action {
	for range 4 {
		churnSink = make([]byte, 64<<10)
		churnSink[0] = 1
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	_ = abi.ReplaceHttpRequestHeader("x-numgc", strconv.FormatUint(uint64(ms.NumGC), 10))
	return types.ActionContinue
}

// probeMallocs is runtime.MemStats.Mallocs when the last /probe request
// reached its measuring point.
var probeMallocs uint64

// probe reports the heap allocations made since the previous /probe reached
// the same point: the end of that stream (on_log, on_done, on_delete) and
// the start of this one (context creation, this callback). The guest's own
// share is two: its httpContext and the :path string.
func (h *httpContext) probe() types.Action {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	delta := ms.Mallocs - probeMallocs
	runtime.ReadMemStats(&ms)
	probeMallocs = ms.Mallocs
	_ = abi.ReplaceHttpRequestHeader("x-mallocs", strconv.FormatUint(delta, 10))
	return types.ActionContinue
}
