package jwt

import (
	"errors"
	"strconv"
	"strings"
)

// Claim paths name a value inside the payload: member names separated by
// dots, walking into nested objects ("realm_access.roles"). A dot that is
// part of a member name is written `\.`, a backslash `\\`; no other escape
// exists, so "https://example\.com/roles" names the top-level claim
// "https://example.com/roles". Paths never index into arrays.

// CheckClaimPath reports whether path is a well-formed claim path: no empty
// segment, and a backslash only before '.' or '\'. Callers validate
// configured paths with it once; lookups treat a malformed path as absent.
func CheckClaimPath(path string) error {
	if path == "" {
		return errors.New("claim path is empty")
	}
	rest := path
	for {
		_, next, more, ok := nextSegment(rest)
		if !ok {
			return errors.New("claim path " + quote(path) + ` has an empty segment or a backslash not followed by "." or "\"`)
		}
		if !more {
			return nil
		}
		rest = next
	}
}

// nextSegment splits the first segment (still escaped) off path.
func nextSegment(path string) (seg, rest string, more, ok bool) {
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			if i+1 >= len(path) || (path[i+1] != '.' && path[i+1] != '\\') {
				return "", "", false, false
			}
			i++
		case '.':
			if i == 0 {
				return "", "", false, false
			}
			return path[:i], path[i+1:], true, true
		}
	}
	if path == "" {
		return "", "", false, false
	}
	return path, "", false, true
}

// segmentEqual compares a decoded member name with an escaped path segment.
func segmentEqual(name []byte, seg string) bool {
	j := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c == '\\' {
			i++
			c = seg[i] // nextSegment guarantees an escaped byte follows
		}
		if j >= len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

// lookupPath returns the raw JSON value at path, if present. idx, when not
// nil, locates payload's top-level members.
func lookupPath(payload []byte, idx *claimIndex, path string) ([]byte, bool) {
	cur := payload
	rest := path
	top := true
	for {
		seg, next, more, ok := nextSegment(rest)
		if !ok {
			return nil, false
		}
		if kindOf(trimLeftWS(cur)) != kindObject {
			return nil, false
		}
		var found bool
		if top && idx != nil && !idx.overflow {
			cur, found = idx.member(cur, seg)
		} else {
			cur, found = scanMember(cur, seg)
		}
		top = false
		if !found {
			return nil, false
		}
		if !more {
			return cur, true
		}
		rest = next
	}
}

// member returns the value of the indexed member of payload that seg (an
// escaped path segment) names. It compares the index's spans directly: in
// wasm a call per member (the iterator's) costs more than the comparison.
func (x *claimIndex) member(payload []byte, seg string) ([]byte, bool) {
	plain := strings.IndexByte(seg, '\\') < 0 // the usual segment: compared as it is
	for i := 0; i < x.n; i++ {
		c := &x.members[i]
		name := payload[c.name.start:c.name.end]
		if plain && !c.name.escaped {
			if len(name) != len(seg) || string(name) != seg {
				continue
			}
		} else if !segmentEqual(jsonString{raw: name, escaped: c.name.escaped}.decoded(), seg) {
			continue
		}
		return payload[c.valueStart:c.valueEnd], true
	}
	return nil, false
}

// scanMember returns the value of the member of obj that seg (an escaped
// path segment) names, scanning obj.
func scanMember(obj []byte, seg string) ([]byte, bool) {
	it := newMemberIter(obj)
	for {
		n, v, ok := it.next()
		if !ok {
			return nil, false
		}
		if segmentEqual(n.decoded(), seg) {
			return v, true
		}
	}
}

// Scopes returns the scopes from the first claim in claimNames (each a claim
// path) that is present: a space-delimited string (RFC 8693 "scope") or an
// array of strings ("scp"). A present claim of any other type, or an array
// holding a non-string, yields nil: a malformed scope claim grants nothing.
// The strings may share memory with payload.
func Scopes(payload []byte, claimNames []string) []string { return scopes(payload, nil, claimNames) }

// Scopes is Scopes on the token's payload, using where Parse found its
// claims.
func (t *Token) Scopes(claimNames []string) []string { return scopes(t.Payload, &t.claims, claimNames) }

func scopes(payload []byte, idx *claimIndex, claimNames []string) []string {
	for _, name := range claimNames {
		v, ok := lookupPath(payload, idx, name)
		if !ok {
			continue
		}
		switch kindOf(v) {
		case kindString:
			s, ok := stringValue(v)
			if !ok {
				return nil
			}
			return splitSpaces(s.str())
		case kindArray:
			n := 0
			it := newArrayIter(v)
			for {
				e, ok := it.next()
				if !ok {
					break
				}
				if kindOf(e) != kindString {
					return nil
				}
				n++
			}
			if it.bad {
				return nil
			}
			out := make([]string, 0, n)
			it = newArrayIter(v)
			for {
				e, ok := it.next()
				if !ok {
					break
				}
				s, _ := stringValue(e)
				out = append(out, s.str())
			}
			return out
		}
		return nil
	}
	return nil
}

// splitSpaces splits on single spaces (the scope syntax of RFC 6749 §3.3),
// ignoring empty items. The result is one allocation, sized by the spaces.
func splitSpaces(s string) []string {
	n := 1
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			n++
		}
	}
	out := make([]string, 0, n)
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// ClaimContains reports whether the value at path holds at least one of
// values: a string equal to one (compared whole: "mallory admin" does not
// hold "admin", since only scope claims are space-delimited lists, and
// Scopes reads those); an array with an element equal to one (strings
// exactly, numbers numerically, booleans as "true"/"false"); a number
// numerically equal to one; a boolean spelled as one. Objects, null and
// absent paths hold nothing.
func ClaimContains(payload []byte, path string, values []string) bool {
	v, ok := lookupPath(payload, nil, path)
	if !ok {
		return false
	}
	if kindOf(v) == kindArray {
		it := newArrayIter(v)
		for {
			e, ok := it.next()
			if !ok {
				return false
			}
			if scalarMatches(e, values) {
				return true
			}
		}
	}
	return scalarMatches(v, values)
}

// scalarMatches compares one string, number or boolean with values.
func scalarMatches(v []byte, values []string) bool {
	switch kindOf(v) {
	case kindString:
		s, ok := stringValue(v)
		return ok && containsString(values, s.str())
	case kindNumber:
		f, err := strconv.ParseFloat(bytesString(v), 64)
		if err != nil {
			return false
		}
		for _, want := range values {
			if w, err := strconv.ParseFloat(want, 64); err == nil && w == f {
				return true
			}
		}
	case kindBool:
		return containsString(values, bytesString(v))
	}
	return false
}

// ClaimHeaderValue renders the value at path for an HTTP request header:
// strings as they are, arrays as their elements joined with "," (string
// elements as they are, others as compact JSON), objects as compact JSON,
// numbers and booleans as their JSON text. Absent paths, null, and values
// that contain control characters (which no header may carry) report false.
// A string without escapes, a number and a boolean share memory with
// payload, which must not be modified afterwards (Token payloads never are).
func ClaimHeaderValue(payload []byte, path string) (string, bool) {
	return claimHeaderValue(payload, nil, path)
}

// ClaimHeaderValue is ClaimHeaderValue on the token's payload, using where
// Parse found its claims.
func (t *Token) ClaimHeaderValue(path string) (string, bool) {
	return claimHeaderValue(t.Payload, &t.claims, path)
}

// Issuer returns the token's iss when it is a JSON string (StringClaim("iss"),
// found where Parse noted it).
func (t *Token) Issuer() (string, bool) {
	if t.claims.overflow {
		return t.StringClaim("iss")
	}
	v, ok := t.registeredValue(t.registered.iss)
	if !ok {
		return "", false
	}
	s, ok := stringValue(v)
	if !ok {
		return "", false
	}
	return s.str(), true
}

// registeredValue returns the value of the indexed member at pos (1 + its
// position, as registeredClaims keeps it; 0 for an absent claim).
func (t *Token) registeredValue(pos int8) ([]byte, bool) {
	if pos <= 0 || int(pos) > t.claims.n {
		return nil, false
	}
	c := &t.claims.members[pos-1]
	return t.Payload[c.valueStart:c.valueEnd], true
}

// StringClaim returns the top-level claim name when it is a JSON string
// (decoded; it may share memory with the payload).
func (t *Token) StringClaim(name string) (string, bool) {
	it := membersOf(t.Payload, &t.claims)
	for {
		n, v, ok := it.next()
		if !ok {
			return "", false
		}
		if n.equalString(name) {
			s, ok := stringValue(v)
			if !ok {
				return "", false
			}
			return s.str(), true
		}
	}
}

func claimHeaderValue(payload []byte, idx *claimIndex, path string) (string, bool) {
	v, ok := lookupPath(payload, idx, path)
	if !ok {
		return "", false
	}
	switch kindOf(v) {
	case kindString:
		s, ok := stringValue(v)
		if !ok {
			return "", false
		}
		d := s.decoded()
		if !headerSafe(d) {
			return "", false
		}
		return bytesString(d), true
	case kindNumber, kindBool:
		return bytesString(v), true
	case kindObject:
		out := compactJSON(make([]byte, 0, len(v)), v)
		return string(out), true
	case kindArray:
		out := make([]byte, 0, len(v))
		it := newArrayIter(v)
		first := true
		for {
			e, ok := it.next()
			if !ok {
				break
			}
			if !first {
				out = append(out, ',')
			}
			first = false
			if kindOf(e) == kindString {
				s, ok := stringValue(e)
				if !ok || !headerSafe(s.decoded()) {
					return "", false
				}
				out = append(out, s.decoded()...)
			} else {
				out = compactJSON(out, e)
			}
		}
		if it.bad {
			return "", false
		}
		return string(out), true
	}
	return "", false
}

// headerSafe rejects control characters other than horizontal tab.
func headerSafe(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// compactJSON appends v without insignificant whitespace. v is a value the
// scanner accepted, so raw strings hold no control characters.
func compactJSON(dst, v []byte) []byte {
	inString := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inString {
			dst = append(dst, c)
			switch c {
			case '\\':
				if i+1 < len(v) {
					i++
					dst = append(dst, v[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			inString = true
			dst = append(dst, c)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
