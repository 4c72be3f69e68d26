package host

import (
	"encoding/binary"
	"errors"
)

// Envoy's limits for a header map handed over by a guest: a map with more
// pairs or more bytes than this is treated as empty.
const (
	maxPairsCount = 1024
	maxPairsBytes = 1 << 20
)

// errPairsTooLarge reports a serialized map beyond Envoy's limits.
var errPairsTooLarge = errors.New("header map over 1024 pairs or 1 MiB")

// encodedPairsSize is the length of pairs serialized by encodePairsInto,
// computed without encoding: 0 for an empty map.
func encodedPairsSize(pairs [][2]string) int {
	if len(pairs) == 0 {
		return 0
	}
	size := 4 + 8*len(pairs)
	for _, p := range pairs {
		size += len(p[0]) + len(p[1]) + 2
	}
	return size
}

// encodePairsInto serializes a header map the proxy-wasm way into out, which
// holds exactly encodedPairsSize(pairs) bytes: a little-endian u32 count,
// then (key length, value length) per pair, then every key and value each
// followed by a NUL byte.
func encodePairsInto(out []byte, pairs [][2]string) {
	binary.LittleEndian.PutUint32(out, uint32(len(pairs)))
	off := 4
	for _, p := range pairs {
		binary.LittleEndian.PutUint32(out[off:], uint32(len(p[0])))
		binary.LittleEndian.PutUint32(out[off+4:], uint32(len(p[1])))
		off += 8
	}
	for _, p := range pairs {
		off += copy(out[off:], p[0])
		out[off] = 0
		off++
		off += copy(out[off:], p[1])
		out[off] = 0
		off++
	}
}

// decodePairs parses a serialized header map. It returns errPairsTooLarge
// (with no pairs) for maps beyond Envoy's limits and another error for
// malformed input; an empty input is an empty map.
func decodePairs(data []byte) ([][2]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if len(data) > maxPairsBytes {
		return nil, errPairsTooLarge
	}
	if len(data) < 4 {
		return nil, errors.New("header map shorter than its count")
	}
	n := binary.LittleEndian.Uint32(data)
	if n > maxPairsCount {
		return nil, errPairsTooLarge
	}
	sizesEnd := 4 + 8*uint64(n)
	if sizesEnd > uint64(len(data)) {
		return nil, errors.New("header map sizes run past its end")
	}
	pairs := make([][2]string, n)
	off := sizesEnd
	for i := uint32(0); i < n; i++ {
		kl := uint64(binary.LittleEndian.Uint32(data[4+8*i:]))
		vl := uint64(binary.LittleEndian.Uint32(data[8+8*i:]))
		if off+kl+1+vl+1 > uint64(len(data)) {
			return nil, errors.New("header map entry runs past its end")
		}
		if data[off+kl] != 0 || data[off+kl+1+vl] != 0 {
			return nil, errors.New("header map entry not NUL-terminated")
		}
		pairs[i][0] = string(data[off : off+kl])
		off += kl + 1
		pairs[i][1] = string(data[off : off+vl])
		off += vl + 1
	}
	return pairs, nil
}
