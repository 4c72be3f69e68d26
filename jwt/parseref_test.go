package jwt

// The parser as it was before it was rewritten for speed (issue #14, round
// 2): the recursive strict scanner and Parse on encoding/base64, kept
// unchanged as the reference the rewrite is held to. TestParseMatchesTheReference,
// FuzzParseMatchesTheReference, TestStrictCheckMatchesTheReference and
// FuzzStrictCheckMatchesTheReference (strict_test.go) compare them.

import (
	"strings"
	"unicode/utf8"
)

// refDecodeB64 decodes a canonical unpadded base64url string with
// encoding/base64's strict raw URL decoder, which skips CR and LF: those
// are rejected first.
func refDecodeB64(dst []byte, s string) ([]byte, bool) {
	if strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0 {
		return nil, false
	}
	n, err := b64.Decode(dst, stringBytes(s))
	if err != nil {
		return nil, false
	}
	return dst[:n:n], true
}

// refScanner walks one JSON text. It never panics on arbitrary input.
type refScanner struct {
	data       []byte
	pos        int
	fault      jsonFault
	checkDups  bool
	depthLimit int
	index      *claimIndex // when set, the top-level object's members are recorded here
}

// refCheckObject is checkObject that also records where the top-level
// members are in index (when not nil): one pass over a payload serves every
// later claim lookup.
func refCheckObject(data []byte, index *claimIndex) jsonFault {
	s := refScanner{data: data, checkDups: true, depthLimit: maxJSONDepth, index: index}
	s.ws()
	if s.pos >= len(data) {
		return jsonSyntax
	}
	if data[s.pos] != '{' {
		if s.value(0) && s.atEnd() {
			return jsonNotObject
		}
		if s.fault != jsonOK {
			return s.fault
		}
		return jsonSyntax
	}
	if !s.value(0) {
		return s.fault
	}
	if !s.atEnd() {
		return jsonSyntax
	}
	return jsonOK
}

func (s *refScanner) fail(f jsonFault) bool {
	if s.fault == jsonOK {
		s.fault = f
	}
	return false
}

func (s *refScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *refScanner) atEnd() bool {
	s.ws()
	return s.pos == len(s.data)
}

// value consumes one JSON value starting at s.pos (no leading whitespace).
func (s *refScanner) value(depth int) bool {
	if s.pos >= len(s.data) {
		return s.fail(jsonSyntax)
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
		return s.number()
	}
	return s.fail(jsonSyntax)
}

func (s *refScanner) literal(lit string) bool {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.fail(jsonSyntax)
	}
	s.pos += len(lit)
	return true
}

func (s *refScanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && isDigit(s.data[s.pos]) {
		s.pos++
	}
	return s.pos > start
}

func (s *refScanner) number() bool {
	d := s.data
	if d[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(d) {
		return s.fail(jsonSyntax)
	}
	if d[s.pos] == '0' {
		s.pos++
	} else if !s.digits() {
		return s.fail(jsonSyntax)
	}
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if !s.digits() {
			return s.fail(jsonSyntax)
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if !s.digits() {
			return s.fail(jsonSyntax)
		}
	}
	return true
}

// str consumes a string starting at the opening quote.
func (s *refScanner) str() (jsonString, bool) {
	d := s.data
	s.pos++ // opening quote
	start := s.pos
	escaped := false
	for s.pos < len(d) {
		// Fast path over ordinary ASCII, the bulk of every claim set. The
		// position lives in a local: in wasm a field update is a memory
		// store per byte, and this loop is most of a token's parse time.
		pos := s.pos
		for pos < len(d) && plainStringByte[d[pos]] {
			pos++
		}
		s.pos = pos
		if s.pos >= len(d) {
			break
		}
		c := d[s.pos]
		switch {
		case c == '"':
			out := jsonString{raw: d[start:s.pos], escaped: escaped}
			s.pos++
			return out, true
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(d) {
				return jsonString{}, s.fail(jsonSyntax)
			}
			switch d[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				r, ok := hex4(d, s.pos+2)
				if !ok {
					return jsonString{}, s.fail(jsonSyntax)
				}
				s.pos += 6
				switch {
				case r >= 0xDC00 && r <= 0xDFFF:
					return jsonString{}, s.fail(jsonSyntax) // lone low surrogate
				case r >= 0xD800 && r <= 0xDBFF:
					if len(d)-s.pos < 6 || d[s.pos] != '\\' || d[s.pos+1] != 'u' {
						return jsonString{}, s.fail(jsonSyntax)
					}
					lo, ok := hex4(d, s.pos+2)
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return jsonString{}, s.fail(jsonSyntax)
					}
					s.pos += 6
				}
			default:
				return jsonString{}, s.fail(jsonSyntax)
			}
		case c < 0x20:
			return jsonString{}, s.fail(jsonSyntax)
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(d[s.pos:])
			if r == utf8.RuneError && size <= 1 {
				return jsonString{}, s.fail(jsonSyntax)
			}
			s.pos += size
		}
	}
	return jsonString{}, s.fail(jsonSyntax)
}

func (s *refScanner) array(depth int) bool {
	if depth > s.depthLimit {
		return s.fail(jsonTooDeep)
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

func (s *refScanner) name(n nameSpan) jsonString {
	return jsonString{raw: s.data[n.start:n.end], escaped: n.escaped}
}

func (s *refScanner) object(depth int) bool {
	if depth > s.depthLimit {
		return s.fail(jsonTooDeep)
	}
	s.pos++ // {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return true
	}
	var (
		local [smallObject]nameSpan
		names = local[:0]
		seen  map[string]struct{}
	)
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.fail(jsonSyntax)
		}
		start := s.pos + 1
		name, ok := s.str()
		if !ok {
			return false
		}
		span := nameSpan{start: int32(start), end: int32(start + len(name.raw)), escaped: name.escaped}
		if s.checkDups {
			switch {
			case seen != nil:
				key := bytesString(name.decoded())
				if _, dup := seen[key]; dup {
					return s.fail(jsonDuplicate)
				}
				seen[key] = struct{}{}
			case len(names) < smallObject:
				for _, prev := range names {
					// Unescaped names of different lengths differ: skip the
					// call (a 20-member payload makes 190 comparisons).
					if !prev.escaped && !name.escaped && int(prev.end-prev.start) != len(name.raw) {
						continue
					}
					if s.name(prev).equal(name) {
						return s.fail(jsonDuplicate)
					}
				}
				names = append(names, span)
			default:
				seen = make(map[string]struct{}, 2*smallObject)
				for _, prev := range names {
					seen[bytesString(s.name(prev).decoded())] = struct{}{}
				}
				key := bytesString(name.decoded())
				if _, dup := seen[key]; dup {
					return s.fail(jsonDuplicate)
				}
				seen[key] = struct{}{}
			}
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail(jsonSyntax)
		}
		s.pos++
		s.ws()
		valueStart := s.pos
		if !s.value(depth) {
			return false
		}
		if depth == 1 && s.index != nil {
			s.index.add(span, valueStart, s.pos)
		}
		if more, ok := s.separator('}'); !more {
			return ok
		}
	}
}

// separator consumes what follows an array element or object member: a
// comma (more is true: another element follows) or the closing byte (more
// is false, ok true). Anything else, or the end of the text, is a syntax
// error (more and ok both false). Arrays and objects share it so both
// reject trailing garbage the same way.
func (s *refScanner) separator(closing byte) (more, ok bool) {
	s.ws()
	if s.pos >= len(s.data) {
		return false, s.fail(jsonSyntax)
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return true, true
	case closing:
		s.pos++
		return false, true
	}
	return false, s.fail(jsonSyntax)
}

// refParse is Parse before the rewrite.
func refParse(raw string, maxBytes int) (*Token, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTokenBytes
	}
	if len(raw) > maxBytes {
		return nil, errTooLarge
	}
	if raw == "" {
		return nil, errEmptyToken
	}
	// Exactly two dots. IndexByte (assembly even in wasm) finds them; the
	// full count only runs for the rare token that has more.
	d1 := strings.IndexByte(raw, '.')
	d2 := -1
	if d1 >= 0 {
		if i := strings.IndexByte(raw[d1+1:], '.'); i >= 0 {
			d2 = d1 + 1 + i
		}
	}
	switch {
	case d2 < 0:
		return nil, errSegments
	case strings.IndexByte(raw[d2+1:], '.') >= 0:
		if strings.Count(raw, ".") == 4 {
			return nil, errJWE
		}
		return nil, errSegments
	}
	hSeg, pSeg, sSeg := raw[:d1], raw[d1+1:d2], raw[d2+1:]
	if hSeg == "" || pSeg == "" {
		return nil, errEmptySeg
	}
	if sSeg == "" {
		return nil, errUnsigned
	}

	// One allocation holds all three decoded segments.
	hn, pn, sn := b64.DecodedLen(len(hSeg)), b64.DecodedLen(len(pSeg)), b64.DecodedLen(len(sSeg))
	buf := make([]byte, hn+pn+sn)
	header, ok := refDecodeB64(buf[:hn], hSeg)
	if !ok {
		return nil, errBase64
	}
	payload, ok := refDecodeB64(buf[hn:hn+pn], pSeg)
	if !ok {
		return nil, errBase64
	}
	sig, ok := refDecodeB64(buf[hn+pn:], sSeg)
	if !ok {
		return nil, errBase64
	}
	if f := refCheckObject(header, nil); f != jsonOK {
		return nil, headerError(f)
	}
	t := &Token{Raw: raw, Header: header, Payload: payload, Signature: sig, signingInput: raw[:d2]}
	if f := refCheckObject(payload, &t.claims); f != jsonOK {
		return nil, payloadError(f)
	}

	it := newMemberIter(header)
	hasAlg := false
	for {
		name, v, ok := it.next()
		if !ok {
			break
		}
		switch {
		case name.equalString("alg"):
			s, ok := stringValue(v)
			if !ok {
				return nil, errAlgType
			}
			hasAlg = true
			algName := s.str()
			a, ok := ParseAlg(algName)
			if !ok {
				if strings.EqualFold(algName, "none") {
					return nil, errAlgNone
				}
				return nil, errAlgUnknown
			}
			t.alg, t.Alg = a, a.String()
		case name.equalString("crit"):
			return nil, errCrit
		case name.equalString("b64"):
			// RFC 7797: b64:false changes what is signed. It is not
			// supported; an explicit true changes nothing.
			if string(v) != "true" {
				return nil, errB64
			}
		case name.equalString("kid"):
			s, ok := stringValue(v)
			if !ok {
				return nil, errKidType
			}
			t.Kid, t.HasKid = s.str(), true
		}
	}
	if !hasAlg {
		return nil, errNoAlg
	}
	return t, nil
}
