//go:build wasip1

package abi

import "unsafe"

// The host calls these functions through their go:wasmexport names, which
// staticcheck does not see.
//lint:file-ignore U1000 go:wasmexport functions are called by the host

// ABI v0.2.1 callbacks. Each is a thin shim over the dispatcher, which
// recovers panics; all parameters and results are i32.

// proxyABIVersion marks the module as proxy-wasm ABI v0.2.1. Hosts look
// for the export's name; it is never called.
//
//go:wasmexport proxy_abi_version_0_2_1
func proxyABIVersion() {}

// proxyOnMemoryAllocate is the allocator the host uses to return data
// (Envoy tries malloc first, then this). The memory lives in the arena
// until the next host call that returns data.
//
//go:wasmexport proxy_on_memory_allocate
func proxyOnMemoryAllocate(size uint32) (ptr uint32) {
	// An impossible size panics in make; answer 0 (allocation failed)
	// rather than trap the VM.
	defer func() {
		if recover() != nil {
			ptr = 0
		}
	}()
	m := results.alloc(int(size))
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(m))))
}

//go:wasmexport proxy_on_context_create
func proxyOnContextCreate(contextID, parentID uint32) {
	enter()
	disp.contextCreate(contextID, parentID)
}

//go:wasmexport proxy_on_vm_start
func proxyOnVMStart(rootID, vmConfigSize uint32) uint32 {
	enter()
	return b2u(disp.vmStart(rootID, int(vmConfigSize)))
}

//go:wasmexport proxy_on_configure
func proxyOnConfigure(rootID, pluginConfigSize uint32) uint32 {
	enter()
	return b2u(disp.configure(rootID, int(pluginConfigSize)))
}

//go:wasmexport proxy_on_tick
func proxyOnTick(rootID uint32) {
	enter()
	disp.tick(rootID)
}

//go:wasmexport proxy_on_queue_ready
func proxyOnQueueReady(rootID, queueID uint32) {
	enter()
	disp.queueReady(rootID, queueID)
}

//go:wasmexport proxy_on_done
func proxyOnDone(contextID uint32) uint32 {
	enter()
	return b2u(disp.done(contextID))
}

//go:wasmexport proxy_on_log
func proxyOnLog(contextID uint32) {
	enter()
	disp.logStream(contextID)
}

//go:wasmexport proxy_on_delete
func proxyOnDelete(contextID uint32) {
	enter()
	disp.delete(contextID)
}

//go:wasmexport proxy_on_request_headers
func proxyOnRequestHeaders(contextID, numHeaders, endOfStream uint32) uint32 {
	enter()
	return uint32(disp.streamCallback(onRequestHeaders, contextID, int(numHeaders), endOfStream != 0))
}

//go:wasmexport proxy_on_request_body
func proxyOnRequestBody(contextID, bodySize, endOfStream uint32) uint32 {
	enter()
	return uint32(disp.streamCallback(onRequestBody, contextID, int(bodySize), endOfStream != 0))
}

//go:wasmexport proxy_on_request_trailers
func proxyOnRequestTrailers(contextID, numTrailers uint32) uint32 {
	enter()
	return uint32(disp.streamCallback(onRequestTrailers, contextID, int(numTrailers), true))
}

//go:wasmexport proxy_on_response_headers
func proxyOnResponseHeaders(contextID, numHeaders, endOfStream uint32) uint32 {
	enter()
	return uint32(disp.streamCallback(onResponseHeaders, contextID, int(numHeaders), endOfStream != 0))
}

//go:wasmexport proxy_on_response_body
func proxyOnResponseBody(contextID, bodySize, endOfStream uint32) uint32 {
	enter()
	return uint32(disp.streamCallback(onResponseBody, contextID, int(bodySize), endOfStream != 0))
}

//go:wasmexport proxy_on_response_trailers
func proxyOnResponseTrailers(contextID, numTrailers uint32) uint32 {
	enter()
	return uint32(disp.streamCallback(onResponseTrailers, contextID, int(numTrailers), true))
}

//go:wasmexport proxy_on_http_call_response
func proxyOnHTTPCallResponse(rootID, token, numHeaders, bodySize, numTrailers uint32) {
	enter()
	disp.httpCallResponse(rootID, token, int(numHeaders), int(bodySize), int(numTrailers))
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// enter runs at the start of every callback: host calls are allowed from
// now on, and the remembered log level is forgotten (Envoy's level can
// change at runtime).
func enter() {
	started = true
	logLevelKnown = false
}
