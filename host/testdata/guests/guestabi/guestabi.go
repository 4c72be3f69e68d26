//go:build wasip1

// Package guestabi is a minimal raw proxy-wasm 0.2.1 binding for the host's
// test guests. It is deliberately independent of filter/abi so the host can
// be tested on its own.
package guestabi

import "unsafe"

// Hooks a guest sets in init (plain assignments only: no host calls there).
var (
	OnConfigure       func(config []byte) bool
	OnRequestHeaders  func(ctxID uint32) uint32
	OnRequestBody     func(ctxID, size uint32) uint32
	OnResponseHeaders func(ctxID uint32) uint32
	OnCalloutResponse func(token, nheaders, bodySize uint32)
	OnTick            func()
	OnLog             func(ctxID uint32)
	OnDone            func(ctxID uint32)
	// OnAllocate runs inside the allocator (to test Envoy's restrictions there).
	OnAllocate func()
)

// RootID is the root context id.
var RootID uint32

// allocs keeps host-bound allocations reachable until the next callback.
var allocs [][]byte

//go:wasmexport proxy_on_memory_allocate
func onMemoryAllocate(size uint32) unsafe.Pointer {
	if OnAllocate != nil {
		OnAllocate()
	}
	b := make([]byte, size+1)
	allocs = append(allocs, b)
	return unsafe.Pointer(&b[0])
}

func enter() { allocs = allocs[:0] }

//go:wasmexport proxy_on_context_create
func onContextCreate(ctxID, parent uint32) {
	enter()
	if parent == 0 {
		RootID = ctxID
	}
}

//go:wasmexport proxy_on_vm_start
func onVMStart(root, size uint32) uint32 { return 1 }

//go:wasmexport proxy_on_configure
func onConfigure(root, size uint32) uint32 {
	enter()
	if OnConfigure == nil {
		return 1
	}
	if OnConfigure(GetBuffer(7, size)) {
		return 1
	}
	return 0
}

//go:wasmexport proxy_on_request_headers
func onRequestHeaders(ctxID, n, eos uint32) uint32 {
	enter()
	if OnRequestHeaders == nil {
		return 0
	}
	return OnRequestHeaders(ctxID)
}

//go:wasmexport proxy_on_request_body
func onRequestBody(ctxID, size, eos uint32) uint32 {
	enter()
	if OnRequestBody == nil {
		return 0
	}
	return OnRequestBody(ctxID, size)
}

//go:wasmexport proxy_on_response_headers
func onResponseHeaders(ctxID, n, eos uint32) uint32 {
	enter()
	if OnResponseHeaders == nil {
		return 0
	}
	return OnResponseHeaders(ctxID)
}

//go:wasmexport proxy_on_http_call_response
func onHTTPCallResponse(root, token, nh, nb, nt uint32) {
	enter()
	if OnCalloutResponse != nil {
		OnCalloutResponse(token, nh, nb)
	}
}

//go:wasmexport proxy_on_tick
func onTick(root uint32) {
	enter()
	if OnTick != nil {
		OnTick()
	}
}

//go:wasmexport proxy_on_log
func onLog(ctxID uint32) {
	enter()
	if OnLog != nil {
		OnLog(ctxID)
	}
}

//go:wasmexport proxy_on_done
func onDone(ctxID uint32) uint32 {
	enter()
	if OnDone != nil {
		OnDone(ctxID)
	}
	return 1
}

//go:wasmexport proxy_on_delete
func onDelete(ctxID uint32) {}

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bt, start, max uint32, ptr *uint32, size *uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32, ptr *uint32, size *uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32, val unsafe.Pointer, valSize uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(status uint32, details unsafe.Pointer, detailsSize uint32, body unsafe.Pointer, bodySize uint32, headers unsafe.Pointer, headersSize uint32, grpc int32) uint32

//go:wasmimport env proxy_http_call
func proxyHTTPCall(up unsafe.Pointer, upSize uint32, hdrs unsafe.Pointer, hdrsSize uint32, body unsafe.Pointer, bodySize uint32, trl unsafe.Pointer, trlSize uint32, timeout uint32, token *uint32) uint32

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(id uint32) uint32

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(st uint32) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(kind uint32, name unsafe.Pointer, size uint32, id *uint32) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key unsafe.Pointer, keySize uint32, ptr *uint32, size *uint32, cas *uint32) uint32

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key unsafe.Pointer, keySize uint32, val unsafe.Pointer, valSize uint32, cas uint32) uint32

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriod(ms uint32) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(path unsafe.Pointer, size uint32, ptr *uint32, rsize *uint32) uint32

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func sptr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

// bytesAt finds the allocation the host returned at address p.
func bytesAt(p uint32, n uint32) []byte {
	if p == 0 || n == 0 {
		return nil
	}
	for _, b := range allocs {
		if uint32(uintptr(unsafe.Pointer(&b[0]))) == p {
			return append([]byte(nil), b[:n]...)
		}
	}
	return nil
}

// Log writes a message at info level (2).
func Log(msg string) { proxyLog(2, sptr(msg), uint32(len(msg))) }

// GetBuffer reads size bytes of buffer bt.
func GetBuffer(bt, size uint32) []byte {
	var p uint32
	var n uint32
	if proxyGetBufferBytes(bt, 0, size, &p, &n) != 0 {
		return nil
	}
	return bytesAt(p, n)
}

// Header returns a header of map mt.
func Header(mt uint32, key string) (string, bool) {
	var p uint32
	var n uint32
	if proxyGetHeaderMapValue(mt, sptr(key), uint32(len(key)), &p, &n) != 0 {
		return "", false
	}
	return string(bytesAt(p, n)), true
}

// SetHeader replaces a header of map mt.
func SetHeader(mt uint32, key, val string) {
	proxyReplaceHeaderMapValue(mt, sptr(key), uint32(len(key)), sptr(val), uint32(len(val)))
}

// Pairs serializes a header map.
func Pairs(kv ...string) []byte {
	n := len(kv) / 2
	out := []byte{byte(n), byte(n >> 8), 0, 0}
	for i := 0; i < len(kv); i++ {
		l := len(kv[i])
		out = append(out, byte(l), byte(l>>8), byte(l>>16), byte(l>>24))
	}
	for _, s := range kv {
		out = append(out, s...)
		out = append(out, 0)
	}
	return out
}

// SendLocalPairs sends a local response with serialized headers.
func SendLocalPairs(status uint32, body string, headers []byte) uint32 {
	return proxySendLocalResponse(status, nil, 0, sptr(body), uint32(len(body)), ptr(headers), uint32(len(headers)), -1)
}

// SendLocal sends a local response with a content-type header.
func SendLocal(status uint32, body string) uint32 {
	h := Pairs("content-type", "text/plain")
	return proxySendLocalResponse(status, nil, 0, sptr(body), uint32(len(body)), ptr(h), uint32(len(h)), -1)
}

// HTTPCall dispatches a callout with the given pseudo and regular headers.
func HTTPCall(cluster string, timeoutMS uint32, kv ...string) (uint32, uint32) {
	h := Pairs(kv...)
	var token uint32
	st := proxyHTTPCall(sptr(cluster), uint32(len(cluster)), ptr(h), uint32(len(h)), nil, 0, nil, 0, timeoutMS, &token)
	return token, st
}

// SetEffectiveContext switches the context later calls act on.
func SetEffectiveContext(id uint32) uint32 { return proxySetEffectiveContext(id) }

// ContinueRequest resumes the effective stream.
func ContinueRequest() uint32 { return proxyContinueStream(0) }

// Counter defines a counter metric.
func Counter(name string) uint32 {
	var id uint32
	proxyDefineMetric(0, sptr(name), uint32(len(name)), &id)
	return id
}

// Inc increments a metric.
func Inc(id uint32) { proxyIncrementMetric(id, 1) }

// GetShared reads shared data.
func GetShared(key string) ([]byte, uint32, uint32) {
	var p uint32
	var n, cas uint32
	st := proxyGetSharedData(sptr(key), uint32(len(key)), &p, &n, &cas)
	return bytesAt(p, n), cas, st
}

// SetShared writes shared data.
func SetShared(key string, val []byte, cas uint32) uint32 {
	return proxySetSharedData(sptr(key), uint32(len(key)), ptr(val), uint32(len(val)), cas)
}

// SetTickPeriod sets the tick period.
func SetTickPeriod(ms uint32) { proxySetTickPeriod(ms) }

// Property reads a property by dotted path parts.
func Property(parts ...string) (string, uint32) {
	var path []byte
	for i, p := range parts {
		if i > 0 {
			path = append(path, 0)
		}
		path = append(path, p...)
	}
	var p uint32
	var n uint32
	st := proxyGetProperty(ptr(path), uint32(len(path)), &p, &n)
	return string(bytesAt(p, n)), st
}
