//go:build wasip1

// Command gcguest is the smallest filter that reproduces golang/go#78513 in a
// proxy whose poll_oneoff answers ENOSYS: every request allocates 64 KiB
// (keeping the last 8 alive) and every 100th calls runtime.GC(). Blocking in runtime.GC lets the GC's
// background scavenger park on its timer, which starts the netpoller; from
// then on each GC cycle ends with netpoll(0) -> poll_oneoff. Without the
// runtime overlay that is "fatal error: poll_oneoff failed" after a few
// hundred requests; with it the guest runs clean. Test-only: real filter
// code must never call runtime.GC().
package main

import (
	"runtime"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { abi.SetVMContext(&vmContext{}) }

// main is never called in a c-shared (reactor) module.
func main() {}

const (
	allocBytes = 64 << 10 // garbage per request
	gcEvery    = 100      // requests between runtime.GC() calls
	// live is how many allocations stay reachable. A small live heap that
	// the GC then shrinks gives the background scavenger work, so it runs
	// and parks on its timer; with only one allocation alive it may have
	// nothing to do and the reproduction would depend on luck.
	live = 8
)

var (
	requests int
	// ring keeps the latest live allocations reachable; older ones become garbage.
	ring [live][]byte
)

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return &httpContext{} }

type httpContext struct{ types.DefaultHttpContext }

func (*httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	requests++
	b := make([]byte, allocBytes)
	b[requests%allocBytes] = byte(requests)
	ring[requests%live] = b
	if requests%gcEvery == 0 {
		runtime.GC()
	}
	return types.ActionContinue
}
