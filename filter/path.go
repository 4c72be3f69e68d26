package filter

import (
	"math/bits"
	"strings"
	"unsafe"
)

// One reading (docs/paths.md). The filter judges a request by the rule its
// path selects, but the proxy and the upstream act on their own reading of
// the path: Envoy and nginx decode and resolve it one way, servlet
// containers strip ";params" first, Go's ServeMux resolves dot segments
// before it decodes, Node's URL parser treats "\" as "/" and "//host" as an
// authority. So the filter does not guess one reading: it resolves the path
// under every combination of the choices those readers make and answers 400
// invalid_request when two readings select different rules. A rule can then
// only ever be judged against the path the upstream serves.
//
// The choices are per spelling, not per occurrence: a reader decodes every
// "%2F" of a path the same way, because decoding is a function of the bytes
// and never of their position. The only position-dependent step a reader
// takes is cutting ";params", which removes the rest of the raw segment
// whatever escapes it holds, and stripParams models exactly that (params are
// cut before anything is decoded, as servlet containers and Spring do).
// Readings that decode the first "%2F" and keep the second are made by no
// server, so they are not computed: a path with k encoded slashes has two
// readings for them, not 2^k. With eight choices the work is bounded by
// 192 resolutions of the path (2^8, less the "%3B" readings that read
// alike), each linear in its length, into one reused buffer; only the
// choices whose spelling occurs in the path are varied: a path with one ";"
// has two readings, an ordinary path (no ";", "%", "\", "//" or "/.")
// exactly one, the path itself, without allocating.
// A path whose readings would resolve more than maxReadingWork bytes in all
// (many choices on a long path: no client sends one) is refused with 400
// rather than judged, so one request costs at most that much work.
//
// Escapes are decoded once, like every reader listed (a double-decoding
// application, "%252F" read as "/", is outside what the filter can see).

// reading is one combination of the choices readers make, one bit each.
type reading uint8

const (
	// stripParams cuts ";params" off every raw segment before anything is
	// decoded (servlet containers): "..;x" then climbs like "..".
	stripParams reading = 1 << iota
	// splitEncodedSlash reads "%2F" as a separator (nginx, permissive servlets).
	splitEncodedSlash
	// splitEncodedBackslash reads "%5C" as a separator.
	splitEncodedBackslash
	// splitBackslash reads "\" as a separator (WHATWG URL, Chromium's canonicaliser).
	splitBackslash
	// decodeEncodedSemicolon decodes "%3B" to ";" before params are cut.
	decodeEncodedSemicolon
	// decodeEncodedDot reads "%2E" as "." when dot segments are resolved
	// (Envoy, nginx, WHATWG); without it "%2E%2E" is an ordinary segment (Go's ServeMux).
	decodeEncodedDot
	// decodeText decodes the other escapes in the text rules are compared
	// with (Go, nginx, servlets); without it they stay encoded (Node, Express).
	decodeText
	// dropAuthority reads "//host/rest" as an authority and the path "/rest"
	// (WHATWG URL parsing a request target against a base).
	dropAuthority
)

// pathVerdict says whether a request path can be judged.
type pathVerdict uint8

const (
	pathOK            pathVerdict = iota
	pathAmbiguous                 // readings of the path select different rules
	pathNotOriginForm             // "*" without a rule for it, absolute- or authority-form, empty, no leading "/", a fragment
	pathTooComplex                // its readings would take more than maxReadingWork bytes to resolve
)

// maxReadingWork bounds the bytes resolved for one path over all its
// readings: every choice (192 readings) up to a 340-byte path, two readings
// (a ";") up to 32 KiB. BenchmarkPathReadings measures the worst case.
const maxReadingWork = 1 << 16

// requirementFor returns the requirement for a request target (:path, query
// included) and an upper-case method, or the reason it cannot be judged.
func (c *Config) requirementFor(target, method string) (*Requirement, pathVerdict) {
	if strings.IndexByte(target, '#') >= 0 {
		return nil, pathNotOriginForm // RFC 9112 §3.2: no fragment in a request target; Envoy rejects one too
	}
	path := target
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if target == "*" {
		return c.asteriskRequirement(method)
	}
	if path == "" || path[0] != '/' {
		return nil, pathNotOriginForm
	}
	if !needsNormalising(path) {
		req := c.selectRequirement(path, method)
		if c.slashTwinDiffers(path, method, req) || c.caseTwinDiffers(path, method, req) {
			return nil, pathAmbiguous
		}
		return req, pathOK
	}
	choices := choicesIn(path)
	if choices.readings()*(len(path)+1) > maxReadingWork {
		return nil, pathTooComplex
	}
	buf := make([]byte, 0, len(path)+1)
	var first *Requirement
	// Every subset of the relevant choices, the full set first.
	for r := choices; ; r = (r - 1) & choices {
		// "%3B" decoded matters only where params are cut: rules cannot
		// name ";" or "%", so as text the two spellings select alike.
		if r&decodeEncodedSemicolon == 0 || r&stripParams != 0 {
			buf = r.resolve(path, buf[:0])
			// buf is not touched again until the next resolve, so the
			// string view of it needs no copy.
			text := unsafe.String(unsafe.SliceData(buf), len(buf))
			req := c.selectRequirement(text, method)
			switch {
			case first == nil:
				first = req
			case req != first:
				return nil, pathAmbiguous
			}
			if c.slashTwinDiffers(text, method, req) || c.caseTwinDiffers(text, method, req) {
				return nil, pathAmbiguous
			}
		}
		if r == 0 {
			return first, pathOK
		}
	}
}

// readings counts the readings requirementFor resolves for these choices.
func (r reading) readings() int {
	n := 1 << bits.OnesCount8(uint8(r))
	if r&decodeEncodedSemicolon != 0 { // only together with stripParams
		n -= n / 4
	}
	return n
}

// asteriskRequirement judges "OPTIONS *" (RFC 9112 §3.2.4): only a rule whose
// match.path is "*" can take it; anything else is not origin-form.
func (c *Config) asteriskRequirement(method string) (*Requirement, pathVerdict) {
	if method != "OPTIONS" {
		return nil, pathNotOriginForm
	}
	for _, r := range c.Rules {
		if r.Match.Path == "*" && r.Match.fits("*", method) {
			return r.Requirement, pathOK
		}
	}
	return nil, pathNotOriginForm
}

// slashTwinDiffers reports whether the path with its trailing slash dropped
// or added selects another rule than req. Express (non-strict routing), Rails
// and Spring 5 serve "/admin/" with the "/admin" handler and the other way
// round, so a rule that tells them apart would be judged on a path the
// upstream does not serve. Only exact rules and prefixes ending in "/" can
// tell them apart (Config.slashSensitive); path_separated_prefix never does.
func (c *Config) slashTwinDiffers(path, method string, req *Requirement) bool {
	if !c.slashSensitive || path == "/" {
		return false
	}
	if path[len(path)-1] == '/' {
		twin := path[:len(path)-1]
		return c.selectRequirement(twin, method) != req || c.caseTwinDiffers(twin, method, req)
	}
	// path+"/" can only select another rule where a rule names it exactly
	// (in any letter case: Express ignores both).
	for _, r := range c.Rules {
		v := r.Match.Prefix
		if v == "" {
			v = r.Match.Path
		}
		if len(v) == len(path)+1 && v[len(path)] == '/' && asciiEqualFold(v[:len(path)], path) {
			twin := path + "/"
			return c.selectRequirement(twin, method) != req || c.caseTwinDiffers(twin, method, req)
		}
	}
	return false
}

// caseTwinDiffers reports whether the rules, matched with ASCII letter case
// ignored, select another rule than req for path. Express routes
// case-insensitively by default ("/ADMIN" is served by the "/admin"
// handler), ASP.NET and IIS too, so a rule that only the letter case keeps
// from matching would be judged on a path the upstream serves as its own.
// Only a path or a rule with an upper-case letter can differ.
func (c *Config) caseTwinDiffers(path, method string, req *Requirement) bool {
	if !c.upperInRules && !hasUpper(path) {
		return false
	}
	for _, r := range c.Rules {
		if r.Match.fitsFold(path, method) {
			return r.Requirement != req
		}
	}
	return c.Default != req
}

// fitsFold is Match.fits with ASCII letter case ignored in the path.
func (m *Match) fitsFold(path, method string) bool {
	switch {
	case m.Path != "":
		if len(path) != len(m.Path) || !asciiEqualFold(path, m.Path) {
			return false
		}
	case m.SeparatedPrefix != "":
		v := m.SeparatedPrefix
		if len(path) < len(v) || !asciiEqualFold(path[:len(v)], v) || (len(path) > len(v) && path[len(v)] != '/') {
			return false
		}
	default:
		if len(path) < len(m.Prefix) || !asciiEqualFold(path[:len(m.Prefix)], m.Prefix) {
			return false
		}
	}
	return m.methodFits(method)
}

// hasUpper reports whether s holds an ASCII upper-case letter.
func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// needsNormalising reports whether path holds anything a reading could change.
func needsNormalising(path string) bool {
	for i := 0; i < len(path); i++ {
		if !pathSpecial[path[i]] {
			continue // most bytes: one table look
		}
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

// pathSpecial marks the bytes needsNormalising looks closer at.
var pathSpecial = [256]bool{'%': true, '\\': true, ';': true, '/': true}

// choicesIn returns the choices whose spelling occurs in path: the others
// cannot change its reading.
func choicesIn(path string) reading {
	var r reading
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case ';':
			r |= stripParams
		case '\\':
			r |= splitBackslash
		case '%':
			v, ok := escapeAt(path, i)
			if !ok {
				continue
			}
			switch v {
			case '/':
				r |= splitEncodedSlash
			case '\\':
				r |= splitEncodedBackslash
			case ';':
				r |= stripParams | decodeEncodedSemicolon
			case '.':
				r |= decodeEncodedDot | decodeText
			default:
				r |= decodeText
			}
		}
	}
	if len(path) > 1 && (path[1] == '/' || path[1] == '\\') {
		r |= dropAuthority
	}
	return r
}

// escapeAt decodes the escape "%XY" at s[i], if it is one.
func escapeAt(s string, i int) (byte, bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	return unhex2(s[i+1], s[i+2])
}

// resolve appends to out the path as this reading resolves it: params cut
// (stripParams), separators split, dot segments removed (RFC 3986 §5.2.4),
// empty segments merged, escapes decoded or kept. The result starts with
// "/" and ends with "/" when the path ended in a separator or a dot segment.
func (r reading) resolve(path string, out []byte) []byte {
	i := 0
	if r&dropAuthority != 0 && len(path) > 1 && r.separator(path[1]) {
		// "//host/rest": skip the separators, then the authority.
		for i < len(path) && r.separator(path[i]) {
			i++
		}
		for i < len(path) && !r.separator(path[i]) {
			i++
		}
	}
	dir := false // the last segment was empty or a dot segment
	for i < len(path) {
		i++ // the separator before this raw segment
		end := strings.IndexByte(path[i:], '/')
		if end < 0 {
			end = len(path)
		} else {
			end += i
		}
		seg := path[i:end]
		if r&stripParams != 0 {
			seg = r.cutParams(seg)
		}
		out, dir = r.segment(seg, out)
		i = end
	}
	if len(out) == 0 || dir {
		out = append(out, '/')
	}
	return out
}

func (r reading) separator(c byte) bool {
	return c == '/' || (c == '\\' && r&splitBackslash != 0)
}

// cutParams drops ";params" (and with decodeEncodedSemicolon "%3Bparams")
// from a raw segment.
func (r reading) cutParams(seg string) string {
	for j := 0; j < len(seg); j++ {
		if seg[j] == ';' {
			return seg[:j]
		}
		if seg[j] == '%' && r&decodeEncodedSemicolon != 0 {
			if v, ok := escapeAt(seg, j); ok && v == ';' {
				return seg[:j]
			}
		}
	}
	return seg
}

// segment appends one raw segment, split further where this reading sees
// separators inside it, resolving dot segments as it goes. dir reports
// whether the last piece was empty or a dot segment.
func (r reading) segment(seg string, out []byte) (_ []byte, dir bool) {
	start := len(out) // where the current piece's "/" is
	out = append(out, '/')
	dots, other := 0, false // the piece so far: how many dots, anything else
	for j := 0; j < len(seg); {
		// Ordinary bytes are copied a run at a time.
		k := j
		for k < len(seg) && seg[k] != '%' && seg[k] != '\\' && seg[k] != '.' {
			k++
		}
		if k > j {
			out = append(out, seg[j:k]...)
			other = true
			j = k
			continue
		}
		c := seg[j]
		if c == '.' {
			dots++
			out = append(out, '.')
			j++
			continue
		}
		if c == '\\' {
			if r&splitBackslash != 0 {
				out, _ = endPiece(out, start, dots, other)
				start, dots, other = len(out), 0, false
				out = append(out, '/')
			} else {
				other = true
				out = append(out, c)
			}
			j++
			continue
		}
		v, ok := escapeAt(seg, j)
		if !ok { // a "%" that starts no escape is text
			other = true
			out = append(out, c)
			j++
			continue
		}
		switch {
		case v == '/' && r&splitEncodedSlash != 0, v == '\\' && r&splitEncodedBackslash != 0:
			out, _ = endPiece(out, start, dots, other)
			start, dots, other = len(out), 0, false
			out = append(out, '/')
		case v == '.':
			if r&decodeEncodedDot != 0 {
				dots++
			} else {
				other = true
			}
			if r&decodeText != 0 {
				out = append(out, '.')
			} else {
				out = append(out, seg[j:j+3]...)
			}
		case v == ';' && r&decodeEncodedSemicolon != 0:
			other = true
			out = append(out, ';')
		case v == '/', v == '\\', v == ';', r&decodeText == 0:
			other = true
			out = append(out, seg[j:j+3]...)
		default:
			other = true
			out = append(out, v)
		}
		j += 3
	}
	return endPiece(out, start, dots, other)
}

// endPiece finishes the piece whose "/" is at out[start]: an empty piece or
// "." is dropped, ".." drops the piece before it too. dir reports whether
// the piece was one of those (the path then ends in a directory).
func endPiece(out []byte, start, dots int, other bool) ([]byte, bool) {
	switch {
	case other || dots > 2:
		return out, false
	case dots == 2:
		out = out[:start]
		if k := lastSlash(out); k >= 0 {
			out = out[:k]
		}
		return out, true
	default: // empty or "."
		return out[:start], true
	}
}

func lastSlash(b []byte) int {
	for k := len(b) - 1; k >= 0; k-- {
		if b[k] == '/' {
			return k
		}
	}
	return -1
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
