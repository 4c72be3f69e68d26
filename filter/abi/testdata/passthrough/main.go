//go:build wasip1

// Command passthrough is the smallest HTTP filter on the abi binding: it
// continues every request untouched. It is the benchmark floor (the cost
// of the binding and the host alone) and a smoke test of the exports.
package main

import (
	"github.com/scopegate/scopegate/filter/abi"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { abi.SetVMContext(&vmContext{}) }

// main is never called in a c-shared (reactor) module.
func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(uint32) types.PluginContext { return &pluginContext{} }

type pluginContext struct{ types.DefaultPluginContext }

func (*pluginContext) NewHttpContext(uint32) types.HttpContext { return stateless }

// httpContext continues every callback (the DefaultHttpContext behaviour).
// It holds no state, so every stream shares one and creating a stream
// allocates nothing in the filter.
type httpContext struct{ types.DefaultHttpContext }

var stateless = &httpContext{}
