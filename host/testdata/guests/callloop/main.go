//go:build wasip1

// Command callloop measures the host's cost per host call: callloop_run
// calls one proxy-wasm function in a loop, so a benchmark divides the time
// of one run by the number of calls. Its allocator hands out a reused slab
// (like filter/abi's arena) so the guest's own share of a call that returns
// data stays small. It speaks raw ABI 0.2.1, independent of filter/abi.
package main

import "unsafe"

func main() {}

// The calls callloop_run can repeat (its kind argument).
const (
	kindNone          = 0  // the loop alone
	kindDone          = 1  // proxy_done: the host does nothing
	kindGetLogLevel   = 2  // proxy_get_log_level: one u32 written back
	kindGetHeader     = 3  // proxy_get_header_map_value of a present header
	kindGetAbsent     = 4  // proxy_get_header_map_value of an absent header
	kindReplaceHeader = 5  // proxy_replace_header_map_value
	kindRemoveAbsent  = 6  // proxy_remove_header_map_value of an absent header
	kindIncrement     = 7  // proxy_increment_metric
	kindLog           = 8  // proxy_log at info
	kindTime          = 9  // proxy_get_current_time_nanoseconds
	kindGetPairs      = 10 // proxy_get_header_map_pairs of the request headers
)

//go:wasmimport env proxy_done
func proxyDone() uint32

//go:wasmimport env proxy_get_log_level
func proxyGetLogLevel(level *uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32, ptr, size *uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mt uint32, ptr, size *uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32, val unsafe.Pointer, valSize uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mt uint32, key unsafe.Pointer, keySize uint32) uint32

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(kind uint32, name unsafe.Pointer, size uint32, id *uint32) uint32

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(id uint32, offset int64) uint32

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg unsafe.Pointer, size uint32) uint32

//go:wasmimport env proxy_get_current_time_nanoseconds
func proxyGetCurrentTime(t *uint64) uint32

// Return slots and the allocator's slab are package variables: taking their
// address allocates nothing.
var (
	retPtr, retSize, retU32 uint32
	retU64                  uint64
	slab                    [64 << 10]byte
	used                    int
	counter                 uint32
)

//go:wasmexport proxy_abi_version_0_2_1
func abiVersion() {}

// proxy_on_memory_allocate bumps through the slab; callloop_run rewinds it
// before every call, so nothing it hands out outlives the call reading it.
//
//go:wasmexport proxy_on_memory_allocate
func allocate(size uint32) uint32 {
	n := (int(size) + 8) &^ 7
	if used+n > len(slab) {
		return 0
	}
	p := uint32(uintptr(unsafe.Pointer(&slab[used])))
	used += n
	return p
}

//go:wasmexport proxy_on_context_create
func onContextCreate(ctxID, parent uint32) {}

//go:wasmexport proxy_on_configure
func onConfigure(root, size uint32) uint32 {
	const name = "callloop.calls"
	proxyDefineMetric(0, unsafe.Pointer(unsafe.StringData(name)), uint32(len(name)), &counter)
	return 1
}

// proxy_on_request_headers runs the loop the request asks for in its
// x-loop header, "<kind> <n>" in decimal, and continues.
//
//go:wasmexport proxy_on_request_headers
func onRequestHeaders(ctxID, n, eos uint32) uint32 {
	const key = "x-loop"
	used = 0
	if proxyGetHeaderMapValue(0, unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)), &retPtr, &retSize) != 0 {
		return 0
	}
	off := int(retPtr - uint32(uintptr(unsafe.Pointer(&slab[0]))))
	spec := slab[off : off+int(retSize)]
	kind, rest := number(spec)
	count, _ := number(rest)
	callloopRun(kind, count)
	return 0
}

// number parses a leading decimal number and skips one separator after it.
func number(b []byte) (uint32, []byte) {
	var n uint32
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + uint32(b[i]-'0')
	}
	if i < len(b) {
		i++
	}
	return n, b[i:]
}

// callloop_run makes n calls of one kind and returns how many answered a
// status other than OK (0 for every kind in a stream context).
//
//go:wasmexport callloop_run
func callloopRun(kind, n uint32) uint32 {
	const (
		present = "user-agent"
		absent  = "x-not-there"
		name    = "x-callloop"
		value   = "replaced"
		msg     = "callloop: a log line of ordinary length"
	)
	sp := func(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }
	failed := uint32(0)
	for range n {
		used = 0
		var st uint32
		switch kind {
		case kindNone:
		case kindDone:
			st = proxyDone()
		case kindGetLogLevel:
			st = proxyGetLogLevel(&retU32)
		case kindGetHeader:
			st = proxyGetHeaderMapValue(0, sp(present), uint32(len(present)), &retPtr, &retSize)
		case kindGetAbsent:
			if st = proxyGetHeaderMapValue(0, sp(absent), uint32(len(absent)), &retPtr, &retSize); st == 1 {
				st = 0 // NOT_FOUND is the expected answer
			}
		case kindReplaceHeader:
			st = proxyReplaceHeaderMapValue(0, sp(name), uint32(len(name)), sp(value), uint32(len(value)))
		case kindRemoveAbsent:
			st = proxyRemoveHeaderMapValue(0, sp(absent), uint32(len(absent)))
		case kindIncrement:
			st = proxyIncrementMetric(counter, 1)
		case kindLog:
			st = proxyLog(2, sp(msg), uint32(len(msg)))
		case kindTime:
			st = proxyGetCurrentTime(&retU64)
		case kindGetPairs:
			st = proxyGetHeaderMapPairs(0, &retPtr, &retSize)
		}
		if st != 0 {
			failed++
		}
	}
	return failed
}
