package host

import (
	"bytes"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// envFunctions returns the proxy-wasm host functions Envoy registers for the
// module's ABI version (module "env").
func (h *Host) envFunctions() []hostFunc {
	fs := []hostFunc{
		fn("proxy_log", 3, (*vm).proxyLog),
		fn("proxy_get_status", 3, func(v *vm, s []uint64) uint32 {
			if !v.writeU32(u32(s[0]), 0) || !v.writeU32(u32(s[1]), 0) || !v.writeU32(u32(s[2]), 0) {
				return statusInvalidMemoryAccess
			}
			return statusOK
		}),
		fn("proxy_set_property", 4, (*vm).setProperty),
		fn("proxy_get_property", 4, (*vm).getProperty),
		fn("proxy_send_local_response", 8, (*vm).sendLocalResponse),
		fn("proxy_get_shared_data", 5, (*vm).getSharedData),
		fn("proxy_set_shared_data", 5, (*vm).setSharedData),
		fn("proxy_register_shared_queue", 3, (*vm).registerQueue),
		fn("proxy_resolve_shared_queue", 5, (*vm).resolveQueue),
		fn("proxy_dequeue_shared_queue", 3, (*vm).dequeueQueue),
		fn("proxy_enqueue_shared_queue", 3, (*vm).enqueueQueue),
		fn("proxy_get_header_map_value", 5, (*vm).getHeaderMapValue),
		fn("proxy_add_header_map_value", 5, (*vm).addHeaderMapValue),
		fn("proxy_replace_header_map_value", 5, (*vm).replaceHeaderMapValue),
		fn("proxy_remove_header_map_value", 3, (*vm).removeHeaderMapValue),
		fn("proxy_get_header_map_pairs", 3, (*vm).getHeaderMapPairs),
		fn("proxy_set_header_map_pairs", 3, (*vm).setHeaderMapPairs),
		fn("proxy_get_header_map_size", 2, (*vm).getHeaderMapSize),
		fn("proxy_get_buffer_status", 3, (*vm).getBufferStatus),
		fn("proxy_get_buffer_bytes", 5, (*vm).getBufferBytes),
		fn("proxy_set_buffer_bytes", 5, (*vm).setBufferBytes),
		fn("proxy_http_call", 10, (*vm).httpCall),
		fn("proxy_grpc_call", 12, noGRPC),
		fn("proxy_grpc_stream", 9, noGRPC),
		fn("proxy_grpc_close", 1, noGRPC),
		fn("proxy_grpc_cancel", 1, noGRPC),
		fn("proxy_grpc_send", 4, noGRPC),
		fn("proxy_set_tick_period_milliseconds", 1, func(v *vm, s []uint64) uint32 {
			v.setTickPeriod(time.Duration(u32(s[0])) * time.Millisecond)
			return statusOK
		}),
		fn("proxy_get_current_time_nanoseconds", 1, func(v *vm, s []uint64) uint32 {
			if !v.writeU64(u32(s[0]), uint64(time.Now().UnixNano())) {
				return statusInvalidMemoryAccess
			}
			return statusOK
		}),
		fn("proxy_define_metric", 4, (*vm).defineMetric),
		{name: "proxy_increment_metric", params: []api.ValueType{i32, i64}, results: ret1, fn: func(v *vm, s []uint64) {
			s[0] = uint64(v.h.metrics.increment(u32(s[0]), int64(s[1])))
		}},
		{name: "proxy_record_metric", params: []api.ValueType{i32, i64}, results: ret1, fn: func(v *vm, s []uint64) {
			s[0] = uint64(v.h.metrics.record(u32(s[0]), s[1]))
		}},
		fn("proxy_get_metric", 2, func(v *vm, s []uint64) uint32 {
			val, st := v.h.metrics.get(u32(s[0]))
			if st != statusOK {
				return st
			}
			if !v.writeU64(u32(s[1]), val) {
				return statusInvalidMemoryAccess
			}
			return statusOK
		}),
		fn("proxy_set_effective_context", 1, (*vm).setEffectiveContext),
		fn("proxy_done", 0, func(*vm, []uint64) uint32 { return statusOK }),
		fn("proxy_call_foreign_function", 6, (*vm).callForeignFunction),
		fn("proxy_continue_stream", 1, (*vm).continueStream),
		fn("proxy_close_stream", 1, (*vm).closeStream),
		// Emscripten helpers Envoy registers for every module.
		fn("pthread_equal", 2, func(_ *vm, s []uint64) uint32 {
			if u32(s[0]) == u32(s[1]) {
				return 1
			}
			return 0
		}),
		{name: "emscripten_notify_memory_growth", params: i32s(1), fn: func(*vm, []uint64) {}},
	}
	if h.abi == "0.2.1" {
		fs = append(fs, fn("proxy_get_log_level", 1, func(v *vm, s []uint64) uint32 {
			if !v.writeU32(u32(s[0]), uint32(v.h.cfg.LogLevel-1)) {
				return statusInvalidMemoryAccess
			}
			return statusOK
		}))
	}
	return fs
}

func u32(x uint64) uint32 { return uint32(x) }

// noGRPC answers gRPC calls: the host has no gRPC clusters.
func noGRPC(*vm, []uint64) uint32 { return statusBadArgument }

func (v *vm) proxyLog(s []uint64) uint32 {
	msg, ok := v.read(u32(s[1]), u32(s[2]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	v.pluginLog(proxyLevel(u32(s[0])), string(msg))
	return statusOK
}

// setProperty stores a property for the effective context.
func (v *vm) setProperty(s []uint64) uint32 {
	path, ok1 := v.read(u32(s[0]), u32(s[1]))
	val, ok2 := v.read(u32(s[2]), u32(s[3]))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	v.props[propertyKey(path)] = append([]byte(nil), val...)
	return statusOK
}

// propertyKey turns a NUL-separated property path into a dotted name.
func propertyKey(path []byte) string {
	return strings.ReplaceAll(string(bytes.TrimRight(path, "\x00")), "\x00", ".")
}

func (v *vm) getProperty(s []uint64) uint32 {
	path, ok := v.read(u32(s[0]), u32(s[1]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	key := propertyKey(path)
	if st, handled := v.envoyOnlyProperty(key); handled {
		return st
	}
	val, found := v.property(key)
	if !found {
		return statusNotFound
	}
	return v.returnBytes(val, u32(s[2]), u32(s[3]))
}

// property answers the properties the host knows; others are NOT_FOUND.
func (v *vm) property(key string) ([]byte, bool) {
	if val, ok := v.props[key]; ok {
		return val, true
	}
	switch key {
	case "plugin_name":
		return []byte(v.h.cfg.PluginName), true
	case "plugin_root_id":
		return []byte(v.h.cfg.RootID), true
	case "plugin_vm_id":
		return []byte(v.h.cfg.VMID), true
	case "xds.node":
		return nodeProperty, true
	}
	st := v.effectiveStream()
	if st == nil {
		return nil, false
	}
	switch key {
	case "request.path":
		return []byte(headerValue(st.reqHeaders, ":path")), true
	case "request.url_path":
		p := headerValue(st.reqHeaders, ":path")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return []byte(p), true
	case "request.method":
		return []byte(headerValue(st.reqHeaders, ":method")), true
	case "request.host":
		return []byte(headerValue(st.reqHeaders, ":authority")), true
	case "request.scheme":
		return []byte(headerValue(st.reqHeaders, ":scheme")), true
	case "request.protocol":
		return []byte("HTTP/1.1"), true
	case "request.id":
		if id, ok := lookupHeader(st.reqHeaders, "x-request-id"); ok {
			return []byte(id), true
		}
		return nil, false
	case "source.address":
		if st.remoteAddr == "" {
			return nil, false
		}
		return []byte(st.remoteAddr), true
	case "connection.sha256_peer_certificate_digest":
		// Envoy answers NotFound when the connection has no peer certificate.
		if st.peerCertHash == "" {
			return nil, false
		}
		return []byte(st.peerCertHash), true
	case "response.code":
		if st.respStatus == 0 {
			return nil, false
		}
		b := make([]byte, 8)
		putU64(b, uint64(st.respStatus))
		return b, true
	}
	return nil, false
}

func putU64(b []byte, x uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(x >> (8 * i))
	}
}

func (v *vm) getSharedData(s []uint64) uint32 {
	key, ok := v.read(u32(s[0]), u32(s[1]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	val, cas, found := v.h.shared.get(string(key))
	if !found {
		return statusNotFound
	}
	if !v.writeU32(u32(s[4]), cas) {
		return statusInvalidMemoryAccess
	}
	return v.returnBytes(val, u32(s[2]), u32(s[3]))
}

func (v *vm) setSharedData(s []uint64) uint32 {
	key, ok1 := v.read(u32(s[0]), u32(s[1]))
	val, ok2 := v.read(u32(s[2]), u32(s[3]))
	if !ok1 || !ok2 {
		return statusInvalidMemoryAccess
	}
	return v.h.shared.set(string(key), val, u32(s[4]))
}

func (v *vm) registerQueue(s []uint64) uint32 {
	name, ok := v.read(u32(s[0]), u32(s[1]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	id := v.h.queues.register(string(name), v)
	if !v.writeU32(u32(s[2]), id) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

func (v *vm) resolveQueue(s []uint64) uint32 {
	name, ok := v.read(u32(s[2]), u32(s[3]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	id, found := v.h.queues.resolve(string(name))
	if !found {
		return statusNotFound
	}
	if !v.writeU32(u32(s[4]), id) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}

func (v *vm) dequeueQueue(s []uint64) uint32 {
	data, st := v.h.queues.dequeue(u32(s[0]))
	if st != statusOK {
		return st
	}
	return v.returnBytes(data, u32(s[1]), u32(s[2]))
}

func (v *vm) enqueueQueue(s []uint64) uint32 {
	data, ok := v.read(u32(s[1]), u32(s[2]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	return v.h.queues.enqueue(u32(s[0]), data)
}

func (v *vm) defineMetric(s []uint64) uint32 {
	name, ok := v.read(u32(s[1]), u32(s[2]))
	if !ok {
		return statusInvalidMemoryAccess
	}
	id, st := v.h.metrics.define(u32(s[0]), string(name))
	if st != statusOK {
		return st
	}
	if !v.writeU32(u32(s[3]), id) {
		return statusInvalidMemoryAccess
	}
	return statusOK
}
