package jwt

import (
	"encoding/base64"
	"encoding/binary"
)

// Canonical unpadded base64url (RFC 7515 §2 and Appendix C: one encoding per
// byte string), decoded by hand because every token's three segments pass
// through it on every cache miss and every forged token. encoding/base64's
// strict raw URL decoder accepts exactly the same strings except that it
// skips CR and LF; TestDecodeB64IsStrictBase64URL holds the two together.
//
// In wasm a memory access costs a bounds check in the engine besides Go's
// own, so the decoder reads eight characters with one 64-bit load and writes
// six bytes with one 64-bit store (the two spare bytes are overwritten by
// the next step, or lie in the room the caller leaves after the output).

// b64 is the same encoding in encoding/base64, for encoding (thumbprints)
// and for the tests' reference.
var b64 = base64.RawURLEncoding.Strict()

// b64Value maps a base64url character to its 6 bits; every other byte
// (padding, CR and LF included) maps to 0xff.
var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// b64Quad[i] maps a base64url character to the bits it contributes, as the
// i-th character of a group of four, to the group's three bytes read as a
// little-endian number: OR-ing the four entries gives the bytes ready to
// store. Every other byte has b64Bad set in all four tables.
var b64Quad = func() (t [4][256]uint32) {
	for c := range 256 {
		v := uint32(b64Value[c])
		if v >= 64 {
			for i := range t {
				t[i][c] = b64Bad
			}
			continue
		}
		// Bytes x, y, z of a group come from characters a, b, c, d as
		// x = a<<2 | b>>4, y = b<<4 | c>>2, z = c<<6 | d.
		t[0][c] = v << 2
		t[1][c] = v>>4 | (v&0x0f)<<12
		t[2][c] = (v>>2)<<8 | (v&0x03)<<22
		t[3][c] = v << 16
	}
	return t
}()

// b64Bad marks a byte outside the alphabet in b64Quad.
const b64Bad = 1 << 31

// b64DecodedLen is the length of the bytes n characters of unpadded base64
// decode to (n%4 == 1 is no valid length; it gives n/4*3).
func b64DecodedLen(n int) int { return n/4*3 + n%4*3/4 }

// b64Slack is how many bytes past the decoded length decodeB64 may write
// when the caller's buffer has them.
const b64Slack = 2

// decodeB64 decodes a canonical unpadded base64url string into dst, which
// must have room for b64DecodedLen(len(s)) bytes; it may also write up to
// b64Slack bytes after them when dst is longer. It reports false for a byte
// outside the alphabet (padding, CR and LF included), a length that leaves
// one character over, and non-zero bits after the last byte.
func decodeB64(dst []byte, s string) ([]byte, bool) {
	n := len(s)
	out := b64DecodedLen(n)
	if n%4 == 1 || len(dst) < out {
		return nil, false
	}
	src := stringBytes(s)
	i, j := 0, 0
	// Eight characters, six bytes, while an eight-byte store fits in dst.
	for ; n-i >= 8 && len(dst)-j >= 8; i, j = i+8, j+6 {
		w := binary.LittleEndian.Uint64(src[i:])
		lo := b64Quad[0][byte(w)] | b64Quad[1][byte(w>>8)] | b64Quad[2][byte(w>>16)] | b64Quad[3][byte(w>>24)]
		hi := b64Quad[0][byte(w>>32)] | b64Quad[1][byte(w>>40)] | b64Quad[2][byte(w>>48)] | b64Quad[3][byte(w>>56)]
		if (lo|hi)&b64Bad != 0 {
			return nil, false
		}
		binary.LittleEndian.PutUint64(dst[j:], uint64(lo)|uint64(hi)<<24)
	}
	for ; n-i >= 4; i, j = i+4, j+3 {
		a, b, c, d := b64Value[src[i]], b64Value[src[i+1]], b64Value[src[i+2]], b64Value[src[i+3]]
		if a|b|c|d >= 64 {
			return nil, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		q := dst[j : j+3 : j+3]
		q[0], q[1], q[2] = byte(v>>16), byte(v>>8), byte(v)
	}
	switch n - i {
	case 2:
		a, b := b64Value[src[i]], b64Value[src[i+1]]
		if a|b >= 64 || b&0x0f != 0 {
			return nil, false
		}
		dst[j] = a<<2 | b>>4
	case 3:
		a, b, c := b64Value[src[i]], b64Value[src[i+1]], b64Value[src[i+2]]
		if a|b|c >= 64 || c&0x03 != 0 {
			return nil, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		q := dst[j : j+2 : j+2]
		q[0], q[1] = byte(v>>10), byte(v>>2)
	}
	return dst[:out:out], true
}

// decodeB64String decodes into a new buffer.
func decodeB64String(s string) ([]byte, bool) {
	return decodeB64(make([]byte, b64DecodedLen(len(s))), s)
}
