package abi

import "unsafe"

// arena holds the memory the host writes returned data into.
//
// During a host call that returns data the host calls
// proxy_on_memory_allocate once, copies the data in and hands back the
// pointer. Go's GC does not move objects but frees unreachable ones, so every
// allocation must stay referenced until the guest has read it. The arena
// keeps them referenced and reuses one growing slab, so steady-state host
// calls cost no Go allocation: reset before each such call, alloc from the
// allocator export, take after the call returns.
//
// The guest is single-threaded and host calls do not nest (except the
// allocator inside one), so one arena serves the whole VM.
type arena struct {
	slab  []byte   // reused storage; grows when a request does not fit
	used  int      // bytes of slab handed out since the last reset
	spans []span   // every allocation since the last reset
	extra [][]byte // allocations that did not fit in the slab, kept reachable
	// into, when set, takes the next allocation instead of the slab (grown
	// when too small): a host call whose answer the caller keeps is read
	// straight into the caller's buffer, with no copy out of the arena.
	into *[]byte
}

// span is one allocation: its address (as the host sees it) and its memory.
type span struct {
	addr uintptr
	mem  []byte
}

// minSlab is the first slab's size: big enough for typical header values
// and small header maps, small enough to keep the live heap light.
const minSlab = 4 << 10

// maxKeptSlab bounds the slab kept across calls; a larger one (from a big
// JWKS body, say) is dropped at the next reset so the heap can shrink.
const maxKeptSlab = 256 << 10

// reset forgets every allocation. Call it before a host call that returns data.
func (a *arena) reset() {
	a.used = 0
	clear(a.spans)
	a.spans = a.spans[:0]
	clear(a.extra)
	a.extra = a.extra[:0]
	a.into = nil
	if cap(a.slab) > maxKeptSlab {
		a.slab = nil
	}
}

// allocInto makes the next allocation use *buf, grown if too small (see
// into). Call it after reset, right before the host call.
func (a *arena) allocInto(buf *[]byte) { a.into = buf }

// alloc returns size bytes that stay reachable until the next reset. A
// zero-size request still gets a distinct non-nil byte, since a host may
// treat a null pointer as allocation failure.
func (a *arena) alloc(size int) []byte {
	n := max(size, 1)
	n = (n + 7) &^ 7 // keep spans 8-byte aligned
	var mem []byte
	switch {
	case a.into != nil:
		buf := a.into
		a.into = nil
		if cap(*buf) < n {
			*buf = make([]byte, 0, max(n, 2*cap(*buf)))
		}
		mem = (*buf)[:n:n]
	case a.used+n <= len(a.slab):
		mem = a.slab[a.used : a.used+n : a.used+n]
		a.used += n
	case a.used == 0 && len(a.spans) == 0:
		// Nothing handed out yet: replace the slab with a larger one.
		a.slab = make([]byte, max(minSlab, 2*len(a.slab), n))
		mem = a.slab[:n:n]
		a.used = n
	default:
		mem = make([]byte, n)
		a.extra = append(a.extra, mem)
	}
	a.spans = append(a.spans, span{addr: uintptr(unsafe.Pointer(&mem[0])), mem: mem})
	return mem[:size]
}

// take returns the size bytes at addr if addr is an allocation of this
// arena that holds at least size bytes; a (0, 0) answer is an empty result.
func (a *arena) take(addr uintptr, size uint32) ([]byte, bool) {
	if size == 0 {
		return nil, true
	}
	for i := len(a.spans) - 1; i >= 0; i-- {
		s := a.spans[i]
		if s.addr == addr {
			if uint64(size) > uint64(cap(s.mem)) {
				return nil, false
			}
			return s.mem[:size], true
		}
	}
	return nil, false
}
