//go:build wasip1 && !abi020

package guestabi

// The ABI marker: guests speak proxy-wasm 0.2.1 unless built with tag abi020.
//
//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}
