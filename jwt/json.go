package jwt

import (
	"bytes"
	"unicode/utf8"
	"unsafe"
)

// This file is a small, strict JSON reader. encoding/json is too slow and
// allocation-heavy for the request path, and neither it nor gjson rejects
// duplicate member names, which RFC 7515 §5.2 and RFC 8725 ask for: two
// parsers that disagree about which duplicate wins are a bypass.
//
// Strict means RFC 8259 grammar plus: valid UTF-8 only, no unpaired
// surrogate escapes, bounded nesting, and (when asked) no duplicate member
// names in any object, compared after unescaping.

// maxJSONDepth bounds object/array nesting in tokens and key sets.
const maxJSONDepth = 32

// jsonFault says what is wrong with a JSON text.
type jsonFault uint8

const (
	jsonOK jsonFault = iota
	jsonSyntax
	jsonDuplicate
	jsonTooDeep
	jsonNotObject
)

func (f jsonFault) String() string {
	switch f {
	case jsonSyntax:
		return "invalid JSON"
	case jsonDuplicate:
		return "duplicate member name"
	case jsonTooDeep:
		return "JSON nested too deeply"
	case jsonNotObject:
		return "not a JSON object"
	}
	return "ok"
}

// checkObject reports whether data is exactly one strict JSON object (with
// surrounding whitespace allowed) without duplicate member names anywhere
// (checkStrict, strict.go).
func checkObject(data []byte) jsonFault {
	var sc strictScratch
	return checkStrict(data, nil, &sc)
}

// scanner walks the values of a JSON text for the readers at the end of
// this file; checkStrict judges texts. It never panics on arbitrary input
// and bounds its recursion at maxJSONDepth.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) ws() { s.pos = skipWS(s.data, s.pos) }

// value consumes one JSON value starting at s.pos (no leading whitespace).
func (s *scanner) value(depth int) bool {
	if s.pos >= len(s.data) {
		return false
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, ok := s.str()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		var ok bool
		s.pos, ok = scanNumber(s.data, s.pos)
		return ok
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return false
	}
	s.pos += len(lit)
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// hex4 reads four hex digits at p.
func hex4(d []byte, p int) (rune, bool) {
	if len(d)-p < 4 {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		v := hexVal(d[p+i])
		if v < 0 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// plainStringByte marks ASCII bytes that stand for themselves inside a JSON
// string (not a quote, backslash or control character).
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonString is a string token: the bytes between the quotes, and whether
// they contain escapes (then they must be decoded before use).
type jsonString struct {
	raw     []byte
	escaped bool
}

// str consumes a string starting at the opening quote.
func (s *scanner) str() (jsonString, bool) {
	start := s.pos + 1
	end, escaped, ok := scanString(s.data, start)
	if !ok {
		s.pos = end
		return jsonString{}, false
	}
	s.pos = end + 1
	return jsonString{raw: s.data[start:end], escaped: escaped}, true
}

func (s *scanner) array(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	s.pos++ // [
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return true
	}
	for {
		s.ws()
		if !s.value(depth) {
			return false
		}
		if more, ok := s.separator(']'); !more {
			return ok
		}
	}
}

// smallObject is how many member names of one object checkStrict keeps
// for its duplicate check before switching to a map, so a hostile object
// with thousands of members costs linear time while ordinary claim sets
// never allocate.
const smallObject = 64

// nameSpan locates a member name in the scanned text (offsets keep the
// per-object array small enough for the stack).
type nameSpan struct {
	start, end int32
	escaped    bool
}

func (s *scanner) object(depth int) bool {
	if depth > maxJSONDepth {
		return false
	}
	s.pos++ // {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return true
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return false
		}
		if _, ok := s.str(); !ok {
			return false
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return false
		}
		s.pos++
		s.ws()
		if !s.value(depth) {
			return false
		}
		if more, ok := s.separator('}'); !more {
			return ok
		}
	}
}

// maxIndexedClaims bounds the members a claimIndex records; a payload with
// more is read by scanning, as if it had no index.
const maxIndexedClaims = 32

// claimIndex locates the top-level members of a payload checked by
// checkStrict, so reading a claim costs a comparison of names
// instead of a scan of the payload (a scan is several microseconds in wasm,
// and a token's claims are read four times: issuer, registered claims,
// scopes, claim headers).
type claimIndex struct {
	n        int
	overflow bool
	members  [maxIndexedClaims]claimSpan // the first n are the members
}

// claimSpan is one member: its name and its value's bounds in the payload.
type claimSpan struct {
	name                 nameSpan
	valueStart, valueEnd int32
}

// reset empties the index (the members past n are never read).
func (x *claimIndex) reset() { x.n, x.overflow = 0, false }

func (x *claimIndex) add(name nameSpan, valueStart, valueEnd int) {
	if x.n == len(x.members) {
		x.overflow = true
		return
	}
	x.members[x.n] = claimSpan{name: name, valueStart: int32(valueStart), valueEnd: int32(valueEnd)}
	x.n++
}

// registeredClaims notes where, among a payload's indexed members, the
// claims read on every cache miss are, so that reading them walks no index.
type registeredClaims struct {
	validated uint32 // bit i: member i is iss, sub, aud, exp, nbf or iat (what Validator reads)
	iss, cnf  int8   // 1 + the member's position; 0 when absent
}

// registeredOf finds the registered claims among the members x indexed in
// payload (x must not have overflowed).
func registeredOf(payload []byte, x *claimIndex) registeredClaims {
	var r registeredClaims
	for i := 0; i < x.n; i++ {
		c := &x.members[i]
		if c.name.end-c.name.start != 3 && !c.name.escaped {
			continue // the usual case: no registered claim name has another length
		}
		name := jsonString{raw: payload[c.name.start:c.name.end], escaped: c.name.escaped}.decoded()
		if len(name) != 3 {
			continue
		}
		switch uint32(name[0]) | uint32(name[1])<<8 | uint32(name[2])<<16 {
		case claimISS:
			r.iss = int8(i + 1)
			r.validated |= 1 << i
		case claimCNF:
			r.cnf = int8(i + 1)
		case claimSUB, claimAUD, claimEXP, claimNBF, claimIAT:
			r.validated |= 1 << i
		}
	}
	return r
}

// topMembers walks the top-level members of a payload: from its index when
// that holds them all, else by scanning (idx may be nil).
type topMembers struct {
	data []byte
	idx  *claimIndex
	i    int
	it   memberIter
}

func membersOf(payload []byte, idx *claimIndex) topMembers {
	if idx != nil && !idx.overflow {
		return topMembers{data: payload, idx: idx}
	}
	return topMembers{data: payload, it: newMemberIter(payload)}
}

// next returns the next member's name and raw value.
func (m *topMembers) next() (jsonString, []byte, bool) {
	if m.idx == nil {
		return m.it.next()
	}
	if m.i >= m.idx.n {
		return jsonString{}, nil, false
	}
	c := &m.idx.members[m.i]
	m.i++
	return jsonString{raw: m.data[c.name.start:c.name.end], escaped: c.name.escaped}, m.data[c.valueStart:c.valueEnd], true
}

// separator consumes what follows an array element or object member: a
// comma (more is true: another element follows) or the closing byte (more
// is false, ok true). Anything else, or the end of the text, is a syntax
// error (more and ok both false). Arrays and objects share it so both
// reject trailing garbage the same way.
func (s *scanner) separator(closing byte) (more, ok bool) {
	s.ws()
	if s.pos >= len(s.data) {
		return false, false
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return true, true
	case closing:
		s.pos++
		return false, true
	}
	return false, false
}

// equal compares two member names after unescaping.
func (a jsonString) equal(b jsonString) bool {
	if !a.escaped && !b.escaped {
		return bytes.Equal(a.raw, b.raw)
	}
	return bytes.Equal(a.decoded(), b.decoded())
}

// equalString compares the decoded string with s without allocating when
// the string has no escapes.
func (a jsonString) equalString(s string) bool {
	if !a.escaped {
		return string(a.raw) == s
	}
	return string(a.decoded()) == s
}

// decoded returns the string's bytes with escapes resolved. Without escapes
// it returns the raw bytes themselves. The input must have been accepted by
// scanner.str.
func (a jsonString) decoded() []byte {
	if !a.escaped {
		return a.raw
	}
	out := make([]byte, 0, len(a.raw))
	d := a.raw
	for i := 0; i < len(d); {
		c := d[i]
		if c != '\\' || i+1 >= len(d) {
			out = append(out, c)
			i++
			continue
		}
		switch d[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(d, i+2)
			if !ok {
				return out
			}
			i += 6
			if r >= 0xD800 && r <= 0xDBFF {
				if lo, ok := hex4(d, i+2); ok && i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					i += 6
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, d[i+1])
		}
		i += 2
	}
	return out
}

// str returns the decoded string as a Go string. Without escapes it shares
// memory with the JSON text, which callers treat as immutable.
func (a jsonString) str() string { return bytesString(a.decoded()) }

// bytesString views b as a string without copying. The bytes must never be
// modified afterwards; token buffers in this package never are.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// stringBytes views s as bytes without copying; the result must not be
// written to.
func stringBytes(s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// Reading already-bounded JSON values. The readers below re-scan what they
// skip, so they stay safe on arbitrary input: anything malformed simply
// ends the iteration.

// valueKind is the JSON type of a raw value.
type valueKind uint8

const (
	kindInvalid valueKind = iota
	kindObject
	kindArray
	kindString
	kindNumber
	kindBool
	kindNull
)

func kindOf(v []byte) valueKind {
	if len(v) == 0 {
		return kindInvalid
	}
	switch c := v[0]; {
	case c == '{':
		return kindObject
	case c == '[':
		return kindArray
	case c == '"':
		return kindString
	case c == 't' || c == 'f':
		return kindBool
	case c == 'n':
		return kindNull
	case c == '-' || isDigit(c):
		return kindNumber
	}
	return kindInvalid
}

// stringValue decodes a raw JSON string value (with its quotes).
func stringValue(v []byte) (jsonString, bool) {
	if len(v) < 2 || v[0] != '"' {
		return jsonString{}, false
	}
	end, escaped, ok := scanString(v, 1)
	if !ok || end != len(v)-1 {
		return jsonString{}, false
	}
	return jsonString{raw: v[1:end], escaped: escaped}, true
}

// memberIter walks the members of a raw JSON object.
type memberIter struct {
	s    scanner
	done bool
}

func newMemberIter(obj []byte) memberIter {
	it := memberIter{s: scanner{data: obj}}
	it.s.ws()
	if it.s.pos >= len(obj) || obj[it.s.pos] != '{' {
		it.done = true
		return it
	}
	it.s.pos++
	it.s.ws()
	if it.s.pos < len(obj) && obj[it.s.pos] == '}' {
		it.done = true
	}
	return it
}

// next returns the next member's name and raw value.
func (it *memberIter) next() (name jsonString, value []byte, ok bool) {
	if it.done {
		return jsonString{}, nil, false
	}
	s := &it.s
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != '"' {
		it.done = true
		return jsonString{}, nil, false
	}
	name, ok = s.str()
	if !ok {
		it.done = true
		return jsonString{}, nil, false
	}
	s.ws()
	if s.pos >= len(s.data) || s.data[s.pos] != ':' {
		it.done = true
		return jsonString{}, nil, false
	}
	s.pos++
	s.ws()
	start := s.pos
	if !s.value(1) {
		it.done = true
		return jsonString{}, nil, false
	}
	value = s.data[start:s.pos]
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ',' {
		s.pos++
	} else {
		it.done = true // '}' or garbage: either way this was the last member
	}
	return name, value, true
}

// member finds the value of the member called name (which holds no
// backslash, so it is its own claim path segment) in a raw object.
func member(obj []byte, name string) ([]byte, bool) { return scanMember(obj, name) }

// arrayIter walks the elements of a raw JSON array.
type arrayIter struct {
	s    scanner
	done bool
	bad  bool
}

func newArrayIter(arr []byte) arrayIter {
	it := arrayIter{s: scanner{data: arr}}
	it.s.ws()
	if it.s.pos >= len(arr) || arr[it.s.pos] != '[' {
		it.done, it.bad = true, true
		return it
	}
	it.s.pos++
	it.s.ws()
	if it.s.pos < len(arr) && arr[it.s.pos] == ']' {
		it.done = true
	}
	return it
}

// next returns the next element's raw value.
func (it *arrayIter) next() ([]byte, bool) {
	if it.done {
		return nil, false
	}
	s := &it.s
	s.ws()
	start := s.pos
	if !s.value(1) {
		it.done, it.bad = true, true
		return nil, false
	}
	v := s.data[start:s.pos]
	s.ws()
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == ',':
		s.pos++
	case s.pos < len(s.data) && s.data[s.pos] == ']':
		it.done = true
	default:
		it.done, it.bad = true, true
	}
	return v, true
}
