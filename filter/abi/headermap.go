package abi

import (
	"encoding/binary"
	"errors"
	"strconv"
	"unsafe"
)

// Header maps cross the ABI as: little-endian u32 pair count N, then N
// (key length, value length) u32 pairs, then every key and value, each
// followed by a NUL byte (DESIGN §2).

// errHeaderMap is the base of every decoding error, so callers can tell a
// malformed map from a host status.
var errHeaderMap = errors.New("abi: malformed header map")

// HeaderMapSize returns the number of bytes EncodeHeaderMap needs for pairs.
func HeaderMapSize(pairs [][2]string) int {
	n := 4 + 8*len(pairs)
	for _, p := range pairs {
		n += len(p[0]) + len(p[1]) + 2
	}
	return n
}

// EncodeHeaderMap appends the wire form of pairs to dst and returns the
// extended slice. It allocates only when dst lacks capacity.
func EncodeHeaderMap(dst []byte, pairs [][2]string) []byte {
	need := HeaderMapSize(pairs)
	if cap(dst)-len(dst) < need {
		grown := make([]byte, len(dst), len(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(pairs)))
	for _, p := range pairs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p[0])))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p[1])))
	}
	for _, p := range pairs {
		dst = append(dst, p[0]...)
		dst = append(dst, 0)
		dst = append(dst, p[1]...)
		dst = append(dst, 0)
	}
	return dst
}

// DecodeHeaderMap parses the wire form of a header map. Empty input is an
// empty map (the host's (0, 0) answer). Every length is checked against the
// input, so hostile input yields an error, never a panic or a huge
// allocation. The returned strings share one copy of data: two allocations
// per call whatever the number of pairs.
func DecodeHeaderMap(data []byte) ([][2]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	n, err := headerMapCount(data)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	text := string(data) // one copy; every key and value is a substring of it
	pairs := make([][2]string, n)
	off := 4 + 8*n
	for i := range n {
		kl := int(binary.LittleEndian.Uint32(data[4+8*i:]))
		vl := int(binary.LittleEndian.Uint32(data[8+8*i:]))
		pairs[i][0] = text[off : off+kl]
		off += kl + 1
		pairs[i][1] = text[off : off+vl]
		off += vl + 1
	}
	return pairs, nil
}

// HeaderMap is a header map read in place: its wire form, validated once,
// whose keys and values are handed out as strings that alias those bytes.
// Reading it costs no allocation whatever the number of pairs (the filter's
// request path reads every request's headers this way). The bytes must not
// change while strings taken from the map are in use.
type HeaderMap struct {
	data []byte
	n    int
}

// ParseHeaderMap validates data as DecodeHeaderMap does and returns a view
// of it (no copy). Empty input is an empty map.
func ParseHeaderMap(data []byte) (HeaderMap, error) {
	if len(data) == 0 {
		return HeaderMap{}, nil
	}
	n, err := headerMapCount(data)
	if err != nil {
		return HeaderMap{}, err
	}
	return HeaderMap{data: data, n: n}, nil
}

// Len returns the number of pairs.
func (m HeaderMap) Len() int { return m.n }

// Cursor returns a cursor before the map's first pair.
func (m HeaderMap) Cursor() HeaderCursor {
	// Offsets as if a pair of empty key and value came before the first.
	return HeaderCursor{base: unsafe.Pointer(unsafe.SliceData(m.data)), sizes: 4 - 8, key: 4 + 8*m.n - 2, left: m.n}
}

// HeaderCursor walks a HeaderMap's pairs in order: Next moves to the next
// pair, Key and Value return it. Each step is small enough to be inlined
// where the walk is written, so a header the caller only glances at (its
// name's length, say) costs a few instructions.
type HeaderCursor struct {
	base   unsafe.Pointer // the map's first byte
	sizes  int            // offset of the current pair's two sizes
	key    int            // offset of the current pair's key
	kl, vl int            // the current pair's key and value lengths
	left   int            // pairs after the current one
}

// Next moves to the next pair and reports whether there is one.
func (c *HeaderCursor) Next() bool {
	if c.left <= 0 {
		return false
	}
	c.left--
	// The map was validated whole (ParseHeaderMap): every size and offset
	// lies inside it, and each key and value is followed by its NUL, so
	// even an empty one has a byte to point at. Offsets rather than
	// advancing pointers: a pointer past the map's end would be invalid.
	c.sizes += 8
	c.key += c.kl + c.vl + 2
	p := unsafe.Add(c.base, c.sizes) // 4-byte aligned if the map is
	if littleEndian {
		c.kl, c.vl = int(*(*uint32)(p)), int(*(*uint32)(unsafe.Add(p, 4)))
	} else {
		c.kl, c.vl = int(binary.LittleEndian.Uint32((*[4]byte)(p)[:])), int(binary.LittleEndian.Uint32((*[4]byte)(unsafe.Add(p, 4))[:]))
	}
	return true
}

// KeyLen returns the length of the current pair's key.
func (c *HeaderCursor) KeyLen() int { return c.kl }

// Key returns the current pair's key; it aliases the map's bytes.
func (c *HeaderCursor) Key() string {
	return unsafe.String((*byte)(unsafe.Add(c.base, c.key)), c.kl)
}

// Value returns the current pair's value; it aliases the map's bytes.
func (c *HeaderCursor) Value() string {
	return unsafe.String((*byte)(unsafe.Add(c.base, c.key+c.kl+1)), c.vl)
}

// headerMapCount validates data as a whole (sizes, NUL terminators, no
// trailing bytes) and returns its pair count.
func headerMapCount(data []byte) (int, error) {
	if len(data) < 4 {
		return 0, errors.Join(errHeaderMap, errors.New("shorter than its 4-byte pair count"))
	}
	count := binary.LittleEndian.Uint32(data)
	// Each pair needs at least 8 bytes of sizes and 2 NULs.
	if uint64(count)*10 > uint64(len(data)-4) {
		return 0, errors.Join(errHeaderMap, errors.New("pair count "+strconv.FormatUint(uint64(count), 10)+" does not fit in "+strconv.Itoa(len(data))+" bytes"))
	}
	n := int(count)
	off := uint64(4 + 8*n)
	// The size table fits (checked above), so a cursor reads it: no bounds
	// check per size, one test per pair for its bytes, one for its NULs
	// (this runs on every request the filter sees).
	cur := HeaderMap{data: data, n: n}.Cursor()
	for i := 0; cur.Next(); i++ {
		kl, vl := uint64(cur.kl), uint64(cur.vl)
		if off+kl+1+vl+1 > uint64(len(data)) {
			return 0, errors.Join(errHeaderMap, errors.New("pair "+strconv.Itoa(i)+" runs past the end"))
		}
		if data[off+kl]|data[off+kl+1+vl] != 0 {
			return 0, errors.Join(errHeaderMap, errors.New("pair "+strconv.Itoa(i)+" is not NUL-terminated"))
		}
		off += kl + 1 + vl + 1
	}
	if off != uint64(len(data)) {
		return 0, errors.Join(errHeaderMap, errors.New(strconv.FormatUint(uint64(len(data))-off, 10)+" trailing bytes"))
	}
	return n, nil
}

// EncodePropertyPath appends a property path in the ABI's form (segments
// separated by NUL, no trailing NUL) to dst.
func EncodePropertyPath(dst []byte, path []string) []byte {
	for i, seg := range path {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, seg...)
	}
	return dst
}
