//go:build !scopegate_gchook

package main

import "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

// wrapVM returns the filter's VM context unchanged. With the test-only build
// tag scopegate_gchook it is replaced by gchook.go's wrapper.
func wrapVM(vm types.VMContext) types.VMContext { return vm }
