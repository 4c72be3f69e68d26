package filter

import (
	"runtime"
	"unsafe"
)

// sameString reports whether a and b are the same bytes. In wasm it
// compares eight bytes per step (equalWords): Go's wasm runtime compares
// memory one byte per loop step (internal/bytealg/equal_wasm.s), which
// made comparing a 1.3 KB token a tenth of a cache hit's time in V8.
// Natively it is ==.
func sameString(a, b string) bool {
	if runtime.GOARCH == "wasm" {
		return equalWords(a, b)
	}
	return a == b
}

// hasPrefix is strings.HasPrefix with sameString.
func hasPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && sameString(s[:len(prefix)], prefix)
}

// equalWords is a == b compared 32, then 8 bytes per step; the last
// (or, for 4 to 7 bytes, both) loads overlap what was compared before, so
// no byte is compared alone unless the strings are shorter than 4 bytes.
func equalWords(a, b string) bool {
	n := len(a)
	if n != len(b) {
		return false
	}
	pa, pb := unsafe.Pointer(unsafe.StringData(a)), unsafe.Pointer(unsafe.StringData(b))
	u64 := func(p unsafe.Pointer, i int) uint64 { return *(*uint64)(unsafe.Add(p, i)) }
	u32 := func(p unsafe.Pointer, i int) uint32 { return *(*uint32)(unsafe.Add(p, i)) }
	switch {
	case n >= 8:
		i := 0
		for ; i+32 <= n; i += 32 {
			if (u64(pa, i)^u64(pb, i))|(u64(pa, i+8)^u64(pb, i+8))|
				(u64(pa, i+16)^u64(pb, i+16))|(u64(pa, i+24)^u64(pb, i+24)) != 0 {
				return false
			}
		}
		for ; i+8 <= n; i += 8 {
			if u64(pa, i) != u64(pb, i) {
				return false
			}
		}
		return u64(pa, n-8) == u64(pb, n-8)
	case n >= 4:
		return u32(pa, 0) == u32(pb, 0) && u32(pa, n-4) == u32(pb, n-4)
	}
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// word returns the 8 bytes of s at i as a number (in wasm one unaligned
// load, natively the bytes combined little-endian).
func word(s string, i int) uint64 {
	_ = s[i+7]
	if runtime.GOARCH == "wasm" {
		return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i))
	}
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}
