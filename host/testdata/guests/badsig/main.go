//go:build wasip1

// Command badsig exports proxy_on_request_headers with an i64 end_of_stream
// parameter; Envoy requires (i32, i32, i32) -> i32 and refuses to load it.
package main

import "unsafe"

func main() {}

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

var keep [][]byte

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) unsafe.Pointer {
	b := make([]byte, size+1)
	keep = append(keep, b)
	return unsafe.Pointer(&b[0])
}

//go:wasmexport proxy_on_context_create
func onContextCreate(ctxID, parent uint32) {}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(ctxID, n uint32, eos uint64) uint32 { return 0 }
