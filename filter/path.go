package filter

import "strings"

// Rules match the path the upstream will act on, not the bytes the client
// chose: "/health/../admin", "/health//..//admin" and "/%68ealth/%2e%2e/admin"
// all reach /admin on an upstream that resolves dot segments, so matching the
// raw text would let an allow rule on /health guard /admin. The matching path
// is therefore normalised the way Envoy's normalize_path + merge_slashes do
// (RFC 3986 §6.2.2: decode percent-encoded unreserved characters, remove dot
// segments) plus merged slashes. The request itself is forwarded unchanged.

// rulePath returns the path rules are matched against and whether the path is
// ambiguous. A path is ambiguous when its encoded slashes or backslashes
// ("%2F", "%5C", "\") would select a different rule if the upstream decoded
// them as separators; such a request is refused rather than guessed at.
func (c *Config) rulePath(path, method string) (string, bool) {
	if !needsNormalising(path) {
		return path, false // the common case: no allocation
	}
	keep := normalisePath(path, false)
	split := normalisePath(path, true)
	if keep == split {
		return keep, false
	}
	return keep, c.selectRequirement(keep, method) != c.selectRequirement(split, method)
}

// needsNormalising reports whether path holds anything normalisation could change.
func needsNormalising(path string) bool {
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '%', '\\', ';':
			return true
		case '/':
			if i+1 < len(path) && (path[i+1] == '/' || path[i+1] == '.') {
				return true
			}
		}
	}
	return false
}

// normalisePath decodes percent-encoded unreserved characters, merges
// slashes and removes dot segments. With splitEncoded, "%2F", "%5C" and "\"
// also count as separators (as some upstreams treat them).
func normalisePath(path string, splitEncoded bool) string {
	decoded := make([]byte, 0, len(path))
	for i := 0; i < len(path); i++ {
		b := path[i]
		if b == '%' && i+2 < len(path) {
			if v, ok := unhex2(path[i+1], path[i+2]); ok {
				switch {
				case isUnreserved(v):
					decoded = append(decoded, v)
					i += 2
					continue
				case splitEncoded && (v == '/' || v == '\\'):
					decoded = append(decoded, '/')
					i += 2
					continue
				}
			}
		}
		if splitEncoded && b == '\\' {
			b = '/'
		}
		decoded = append(decoded, b)
	}
	// Split into segments (merging slashes) and resolve "." and "..".
	var segs []string
	start := 0
	for i := 0; i <= len(decoded); i++ {
		if i < len(decoded) && decoded[i] != '/' {
			continue
		}
		seg := string(decoded[start:i])
		start = i + 1
		// Servlet-style upstreams drop ";params" before resolving dot
		// segments, so "..;x" climbs like "..".
		name := seg
		if semi := strings.IndexByte(seg, ';'); semi >= 0 {
			name = seg[:semi]
		}
		switch name {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, seg)
		}
	}
	out := make([]byte, 0, len(decoded)+1)
	for _, s := range segs {
		out = append(out, '/')
		out = append(out, s...)
	}
	// Keep a trailing slash (and the root) so "/api/" still differs from "/api".
	if len(out) == 0 || (len(decoded) > 0 && decoded[len(decoded)-1] == '/') ||
		hasTrailingDotSegment(decoded) {
		out = append(out, '/')
	}
	return string(out)
}

// hasTrailingDotSegment reports whether p ends in "/." or "/..", which RFC
// 3986's remove_dot_segments resolves to a directory (a trailing slash).
func hasTrailingDotSegment(p []byte) bool {
	n := len(p)
	return (n >= 2 && p[n-1] == '.' && p[n-2] == '/') ||
		(n >= 3 && p[n-1] == '.' && p[n-2] == '.' && p[n-3] == '/')
}

func isUnreserved(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '-' || b == '.' || b == '_' || b == '~'
}

func unhex2(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
