package jwt

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// The strict check of token headers and payloads, written for wasm, where
// it runs on every cache miss and every forged token. It accepts and rejects
// exactly what the recursive scanner it replaced does (refScanner in
// parseref_test.go; the same fault for every input:
// TestStrictCheckMatchesTheReference and FuzzStrictCheckMatchesTheReference
// compare them), but in one loop without a call per value, reading the plain bytes
// of strings eight at a time, and finding duplicate member names through a
// per-object 64-bit filter instead of comparing every pair of names.

// checkStrict reports whether data is exactly one strict JSON object (with
// surrounding whitespace allowed) without duplicate member names anywhere,
// nested at most maxJSONDepth deep, and records the top-level members in
// index when it is not nil. sc is its working memory.
func checkStrict(data []byte, index *claimIndex, sc *strictScratch) jsonFault {
	p := skipWS(data, 0)
	if p >= len(data) {
		return jsonSyntax
	}
	if data[p] != '{' {
		end, f := scanStrict(data, p, nil, sc)
		switch {
		case f != jsonOK:
			return f
		case skipWS(data, end) == len(data):
			return jsonNotObject
		}
		return jsonSyntax
	}
	end, f := scanStrict(data, p, index, sc)
	if f != jsonOK {
		return f
	}
	if skipWS(data, end) != len(data) {
		return jsonSyntax
	}
	return jsonOK
}

// skipWS returns the position of the first non-whitespace byte at or after p.
func skipWS(d []byte, p int) int {
	for p < len(d) && d[p] <= ' ' && (d[p] == ' ' || d[p] == '\t' || d[p] == '\n' || d[p] == '\r') {
		p++
	}
	return p
}

// strictName is a member name the duplicate check remembers: where it is,
// whether it holds escapes, and a key that differs for names that differ in
// length or in their first, middle or last byte (decoded).
type strictName struct {
	start, end int32
	key        uint32
	escaped    bool
}

// strictObject is one open object of scanStrict: where its names start in
// the name stack, the filter of the keys seen so far, and (past smallObject
// names) the set of its decoded names.
type strictObject struct {
	names int32
	seen  uint64
	big   bool
}

// strictScratch is scanStrict's working memory: the states of the open
// objects and the names of their members. A scan reads nothing in it it has
// not written, so it can be reused without zeroing (Token keeps one): in
// wasm zeroing its kilobyte on every check costs more than the check of a
// token's header.
type strictScratch struct {
	objects [maxJSONDepth + 1]strictObject // by depth; only objects' entries are used
	names   [32]strictName                 // the start of the name stack
}

// nameKey is strictName.key of a decoded name.
func nameKey(name []byte) uint32 {
	n := len(name)
	if n == 0 {
		return 0
	}
	return uint32(n)&0xff | uint32(name[0])<<8 | uint32(name[n/2])<<16 | uint32(name[n-1])<<24
}

// scanStrict scans the value starting at d[p] (not whitespace), records the
// members of a top-level object in index when it is not nil, and returns the
// position after the value, or the first fault in reading order.
func scanStrict(d []byte, p int, index *claimIndex, sc *strictScratch) (int, jsonFault) {
	var (
		kinds      uint64 // bit i: the container at depth i+1 is an object
		depth      int
		objects    = &sc.objects
		names      = sc.names[:0]
		bigSets    map[int]map[string]struct{} // by depth, for objects past smallObject names
		topName    nameSpan                    // the top-level member being read
		topAt      int                         // where its value starts
		expectName bool                        // a member name comes before the next value
	)
	n := len(d)
	// Each turn reads a member name or a value at p, then (after a value)
	// what follows it: separators, closing brackets, until the next name or
	// value or the end of the outermost value.
	for {
		if p >= n {
			return p, jsonSyntax
		}
		switch c := d[p]; {
		case c == '"':
			// Strings, names and values alike. The fast path (inlined
			// here, where almost every string is read) finds the closing
			// quote of a plain string eight bytes at a time; scanString
			// takes escapes, non-ASCII text and the last bytes of d.
			start, end, escaped := p+1, -1, false
			for q := start; n-q >= 8; q += 8 {
				if m := stringStops(binary.LittleEndian.Uint64(d[q:])); m != 0 {
					if q += bits.TrailingZeros64(m) >> 3; d[q] == '"' {
						end = q
					}
					break
				}
			}
			if end < 0 {
				var ok bool
				if end, escaped, ok = scanString(d, start); !ok {
					return end, jsonSyntax
				}
			}
			if !expectName {
				p = end + 1
				break
			}
			expectName = false
			if depth == 1 {
				topName = nameSpan{start: int32(start), end: int32(end), escaped: escaped}
			}
			// The usual name, plain and new to its object's filter, is
			// remembered here; addName takes the rest.
			obj := &objects[depth]
			key := nameKey(d[start:end])
			bit := uint64(1) << (key * 0x9e3779b1 >> 26)
			if !escaped && !obj.big && obj.seen&bit == 0 && len(names)-int(obj.names) < smallObject {
				obj.seen |= bit
				names = append(names, strictName{start: int32(start), end: int32(end), key: key})
			} else {
				var dup bool
				if names, dup = addName(d, start, end, escaped, depth, obj, names, &bigSets); dup {
					return end, jsonDuplicate
				}
			}
			p = skipWS(d, end+1)
			if p >= n || d[p] != ':' {
				return p, jsonSyntax
			}
			p = skipWS(d, p+1)
			if depth == 1 {
				topAt = p
			}
			continue // the member's value
		case expectName:
			return p, jsonSyntax
		case c == '{' || c == '[':
			depth++
			if depth > maxJSONDepth {
				return p, jsonTooDeep
			}
			p = skipWS(d, p+1)
			if c == '[' {
				kinds &^= 1 << (depth - 1)
				if p < n && d[p] == ']' {
					p++
					depth--
					break
				}
				continue // the first element
			}
			kinds |= 1 << (depth - 1)
			objects[depth] = strictObject{names: int32(len(names))}
			if p < n && d[p] == '}' {
				p++
				depth--
				break
			}
			expectName = true
			continue // the first member
		case c == 't':
			if n-p < 4 || string(d[p:p+4]) != "true" {
				return p, jsonSyntax
			}
			p += 4
		case c == 'f':
			if n-p < 5 || string(d[p:p+5]) != "false" {
				return p, jsonSyntax
			}
			p += 5
		case c == 'n':
			if n-p < 4 || string(d[p:p+4]) != "null" {
				return p, jsonSyntax
			}
			p += 4
		case c == '-' || (c >= '0' && c <= '9'):
			var ok bool
			if p, ok = scanNumber(d, p); !ok {
				return p, jsonSyntax
			}
		default:
			return p, jsonSyntax
		}
		// A value ended at p: close what it completes, find the next value.
	after:
		for {
			if depth == 0 {
				return p, jsonOK
			}
			if depth == 1 && index != nil {
				index.add(topName, topAt, p)
			}
			p = skipWS(d, p)
			if p >= n {
				return p, jsonSyntax
			}
			object := kinds&(1<<(depth-1)) != 0
			switch d[p] {
			case ',':
				p = skipWS(d, p+1)
				expectName = object
				break after
			case '}':
				if !object {
					return p, jsonSyntax
				}
				names = names[:objects[depth].names]
				if objects[depth].big {
					delete(bigSets, depth)
				}
			case ']':
				if object {
					return p, jsonSyntax
				}
			default:
				return p, jsonSyntax
			}
			p++
			depth--
		}
	}
}

// addName checks the member name d[start:end] against the names of its
// object (obj, at depth) and remembers it; names is the stack of the open
// objects' names, returned as it grew.
func addName(d []byte, start, end int, escaped bool, depth int, obj *strictObject, names []strictName, bigSets *map[int]map[string]struct{}) ([]strictName, bool) {
	name := d[start:end]
	if escaped {
		name = jsonString{raw: name, escaped: true}.decoded()
	}
	if obj.big {
		set := (*bigSets)[depth]
		if _, dup := set[bytesString(name)]; dup {
			return names, true
		}
		set[bytesString(name)] = struct{}{}
		return names, false
	}
	key := nameKey(name)
	bit := uint64(1) << (key * 0x9e3779b1 >> 26)
	own := names[obj.names:]
	if obj.seen&bit != 0 {
		for _, prev := range own {
			if prev.key != key {
				continue
			}
			pn := d[prev.start:prev.end]
			if prev.escaped {
				pn = jsonString{raw: pn, escaped: true}.decoded()
			}
			if bytes.Equal(pn, name) {
				return names, true
			}
		}
	}
	obj.seen |= bit
	if len(own) < smallObject {
		return append(names, strictName{start: int32(start), end: int32(end), key: key, escaped: escaped}), false
	}
	// A hostile object with thousands of members: a set keeps the check
	// linear.
	set := make(map[string]struct{}, 2*smallObject)
	for _, prev := range own {
		pn := d[prev.start:prev.end]
		if prev.escaped {
			pn = jsonString{raw: pn, escaped: true}.decoded()
		}
		set[bytesString(pn)] = struct{}{}
	}
	set[bytesString(name)] = struct{}{}
	if *bigSets == nil {
		*bigSets = make(map[int]map[string]struct{})
	}
	(*bigSets)[depth] = set
	obj.big = true
	return names[:obj.names], false
}

// SWAR constants: a 1 and a 0x80 in every byte of a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// stringStops marks, in the high bit of each byte of the little-endian word
// w, the bytes a string's fast path stops at: a quote, a backslash, a
// control character or a byte of a multi-byte UTF-8 sequence. Marks above
// the first true one may be spurious (a borrow crossing bytes); the lowest
// is always right, and it is the only one used.
func stringStops(w uint64) uint64 {
	q := w ^ (ones * '"')
	b := w ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (w-ones*0x20)&^w | w) & highs
}

// scanString reads the rest of a string whose opening quote is before p. It
// returns the position of the closing quote and whether the string holds
// escapes; ok is false for a string the strict rules reject (the position
// is then where it stopped).
func scanString(d []byte, p int) (end int, escaped, ok bool) {
	for {
		for len(d)-p >= 8 {
			if m := stringStops(binary.LittleEndian.Uint64(d[p:])); m != 0 {
				p += bits.TrailingZeros64(m) >> 3
				break
			}
			p += 8
		}
		for p < len(d) && plainStringByte[d[p]] {
			p++
		}
		if p >= len(d) {
			return p, escaped, false
		}
		switch c := d[p]; {
		case c == '"':
			return p, escaped, true
		case c == '\\':
			escaped = true
			if p+1 >= len(d) {
				return p, escaped, false
			}
			switch d[p+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p += 2
			case 'u':
				r, ok := hex4(d, p+2)
				if !ok {
					return p, escaped, false
				}
				p += 6
				switch {
				case r >= 0xDC00 && r <= 0xDFFF:
					return p, escaped, false // a lone low surrogate
				case r >= 0xD800 && r <= 0xDBFF:
					if len(d)-p < 6 || d[p] != '\\' || d[p+1] != 'u' {
						return p, escaped, false
					}
					lo, ok := hex4(d, p+2)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return p, escaped, false
					}
					p += 6
				}
			default:
				return p, escaped, false
			}
		case c < 0x20:
			return p, escaped, false
		default:
			r, size := utf8.DecodeRune(d[p:])
			if r == utf8.RuneError && size <= 1 {
				return p, escaped, false
			}
			p += size
		}
	}
}

// scanNumber reads a number starting at p; ok is false when it breaks the
// JSON grammar (the rest of the text judges what follows it).
func scanNumber(d []byte, p int) (int, bool) {
	n := len(d)
	if d[p] == '-' {
		p++
	}
	switch {
	case p >= n:
		return p, false
	case d[p] == '0':
		p++
	case d[p] >= '1' && d[p] <= '9':
		for p++; p < n && isDigit(d[p]); p++ {
		}
	default:
		return p, false
	}
	if p < n && d[p] == '.' {
		if p = skipDigits(d, p+1); p < 0 {
			return -p, false
		}
	}
	if p < n && (d[p] == 'e' || d[p] == 'E') {
		p++
		if p < n && (d[p] == '+' || d[p] == '-') {
			p++
		}
		if p = skipDigits(d, p); p < 0 {
			return -p, false
		}
	}
	return p, true
}

// skipDigits returns the position after the digits at p (> 0), or -p when
// there is none (a fraction or exponent needs at least one).
func skipDigits(d []byte, p int) int {
	start := p
	for p < len(d) && isDigit(d[p]) {
		p++
	}
	if p == start {
		return -p
	}
	return p
}
