package abi

import (
	"testing"
	"unsafe"
)

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

func TestArena(t *testing.T) {
	t.Run("an allocation can be taken back by its address", func(t *testing.T) {
		var a arena
		a.reset()
		m := a.alloc(5)
		copy(m, "hello")
		got, ok := a.take(addrOf(m), 5)
		if !ok || string(got) != "hello" {
			t.Fatalf("take = %q, %v", got, ok)
		}
	})
	t.Run("an address the arena never handed out is refused", func(t *testing.T) {
		var a arena
		a.reset()
		a.alloc(8)
		other := make([]byte, 8)
		if _, ok := a.take(addrOf(other), 8); ok {
			t.Fatal("take accepted a foreign address")
		}
	})
	t.Run("a size larger than the allocation is refused", func(t *testing.T) {
		var a arena
		m := a.alloc(16)
		if _, ok := a.take(addrOf(m), 17); ok {
			t.Fatal("take accepted an oversized read")
		}
	})
	t.Run("an empty result needs no allocation", func(t *testing.T) {
		var a arena
		if b, ok := a.take(0, 0); !ok || b != nil {
			t.Fatalf("take(0, 0) = %v, %v", b, ok)
		}
	})
	t.Run("a zero-size request still gets a non-nil address", func(t *testing.T) {
		var a arena
		if m := a.alloc(0); addrOf(m) == 0 {
			t.Fatal("alloc(0) returned a nil address")
		}
	})
	t.Run("allocations within one call do not overlap", func(t *testing.T) {
		var a arena
		a.reset()
		x := a.alloc(minSlab - 100)
		y := a.alloc(300) // does not fit in the slab: a separate allocation
		z := a.alloc(3)
		for i := range x {
			x[i] = 'x'
		}
		copy(y, "yyy")
		copy(z, "zzz")
		if gx, _ := a.take(addrOf(x), 3); string(gx) != "xxx" {
			t.Fatalf("x was overwritten: %q", gx)
		}
		if gy, _ := a.take(addrOf(y), 3); string(gy) != "yyy" {
			t.Fatalf("y was overwritten: %q", gy)
		}
	})
	t.Run("a reset reuses the slab, so steady state allocates nothing", func(t *testing.T) {
		var a arena
		a.reset()
		a.alloc(100)
		n := testing.AllocsPerRun(100, func() {
			a.reset()
			m := a.alloc(100)
			if _, ok := a.take(addrOf(m), 100); !ok {
				t.Fatal("take failed")
			}
		})
		if n != 0 {
			t.Fatalf("%v allocations per call, want 0", n)
		}
	})
	t.Run("a request larger than the slab grows it", func(t *testing.T) {
		var a arena
		a.reset()
		m := a.alloc(3 * minSlab)
		if len(m) != 3*minSlab || len(a.slab) < 3*minSlab {
			t.Fatalf("len(m) = %d, slab = %d", len(m), len(a.slab))
		}
	})
	t.Run("a very large slab is released at the next reset", func(t *testing.T) {
		var a arena
		a.alloc(2 * maxKeptSlab)
		a.reset()
		if a.slab != nil {
			t.Fatalf("slab of %d bytes kept", cap(a.slab))
		}
	})
}

func TestArenaAllocInto(t *testing.T) {
	t.Run("the next allocation is the caller's buffer", func(t *testing.T) {
		var a arena
		buf := make([]byte, 0, 64)
		a.reset()
		a.allocInto(&buf)
		m := a.alloc(40)
		if addrOf(m) != addrOf(buf[:1]) {
			t.Fatal("the allocation is not in the caller's buffer")
		}
		copy(m, "in place")
		if got, ok := a.take(addrOf(m), 8); !ok || string(got) != "in place" {
			t.Fatalf("take = %q, %v", got, ok)
		}
		if other := a.alloc(8); addrOf(other) == addrOf(m) {
			t.Fatal("a second allocation reused the caller's buffer")
		}
	})
	t.Run("a buffer too small is replaced by a larger one the caller keeps", func(t *testing.T) {
		var a arena
		buf := make([]byte, 0, 16)
		a.reset()
		a.allocInto(&buf)
		m := a.alloc(100)
		if cap(buf) < 100 || addrOf(m) != addrOf(buf[:1]) {
			t.Fatalf("buffer cap %d, allocation not in it", cap(buf))
		}
	})
	t.Run("reset forgets the buffer", func(t *testing.T) {
		var a arena
		buf := make([]byte, 0, 64)
		a.allocInto(&buf)
		a.reset()
		if m := a.alloc(8); addrOf(m) == addrOf(buf[:1]) {
			t.Fatal("the buffer outlived reset")
		}
	})
}
