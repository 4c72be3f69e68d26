//go:build wasip1 && abi020

package guestabi

// The ABI marker for proxy-wasm 0.2.0 (build tag abi020).
//
//go:wasmexport proxy_abi_version_0_2_0
func abiVersion() {}
