package abi

import (
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// fakeHost records what the dispatcher asks of the host.
type fakeHost struct {
	logs      []string // "level: message"
	effective []uint32
	sent500   []uint32 // effective context at each 500
	current   uint32
	goneIDs   map[uint32]bool // contexts set_effective_context refuses
}

func (h *fakeHost) log(level LogLevel, msg string) {
	h.logs = append(h.logs, level.String()+": "+msg)
}

func (h *fakeHost) setEffectiveContext(id uint32) error {
	if h.goneIDs[id] {
		return types.ErrorStatusBadArgument
	}
	h.effective = append(h.effective, id)
	h.current = id
	return nil
}

func (h *fakeHost) sendInternalError() error {
	h.sent500 = append(h.sent500, h.current)
	return nil
}

// recorder is a VM, plugin and HTTP context that records calls and can be
// told to panic in one of them.
type recorder struct {
	calls   []string
	panicIn string
	action  types.Action
	started bool // OnPluginStart's answer
	httpNil bool // NewHttpContext returns nil
	// switchTo, when set, is the context OnHttpRequestHeaders makes
	// effective before anything else (as SetEffectiveContext would).
	switchTo uint32
	d        *dispatcher
}

func (r *recorder) note(name string) {
	r.calls = append(r.calls, name)
	if r.panicIn == name {
		panic("boom in " + name)
	}
}

func (r *recorder) OnVMStart(int) types.OnVMStartStatus { r.note("vm_start"); return true }
func (r *recorder) NewPluginContext(id uint32) types.PluginContext {
	r.note("new_plugin")
	return &pluginRec{r}
}

type pluginRec struct{ r *recorder }

func (p *pluginRec) OnPluginStart(int) types.OnPluginStartStatus {
	p.r.note("plugin_start")
	return types.OnPluginStartStatus(p.r.started)
}
func (p *pluginRec) OnPluginDone() bool                    { p.r.note("plugin_done"); return false }
func (p *pluginRec) OnQueueReady(uint32)                   { p.r.note("queue_ready") }
func (p *pluginRec) OnTick()                               { p.r.note("tick") }
func (p *pluginRec) NewTcpContext(uint32) types.TcpContext { return nil }
func (p *pluginRec) NewHttpContext(id uint32) types.HttpContext {
	p.r.note("new_http")
	if p.r.httpNil {
		return nil
	}
	return &httpRec{r: p.r, id: id}
}

type httpRec struct {
	r  *recorder
	id uint32
}

func (h *httpRec) OnHttpRequestHeaders(int, bool) types.Action {
	if h.r.switchTo != 0 {
		_ = h.r.d.host.setEffectiveContext(h.r.switchTo)
		h.r.d.current = h.r.switchTo
	}
	h.r.note("request_headers")
	if h.r.panicIn == "callout" {
		h.r.d.addCallout(77, func(int, int, int) { panic("callout boom") })
	}
	return h.r.action
}
func (h *httpRec) OnHttpRequestBody(int, bool) types.Action {
	h.r.note("request_body")
	return h.r.action
}
func (h *httpRec) OnHttpRequestTrailers(int) types.Action {
	h.r.note("request_trailers")
	return h.r.action
}
func (h *httpRec) OnHttpResponseHeaders(int, bool) types.Action {
	h.r.note("response_headers")
	return h.r.action
}
func (h *httpRec) OnHttpResponseBody(int, bool) types.Action {
	h.r.note("response_body")
	return h.r.action
}
func (h *httpRec) OnHttpResponseTrailers(int) types.Action {
	h.r.note("response_trailers")
	return h.r.action
}
func (h *httpRec) OnHttpStreamDone() { h.r.note("stream_done") }

// newTestDispatcher returns a dispatcher with root 1 configured and stream 2 created.
func newTestDispatcher(t *testing.T, rec *recorder) (*dispatcher, *fakeHost) {
	t.Helper()
	h := &fakeHost{goneIDs: map[uint32]bool{}}
	d := newDispatcher(h)
	rec.d = d
	d.vm = rec
	d.contextCreate(1, 0)
	if !d.vmStart(1, 0) {
		t.Fatal("vmStart failed")
	}
	rec.started = true
	if !d.configure(1, 0) {
		t.Fatal("configure failed")
	}
	d.contextCreate(2, 1)
	rec.calls = nil
	return d, h
}

func hasLog(h *fakeHost, prefix, part string) bool {
	for _, l := range h.logs {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, part) {
			return true
		}
	}
	return false
}

func TestDispatchRoutesCallbacks(t *testing.T) {
	rec := &recorder{action: types.ActionPause}
	d, _ := newTestDispatcher(t, rec)
	events := []struct {
		ev   streamEvent
		call string
	}{
		{onRequestHeaders, "request_headers"}, {onRequestBody, "request_body"},
		{onRequestTrailers, "request_trailers"}, {onResponseHeaders, "response_headers"},
		{onResponseBody, "response_body"}, {onResponseTrailers, "response_trailers"},
	}
	for _, e := range events {
		t.Run(streamEventNames[e.ev]+" reaches its HttpContext method and returns its action", func(t *testing.T) {
			rec.calls = nil
			if got := d.streamCallback(e.ev, 2, 3, true); got != types.ActionPause {
				t.Fatalf("action = %v, want pause", got)
			}
			if len(rec.calls) != 1 || rec.calls[0] != e.call {
				t.Fatalf("calls = %v, want [%s]", rec.calls, e.call)
			}
			if d.current != 2 {
				t.Fatalf("current context = %d, want 2", d.current)
			}
		})
	}
	t.Run("root callbacks reach the plugin context", func(t *testing.T) {
		rec.calls = nil
		d.tick(1)
		d.queueReady(1, 9)
		if got := strings.Join(rec.calls, ","); got != "tick,queue_ready" {
			t.Fatalf("calls = %s", got)
		}
	})
	t.Run("proxy_on_done answers the plugin's OnPluginDone for a root", func(t *testing.T) {
		if d.done(1) {
			t.Fatal("done(root) = true, want the plugin's false")
		}
	})
	t.Run("proxy_on_done answers true for a stream", func(t *testing.T) {
		if !d.done(2) {
			t.Fatal("done(stream) = false")
		}
	})
	t.Run("proxy_on_log runs OnHttpStreamDone once, before or after done", func(t *testing.T) {
		rec.calls = nil
		d.logStream(2)
		d.logStream(2)
		if got := strings.Join(rec.calls, ","); got != "stream_done" {
			t.Fatalf("calls = %s", got)
		}
	})
	t.Run("a stream deleted without proxy_on_log still gets OnHttpStreamDone once", func(t *testing.T) {
		d.contextCreate(4, 1)
		rec.calls = nil
		d.delete(4)
		d.logStream(4)
		if got := strings.Join(rec.calls, ","); got != "stream_done" {
			t.Fatalf("calls = %s", got)
		}
	})
	t.Run("a deleted stream's callbacks continue without reaching the filter", func(t *testing.T) {
		d.delete(2)
		rec.calls = nil
		if got := d.streamCallback(onRequestHeaders, 2, 1, true); got != types.ActionContinue {
			t.Fatalf("action = %v", got)
		}
		if len(rec.calls) != 0 {
			t.Fatalf("calls = %v", rec.calls)
		}
	})
}

func TestDispatchContextCreation(t *testing.T) {
	t.Run("a stream under an unknown root is logged and answered 500, never continued", func(t *testing.T) {
		rec := &recorder{}
		d, h := newTestDispatcher(t, rec)
		d.contextCreate(5, 42)
		if !hasLog(h, "error", "unknown root 42") {
			t.Fatalf("logs = %v", h.logs)
		}
		if got := d.streamCallback(onRequestHeaders, 5, 1, true); got != types.ActionPause || len(h.sent500) != 1 {
			t.Fatalf("action = %v, 500s sent = %v; want pause and one 500", got, h.sent500)
		}
		if got := d.streamCallback(onResponseHeaders, 5, 1, true); got != types.ActionContinue || len(h.sent500) != 1 {
			t.Fatalf("the 500's own response: action = %v, 500s sent = %v", got, h.sent500)
		}
	})
	t.Run("a panic in NewHttpContext fails the stream closed with a 500", func(t *testing.T) {
		rec := &recorder{panicIn: "new_http"}
		d, h := newTestDispatcher(t, rec)
		d.contextCreate(7, 1)
		if !hasLog(h, "critical", "boom in new_http") {
			t.Fatalf("logs = %v", h.logs)
		}
		if got := d.streamCallback(onRequestHeaders, 7, 1, true); got != types.ActionPause || len(h.sent500) != 1 {
			t.Fatalf("action = %v, 500s sent = %v; want pause and one 500", got, h.sent500)
		}
		t.Run("and the next stream is served normally", func(t *testing.T) {
			rec.panicIn = ""
			d.contextCreate(8, 1)
			if got := d.streamCallback(onRequestHeaders, 8, 1, true); got != types.ActionContinue || len(h.sent500) != 1 {
				t.Fatalf("action = %v, 500s sent = %v", got, h.sent500)
			}
		})
	})
	t.Run("a nil HttpContext leaves the stream passing through", func(t *testing.T) {
		rec := &recorder{httpNil: true}
		d, _ := newTestDispatcher(t, rec)
		if _, ok := d.streams.get(2); ok {
			t.Fatal("nil context registered")
		}
		if got := d.streamCallback(onRequestHeaders, 2, 1, true); got != types.ActionContinue {
			t.Fatalf("action = %v", got)
		}
	})
	t.Run("a root context without SetVMContext fails vm_start and is logged", func(t *testing.T) {
		h := &fakeHost{}
		d := newDispatcher(h)
		d.contextCreate(1, 0)
		if d.vmStart(1, 0) {
			t.Fatal("vmStart = true without a VM context")
		}
		if !hasLog(h, "critical", "SetVMContext") {
			t.Fatalf("logs = %v", h.logs)
		}
	})
	t.Run("configure of an unknown root fails", func(t *testing.T) {
		rec := &recorder{}
		d, _ := newTestDispatcher(t, rec)
		if d.configure(9, 0) {
			t.Fatal("configure(unknown) = true")
		}
	})
	t.Run("configure answers OnPluginStart", func(t *testing.T) {
		rec := &recorder{}
		d, _ := newTestDispatcher(t, rec)
		rec.started = false
		if d.configure(1, 0) {
			t.Fatal("configure = true though OnPluginStart failed")
		}
	})
}

func TestDispatchPanics(t *testing.T) {
	t.Run("a panicking request callback gets a 500 and PAUSE, never CONTINUE", func(t *testing.T) {
		rec := &recorder{panicIn: "request_headers", action: types.ActionContinue}
		d, h := newTestDispatcher(t, rec)
		if got := d.streamCallback(onRequestHeaders, 2, 1, true); got != types.ActionPause {
			t.Fatalf("action = %v, want pause", got)
		}
		if len(h.sent500) != 1 {
			t.Fatalf("500s sent = %v", h.sent500)
		}
		if !hasLog(h, "critical", "panic in proxy_on_request_headers on context 2: boom in request_headers") {
			t.Fatalf("logs = %v", h.logs)
		}
		if !hasLog(h, "critical", "goroutine") {
			t.Fatal("panic log has no stack")
		}
		t.Run("and the stream's later callbacks pass its local reply through", func(t *testing.T) {
			rec.calls = nil
			if got := d.streamCallback(onResponseHeaders, 2, 1, true); got != types.ActionContinue {
				t.Fatalf("action = %v", got)
			}
			if len(rec.calls) != 0 {
				t.Fatalf("filter called again: %v", rec.calls)
			}
		})
		t.Run("and its request body and trailers stay held", func(t *testing.T) {
			// Envoy takes Continue from a body callback as "continue the
			// stopped headers too": the failed request would go upstream.
			rec.calls = nil
			if got := d.streamCallback(onRequestBody, 2, 10, false); got != types.ActionPause {
				t.Fatalf("body action = %v, want pause", got)
			}
			if got := d.streamCallback(onRequestTrailers, 2, 1, true); got != types.ActionPause {
				t.Fatalf("trailers action = %v, want pause", got)
			}
			if len(rec.calls) != 0 {
				t.Fatalf("filter called again: %v", rec.calls)
			}
		})
		t.Run("and the next stream is served normally", func(t *testing.T) {
			rec.panicIn = ""
			d.contextCreate(3, 1)
			if got := d.streamCallback(onRequestHeaders, 3, 1, true); got != types.ActionContinue {
				t.Fatalf("action = %v", got)
			}
			if len(h.sent500) != 1 {
				t.Fatalf("500s sent = %v", h.sent500)
			}
		})
	})
	t.Run("a panicking response callback also gets a 500", func(t *testing.T) {
		rec := &recorder{panicIn: "response_body", action: types.ActionContinue}
		d, h := newTestDispatcher(t, rec)
		if got := d.streamCallback(onResponseBody, 2, 10, true); got != types.ActionPause {
			t.Fatalf("action = %v", got)
		}
		if len(h.sent500) != 1 {
			t.Fatalf("500s = %v", h.sent500)
		}
	})
	t.Run("a panicking callout callback answers the waiting stream with a 500", func(t *testing.T) {
		rec := &recorder{panicIn: "callout", action: types.ActionPause}
		d, h := newTestDispatcher(t, rec)
		d.streamCallback(onRequestHeaders, 2, 1, true)
		h.current = 1 // the host calls back on the root context
		d.httpCallResponse(1, 77, 1, 0, 0)
		if len(h.sent500) != 1 || h.sent500[0] != 2 {
			t.Fatalf("500s sent on %v, want [2]", h.sent500)
		}
		if !hasLog(h, "critical", "panic in proxy_on_http_call_response (token 77) on context 1: callout boom") {
			t.Fatalf("logs = %v", h.logs)
		}
	})
	t.Run("the 500 goes to the panicking stream even after the filter switched context", func(t *testing.T) {
		rec := &recorder{panicIn: "request_headers"}
		d, h := newTestDispatcher(t, rec)
		d.contextCreate(3, 1)
		rec.switchTo = 3 // the callback calls SetEffectiveContext(3), then panics
		h.current = 2    // the host runs stream 2's callback
		d.streamCallback(onRequestHeaders, 2, 1, true)
		if len(h.sent500) != 1 || h.sent500[0] != 2 {
			t.Fatalf("500s sent on %v, want [2]", h.sent500)
		}
	})
	t.Run("a panicking callout for a stream the host no longer knows is only logged", func(t *testing.T) {
		rec := &recorder{panicIn: "callout", action: types.ActionPause}
		d, h := newTestDispatcher(t, rec)
		d.streamCallback(onRequestHeaders, 2, 1, true)
		h.goneIDs[2] = true
		d.httpCallResponse(1, 77, 0, 0, 0)
		if len(h.sent500) != 0 {
			t.Fatalf("500s = %v", h.sent500)
		}
		if !hasLog(h, "error", "stream 2 is gone; no 500 sent") {
			t.Fatalf("logs = %v", h.logs)
		}
	})
	t.Run("a panicking callout for a gone stream is only logged", func(t *testing.T) {
		rec := &recorder{panicIn: "callout", action: types.ActionPause}
		d, h := newTestDispatcher(t, rec)
		d.streamCallback(onRequestHeaders, 2, 1, true)
		d.delete(2)
		d.httpCallResponse(1, 77, 0, 0, 0)
		if len(h.sent500) != 0 {
			t.Fatalf("500s = %v", h.sent500)
		}
		if !hasLog(h, "critical", "callout boom") {
			t.Fatalf("logs = %v", h.logs)
		}
	})
	rootCases := []struct {
		name, panicIn string
		run           func(d *dispatcher) bool
		want          bool
	}{
		{"a panicking OnVMStart is logged and fails vm_start", "vm_start", func(d *dispatcher) bool { return d.vmStart(1, 0) }, false},
		{"a panicking OnPluginStart is logged and fails configure", "plugin_start", func(d *dispatcher) bool { return d.configure(1, 0) }, false},
		{"a panicking OnPluginDone is logged and answers done", "plugin_done", func(d *dispatcher) bool { return d.done(1) }, true},
		{"a panicking OnTick is logged", "tick", func(d *dispatcher) bool { d.tick(1); return true }, true},
		{"a panicking OnQueueReady is logged", "queue_ready", func(d *dispatcher) bool { d.queueReady(1, 1); return true }, true},
		{"a panicking NewHttpContext is logged", "new_http", func(d *dispatcher) bool { d.contextCreate(4, 1); return true }, true},
		{"a panicking OnHttpStreamDone is logged", "stream_done", func(d *dispatcher) bool { d.logStream(2); return true }, true},
	}
	for _, tt := range rootCases {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			d, h := newTestDispatcher(t, rec)
			rec.panicIn = tt.panicIn
			if got := tt.run(d); got != tt.want {
				t.Fatalf("result = %v, want %v", got, tt.want)
			}
			if !hasLog(h, "critical", "boom in "+tt.panicIn) {
				t.Fatalf("logs = %v", h.logs)
			}
			if len(h.sent500) != 0 {
				t.Fatalf("root panic sent a 500: %v", h.sent500)
			}
		})
	}
}

func TestDispatchCallouts(t *testing.T) {
	rec := &recorder{}
	d, h := newTestDispatcher(t, rec)
	var got []int
	d.current = 2
	d.addCallout(5, func(n, b, tr int) { got = append(got, n, b, tr, int(d.current)) })
	t.Run("the callback runs once on the root context with the answer's sizes", func(t *testing.T) {
		d.httpCallResponse(1, 5, 3, 40, 0)
		d.httpCallResponse(1, 5, 3, 40, 0)
		if len(got) != 4 || got[0] != 3 || got[1] != 40 || got[2] != 0 || got[3] != 1 {
			t.Fatalf("callback saw %v, want one call (3, 40, 0) on root 1", got)
		}
		if !hasLog(h, "warn", "unknown callout token 5") {
			t.Fatalf("second answer not logged: %v", h.logs)
		}
	})
	t.Run("the callout remembers the context that dispatched it", func(t *testing.T) {
		d.current = 2
		d.addCallout(6, nil)
		if d.callouts[6].origin != 2 {
			t.Fatalf("origin = %d", d.callouts[6].origin)
		}
		d.httpCallResponse(1, 6, 0, 0, 0) // a nil callback is tolerated
	})
}

func TestPanicText(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"a string is itself", "x", "x"},
		{"an error is its message", errors.New("e"), "e"},
		{"an int is its digits", 42, "42"},
		{"a uint32 is its digits", uint32(7), "7"},
		{"an unknown type says so", struct{}{}, "(panic value of a type without a text form)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := panicText(tt.v); got != tt.want {
				t.Fatalf("panicText = %q, want %q", got, tt.want)
			}
		})
	}
}

// recyclingPlugin is a pluginRec that takes back its streams' contexts.
type recyclingPlugin struct {
	pluginRec
	recycled []types.HttpContext
}

func (p *recyclingPlugin) RecycleHttpContext(c types.HttpContext) {
	p.r.note("recycle")
	p.recycled = append(p.recycled, c)
}

// recyclingVM makes recyclingPlugins.
type recyclingVM struct {
	*recorder
	plugin *recyclingPlugin
}

func (v *recyclingVM) NewPluginContext(uint32) types.PluginContext {
	v.plugin = &recyclingPlugin{pluginRec: pluginRec{v.recorder}}
	return v.plugin
}

func TestDispatchRecyclesDeletedStreams(t *testing.T) {
	start := func(t *testing.T) (*dispatcher, *recyclingVM, *fakeHost) {
		rec := &recorder{started: true}
		vm := &recyclingVM{recorder: rec}
		h := &fakeHost{goneIDs: map[uint32]bool{}}
		d := newDispatcher(h)
		rec.d, d.vm = d, vm
		d.contextCreate(1, 0)
		if !d.configure(1, 0) {
			t.Fatal("configure failed")
		}
		rec.calls = nil
		return d, vm, h
	}
	t.Run("a deleted stream's context goes back to its root, after OnHttpStreamDone", func(t *testing.T) {
		d, vm, _ := start(t)
		d.contextCreate(2, 1)
		s, _ := d.streams.get(2)
		ctx := s.ctx
		d.streamCallback(onRequestHeaders, 2, 1, true)
		d.logStream(2)
		d.delete(2)
		if got := strings.Join(vm.calls, " "); got != "new_http request_headers stream_done recycle" {
			t.Fatalf("calls = %s", got)
		}
		if len(vm.plugin.recycled) != 1 || vm.plugin.recycled[0] != ctx {
			t.Fatalf("recycled %v, want the stream's context", vm.plugin.recycled)
		}
	})
	t.Run("a stream deleted without proxy_on_log is done first", func(t *testing.T) {
		d, vm, _ := start(t)
		d.contextCreate(2, 1)
		d.delete(2)
		if got := strings.Join(vm.calls, " "); got != "new_http stream_done recycle" {
			t.Fatalf("calls = %s", got)
		}
	})
	t.Run("an orphan stream and a root context are not recycled", func(t *testing.T) {
		d, vm, _ := start(t)
		d.contextCreate(3, 42) // unknown root: an orphan
		d.delete(3)
		d.delete(1)
		if len(vm.plugin.recycled) != 0 {
			t.Fatalf("recycled %v", vm.plugin.recycled)
		}
	})
	t.Run("a panic while recycling is logged, not raised", func(t *testing.T) {
		d, vm, h := start(t)
		d.contextCreate(2, 1)
		vm.panicIn = "recycle"
		d.delete(2)
		if !hasLog(h, "critical", "boom in recycle") {
			t.Fatalf("logs = %v", h.logs)
		}
	})
}
