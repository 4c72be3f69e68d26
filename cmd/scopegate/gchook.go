//go:build scopegate_gchook

package main

// Test-only (build tag scopegate_gchook): forces, every gcHookEvery requests,
// exactly what the real filter must never do, so e2e/enosys_test.go can prove
// that the runtime overlay (internal/overlay) keeps the VM alive when
// poll_oneoff answers ENOSYS (Envoy 1.33-1.38, golang/go#78513), and that a
// build without it dies. Never ship a module built with this tag.

import (
	"runtime"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// gcHookEvery is how many HTTP requests pass between two forced triggers.
const gcHookEvery = 20

// gcHookRequests counts HTTP requests in this VM (one goroutine runs the VM).
var gcHookRequests int

// wrapVM wraps the filter's VM context so that every gcHookEvery-th request
// starts the netpoller and runs a GC before the filter sees the request.
func wrapVM(vm types.VMContext) types.VMContext { return gcHookVM{vm} }

type gcHookVM struct{ types.VMContext }

func (v gcHookVM) NewPluginContext(id uint32) types.PluginContext {
	return gcHookPlugin{v.VMContext.NewPluginContext(id)}
}

type gcHookPlugin struct{ types.PluginContext }

func (p gcHookPlugin) NewHttpContext(id uint32) types.HttpContext {
	hc := p.PluginContext.NewHttpContext(id)
	if hc == nil {
		return nil
	}
	return gcHookHTTP{hc}
}

type gcHookHTTP struct{ types.HttpContext }

func (h gcHookHTTP) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	gcHookRequests++
	if gcHookRequests%gcHookEvery == 0 {
		forceNetpoller()
	}
	return h.HttpContext.OnHttpRequestHeaders(numHeaders, endOfStream)
}

// forceNetpoller does two of the triggers. The sleep arms a runtime
// timer, which starts the netpoller, and parks the request goroutine, so the
// scheduler polls (poll_oneoff) until the timer fires. runtime.GC() blocks
// the goroutine too, and its stop/start of the world ends with netpoll(0):
// the call that kills every Envoy 1.33-1.38 VM once the netpoller runs.
func forceNetpoller() {
	time.Sleep(time.Microsecond)
	runtime.GC()
}
