// Package abi is scopegate's proxy-wasm binding for standard Go.
//
// The proxy-wasm Go SDK (v0.24.0) implements its host calls and exports only
// for TinyGo. This package offers the same calls, with the same names and
// signatures as the SDK's proxywasm package, in two builds:
//
//   - GOOS=wasip1: go:wasmexport for every ABI v0.2.1 callback and
//     go:wasmimport env for every host call (wasm.go and friends).
//   - any other GOOS: each call forwards to the SDK's proxywasm package, so
//     filter code runs natively under the SDK's proxytest emulator (native.go).
//
// Filter code imports this package instead of proxywasm and is written
// against the SDK's types.VMContext / PluginContext / HttpContext.
package abi
