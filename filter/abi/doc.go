// Package abi is scopegate's proxy-wasm binding for standard Go.
//
// The proxy-wasm Go SDK (v0.24.0) implements its host calls and exports only
// for TinyGo. This package offers the same calls, with the same names and
// signatures as the SDK's proxywasm package, in two builds:
//
//   - GOOS=wasip1: a wasmexport directive for every ABI v0.2.1 callback
//     (exports_wasip1.go) and a wasmimport directive from module env for
//     every host call (imports_wasip1.go, calls_wasip1.go).
//   - any other GOOS: each call forwards to the SDK's proxywasm package, so
//     filter code runs natively under the SDK's proxytest emulator (native.go).
//
// The parts both builds share — header-map encoding, the arena that keeps
// host-returned memory reachable, and the dispatcher that routes callbacks
// to contexts and turns panics into safe answers — are plain Go, tested
// natively.
//
// Filter code imports this package instead of proxywasm and is written
// against the SDK's types.VMContext / PluginContext / HttpContext.
package abi
