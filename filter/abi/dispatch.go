package abi

import (
	"runtime/debug"
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// hostOps are the host calls the dispatcher itself makes: logging, and the
// local 500 that answers a stream whose callback panicked. The wasm build
// implements them with host imports; tests use a fake.
type hostOps interface {
	log(level LogLevel, msg string)
	setEffectiveContext(contextID uint32) error
	sendInternalError() error
}

// streamEvent names an HTTP stream callback (used in dispatch and in panic logs).
type streamEvent uint8

const (
	onRequestHeaders streamEvent = iota
	onRequestBody
	onRequestTrailers
	onResponseHeaders
	onResponseBody
	onResponseTrailers
)

var streamEventNames = [...]string{
	onRequestHeaders:   "proxy_on_request_headers",
	onRequestBody:      "proxy_on_request_body",
	onRequestTrailers:  "proxy_on_request_trailers",
	onResponseHeaders:  "proxy_on_response_headers",
	onResponseBody:     "proxy_on_response_body",
	onResponseTrailers: "proxy_on_response_trailers",
}

// stream is one HTTP context and the root (plugin) context it belongs to.
type stream struct {
	ctx  types.HttpContext
	root uint32
	// recycler is the root's, when it takes back the contexts of deleted
	// streams (HttpContextRecycler).
	recycler HttpContextRecycler
	// failed is set once a callback panicked and the stream was answered
	// with a 500; later callbacks (e.g. for that local reply) pass through.
	failed bool
	// orphan marks a stream the filter has no context for because creating
	// it failed (a panic in NewHttpContext, an unknown root): it must not
	// reach the upstream unfiltered, so its request headers get a 500.
	orphan bool
	// done is set once OnHttpStreamDone ran (proxy_on_log), so a repeated
	// proxy_on_log does not call it twice.
	done bool
}

// callout is a pending HTTP callout: the callback to run on the root
// context, and the context that dispatched it (answered with a 500 if the
// callback panics while that stream is still waiting).
type callout struct {
	cb     func(numHeaders, bodySize, numTrailers int)
	origin uint32
}

// dispatcher routes every ABI callback to the VM, plugin and HTTP contexts
// the filter registered. Each entry point recovers panics so a filter bug
// never traps the VM: Envoy would otherwise fail every later request on
// that worker until the VM is recreated.
type dispatcher struct {
	host     hostOps
	vm       types.VMContext
	roots    map[uint32]rootContext
	streams  streamTable
	callouts map[uint32]callout
	// current is the context host calls act on: the callback's context,
	// or the one last passed to SetEffectiveContext.
	current uint32
}

func newDispatcher(h hostOps) *dispatcher {
	return &dispatcher{
		host:     h,
		roots:    map[uint32]rootContext{},
		callouts: map[uint32]callout{},
	}
}

// contextCreate handles proxy_on_context_create: parent 0 creates a root
// (plugin) context, anything else an HTTP context of that root.
func (d *dispatcher) contextCreate(id, parent uint32) {
	d.current = id
	defer d.recoverRoot("proxy_on_context_create", id)
	if parent == 0 {
		if d.vm == nil {
			d.host.log(LogLevelCritical, "abi: proxy_on_context_create before SetVMContext; call abi.SetVMContext in init()")
			return
		}
		if pc := d.vm.NewPluginContext(id); pc != nil {
			r, _ := pc.(HttpContextRecycler)
			d.roots[id] = rootContext{PluginContext: pc, recycler: r}
		}
		return
	}
	// Fail closed until the filter has a context for this stream: if
	// NewHttpContext panics (recovered by recoverRoot) or the root is
	// unknown, the stream stays an orphan and is answered 500.
	d.streams.set(id, stream{root: parent, orphan: true})
	root, ok := d.roots[parent]
	if !ok {
		d.host.log(LogLevelError, "abi: context "+utoa(id)+" created under unknown root "+utoa(parent))
		return
	}
	// A nil HttpContext (e.g. a plugin that only does TCP) leaves the
	// stream unregistered; its callbacks then continue untouched.
	if hc := root.NewHttpContext(id); hc != nil {
		d.streams.set(id, stream{ctx: hc, root: parent, recycler: root.recycler})
	} else {
		d.streams.remove(id)
	}
}

// vmStart handles proxy_on_vm_start.
func (d *dispatcher) vmStart(root uint32, size int) (ok bool) {
	d.current = root
	defer d.recoverRoot("proxy_on_vm_start", root)
	if d.vm == nil {
		d.host.log(LogLevelCritical, "abi: proxy_on_vm_start before SetVMContext; call abi.SetVMContext in init()")
		return false
	}
	return bool(d.vm.OnVMStart(size))
}

// configure handles proxy_on_configure.
func (d *dispatcher) configure(root uint32, size int) (ok bool) {
	d.current = root
	defer d.recoverRoot("proxy_on_configure", root)
	pc, found := d.roots[root]
	if !found {
		d.host.log(LogLevelError, "abi: proxy_on_configure for unknown root context "+utoa(root))
		return false
	}
	return bool(pc.OnPluginStart(size))
}

// tick handles proxy_on_tick.
func (d *dispatcher) tick(root uint32) {
	d.current = root
	defer d.recoverRoot("proxy_on_tick", root)
	if pc, ok := d.roots[root]; ok {
		pc.OnTick()
	}
}

// queueReady handles proxy_on_queue_ready.
func (d *dispatcher) queueReady(root, queueID uint32) {
	d.current = root
	defer d.recoverRoot("proxy_on_queue_ready", root)
	if pc, ok := d.roots[root]; ok {
		pc.OnQueueReady(queueID)
	}
}

// done handles proxy_on_done. Streams are always done at once; a root
// context answers with its OnPluginDone (false: it will call PluginDone).
func (d *dispatcher) done(id uint32) (ok bool) {
	d.current = id
	ok = true
	defer d.recoverRoot("proxy_on_done", id)
	if pc, found := d.roots[id]; found {
		return pc.OnPluginDone()
	}
	return true
}

// logStream handles proxy_on_log: the stream's OnHttpStreamDone, once. It
// may come before or after proxy_on_done, so nothing depends on the order.
func (d *dispatcher) logStream(id uint32) {
	d.current = id
	defer d.recoverRoot("proxy_on_log", id)
	s, ok := d.streams.get(id)
	if !ok || s.done {
		return
	}
	s.done = true
	d.streams.set(id, s)
	s.ctx.OnHttpStreamDone()
}

// delete handles proxy_on_delete: the context is forgotten. Callouts the
// stream dispatched stay registered; their answer still runs on the root.
func (d *dispatcher) delete(id uint32) {
	// A stream deleted without proxy_on_log still gets its OnHttpStreamDone,
	// so the filter can forget it (e.g. a request parked for keys).
	s, isStream := d.streams.get(id)
	if isStream && !s.done && s.ctx != nil {
		d.logStream(id)
	}
	if isStream {
		d.streams.remove(id)
	} else {
		delete(d.roots, id)
	}
	if d.current == id {
		d.current = 0
	}
	if isStream && s.recycler != nil && s.ctx != nil {
		d.recycle(id, s)
	}
}

// rootContext is a plugin context and, when it has one, its recycler.
type rootContext struct {
	types.PluginContext
	recycler HttpContextRecycler
}

// HttpContextRecycler is a plugin context that takes back the HTTP
// contexts of its deleted streams (proxy_on_delete, after
// OnHttpStreamDone): the host names a deleted stream in no callback again,
// so its context may serve a later stream and a request need allocate
// none. The SDK has no such callback, so natively (under proxytest) it is
// never called.
type HttpContextRecycler interface {
	RecycleHttpContext(types.HttpContext)
}

func (d *dispatcher) recycle(id uint32, s stream) {
	defer d.recoverRoot("proxy_on_delete", id)
	s.recycler.RecycleHttpContext(s.ctx)
}

// streamCallback handles the six HTTP stream callbacks.
func (d *dispatcher) streamCallback(ev streamEvent, id uint32, size int, eos bool) (act types.Action) {
	d.current = id
	s, ok := d.streams.get(id)
	if !ok {
		return types.ActionContinue
	}
	if s.failed {
		// The stream was answered with a 500. Its response callbacks pass
		// that reply through; its request ones must hold, since Envoy takes
		// Continue from a body or trailers callback as "continue the
		// stopped headers too".
		if ev == onRequestBody || ev == onRequestTrailers {
			return types.ActionPause
		}
		return types.ActionContinue
	}
	if s.orphan {
		return d.orphanStream(ev, id)
	}
	defer func() {
		if r := recover(); r != nil {
			act = d.streamPanicked(streamEventNames[ev], id, id, r)
		}
	}()
	switch ev {
	case onRequestHeaders:
		return s.ctx.OnHttpRequestHeaders(size, eos)
	case onRequestBody:
		return s.ctx.OnHttpRequestBody(size, eos)
	case onRequestTrailers:
		return s.ctx.OnHttpRequestTrailers(size)
	case onResponseHeaders:
		return s.ctx.OnHttpResponseHeaders(size, eos)
	case onResponseBody:
		return s.ctx.OnHttpResponseBody(size, eos)
	case onResponseTrailers:
		return s.ctx.OnHttpResponseTrailers(size)
	}
	return types.ActionContinue
}

// addCallout registers the callback for a dispatched callout's token,
// remembering the context that dispatched it.
func (d *dispatcher) addCallout(token uint32, cb func(numHeaders, bodySize, numTrailers int)) {
	d.callouts[token] = callout{cb: cb, origin: d.current}
}

// httpCallResponse handles proxy_on_http_call_response: the token's
// callback runs once, on the root context.
func (d *dispatcher) httpCallResponse(root, token uint32, numHeaders, bodySize, numTrailers int) {
	d.current = root
	c, ok := d.callouts[token]
	if !ok {
		d.host.log(LogLevelWarn, "abi: answer for unknown callout token "+utoa(token))
		return
	}
	delete(d.callouts, token)
	if c.cb == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			d.calloutPanicked(root, token, c.origin, r)
		}
	}()
	c.cb(numHeaders, bodySize, numTrailers)
}

// calloutPanicked logs a callout callback's panic and, if the stream that
// dispatched the callout still exists, answers it with a 500 so it does
// not hang paused until the proxy's timeout.
func (d *dispatcher) calloutPanicked(root, token, origin uint32, r any) {
	where := "proxy_on_http_call_response (token " + utoa(token) + ")"
	if s, ok := d.streams.get(origin); ok && !s.failed {
		d.streamPanicked(where, root, origin, r)
		return
	}
	d.host.log(LogLevelCritical, panicReport(where, root, r, debug.Stack()))
}

// streamPanicked logs a panic that hit stream id and answers the stream
// with a local 500. It returns PAUSE: a stream whose filter failed must
// never continue to the upstream.
func (d *dispatcher) streamPanicked(where string, ctxID, streamID uint32, r any) types.Action {
	d.host.log(LogLevelCritical, panicReport(where, ctxID, r, debug.Stack()))
	if s, ok := d.streams.get(streamID); ok {
		s.failed = true
		d.streams.set(streamID, s)
	}
	// The 500 must reach this stream even if the filter had switched the
	// effective context (or we are on the root, answering a callout).
	if d.current != streamID {
		if err := d.host.setEffectiveContext(streamID); err != nil {
			d.host.log(LogLevelError, "abi: stream "+utoa(streamID)+" is gone; no 500 sent: "+err.Error())
			return types.ActionPause
		}
		d.current = streamID
	}
	if err := d.host.sendInternalError(); err != nil {
		d.host.log(LogLevelError, "abi: sending the 500 for context "+utoa(streamID)+" failed: "+err.Error())
	}
	return types.ActionPause
}

// orphanStream answers the first callback of a stream whose context could
// not be created with a 500 (never a continue), like a panicking callback.
func (d *dispatcher) orphanStream(ev streamEvent, id uint32) types.Action {
	s, _ := d.streams.get(id)
	s.orphan, s.failed = false, true
	d.streams.set(id, s)
	d.host.log(LogLevelCritical, "abi: stream "+utoa(id)+" has no filter context; answering 500 on "+streamEventNames[ev])
	if err := d.host.sendInternalError(); err != nil {
		d.host.log(LogLevelError, "abi: sending the 500 for context "+utoa(id)+" failed: "+err.Error())
	}
	return types.ActionPause
}

// recoverRoot is deferred by the root-context callbacks: it logs a panic
// and lets the callback return its (safe) zero or preset result. Deferred
// directly, so recover sees the panic.
func (d *dispatcher) recoverRoot(where string, id uint32) {
	if r := recover(); r != nil {
		d.host.log(LogLevelCritical, panicReport(where, id, r, debug.Stack()))
	}
}

// panicReport is the log line for a recovered panic: where, on which
// context, the value and the goroutine's stack.
func panicReport(where string, id uint32, r any, stack []byte) string {
	return "abi: panic in " + where + " on context " + utoa(id) + ": " + panicText(r) + "\n" + string(stack)
}

// panicText renders a panic value without fmt (kept out of the module).
func panicText(r any) string {
	switch v := r.(type) {
	case string:
		return v
	case error:
		return v.Error()
	case interface{ String() string }:
		return v.String()
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	}
	return "(panic value of a type without a text form)"
}

func utoa(x uint32) string { return strconv.FormatUint(uint64(x), 10) }
