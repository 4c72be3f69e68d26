package filter

import (
	"slices"
	"strings"

	"github.com/scopegate/scopegate/filter/abi"
)

// request is one request as authorize reads it: what every decision needs,
// found in one pass over the headers (readRequest), and the headers
// themselves for what only some requests look at (a DPoP proof, the htu
// origin, a client certificate header, a CORS preflight, cookies to put
// back).
type request struct {
	headers      headerList
	method, path string // the first :method and :path ("" when absent)
	token        foundToken
	tokens       int  // token candidates found: more than one is a 400
	dpop         bool // a DPoP header is present (removed with the token)
	overrides    bool // a method override header is present, in any folded spelling (methodoverride.go)

	inPlace mapHeaders // the headers read in place; headers points here
}

// note records a token candidate: the first one is kept, all are counted.
func (r *request) note(t foundToken) {
	if r.tokens == 0 {
		r.token = t
	}
	r.tokens++
}

// joined reports whether a header token holds a ",": Envoy joins a
// repeated inline header (Authorization is one) into one value with ",",
// which no token holds, so each comma is one more token (a 400). authorize
// asks only when the token is not a cache hit (a cached token parsed, so it
// has no comma): searching every token took ~5 % of a V8 hit.
func (t *foundToken) joined() bool {
	return t.place == inHeader && strings.IndexByte(t.raw, ',') >= 0
}

// headerList reads the request's headers by name, ASCII case-insensitively
// (the way servers match header names), for what readRequest's pass does
// not collect.
type headerList interface {
	// find returns the first and the last value of the headers called
	// name and how many there are.
	find(name string) (first, last string, n int)
	// each calls f with the value of every header called name, in order.
	each(name string, f func(value string))
	// eachFolded is each for every header a server folds into name (ASCII
	// case ignored, '_' read as '-': sameFoldedName).
	eachFolded(name string, f func(value string))
}

// mapHeaders is a headerList over the header map as the host serialized
// it, read in place.
type mapHeaders struct{ m abi.HeaderMap }

func (h *mapHeaders) find(name string) (first, last string, n int) {
	for cur := h.m.Cursor(); cur.Next(); {
		if cur.KeyLen() == len(name) && asciiEqualFold(cur.Key(), name) {
			v := cur.Value()
			if n == 0 {
				first = v
			}
			last = v
			n++
		}
	}
	return first, last, n
}

func (h *mapHeaders) each(name string, f func(string)) {
	for cur := h.m.Cursor(); cur.Next(); {
		if cur.KeyLen() == len(name) && asciiEqualFold(cur.Key(), name) {
			f(cur.Value())
		}
	}
}

func (h *mapHeaders) eachFolded(name string, f func(string)) {
	for cur := h.m.Cursor(); cur.Next(); {
		if cur.KeyLen() == len(name) && sameFoldedName(cur.Key(), name) {
			f(cur.Value())
		}
	}
}

// pairHeaders is a headerList over decoded pairs (a callout's answer).
type pairHeaders [][2]string

func (hs pairHeaders) find(name string) (first, last string, n int) {
	for _, h := range hs {
		if len(h[0]) == len(name) && asciiEqualFold(h[0], name) {
			if n == 0 {
				first = h[1]
			}
			last = h[1]
			n++
		}
	}
	return first, last, n
}

func (hs pairHeaders) each(name string, f func(string)) {
	for _, h := range hs {
		if len(h[0]) == len(name) && asciiEqualFold(h[0], name) {
			f(h[1])
		}
	}
}

func (hs pairHeaders) eachFolded(name string, f func(string)) {
	for _, h := range hs {
		if sameFoldedName(h[0], name) {
			f(h[1])
		}
	}
}

// headerValue is the first value of the header called name, "" when absent.
func headerValue(headers headerList, name string) string {
	v, _, _ := headers.find(name)
	return v
}

// readRequest reads the request's headers with one host call into the
// plugin's reused buffer and finds, in one pass over them in place (no
// header is copied or decoded into a string of its own): the method and
// path, every token candidate (configured headers, then the query, then
// cookies when a provider reads cookies), and whether a DPoP proof is
// present. On a stream's first reading it also removes every spoofable
// header as it passes it: a claim_to_headers or forward_payload_header name
// in any spelling a server folds into the same name (case, "-" or "_": CGI,
// WSGI, PHP and Rack read x_jwt_sub and x-jwt-sub as HTTP_X_JWT_SUB), and a
// token header spelled otherwise than the one the filter reads, which the
// upstream would take for a token the filter never checked. Each is removed
// by the spelling it was sent in, so it is found and removed however the
// host stores names; the host is asked for no header the request does not
// have.
//
// A header whose name has no length a configured name has is skipped after
// one comparison: the cost of a header the filter does not read.
func (pc *pluginContext) readRequest(h *httpContext) error {
	m, err := abi.GetHttpRequestHeaderMap(&pc.headerBuf)
	if err != nil {
		return err
	}
	c := pc.cfg
	strip := !h.stripped
	var remove func(string)
	if strip {
		remove = removeRequestHeader
	}
	c.scan(m, &h.req, remove)
	if strip {
		if m.Len() == 0 {
			// An empty map is not trusted to be complete.
			for _, name := range c.stripHeaders {
				_ = abi.RemoveHttpRequestHeader(name)
			}
		}
		h.stripped = true
	}
	return nil
}

// removeRequestHeader removes every value of a request header.
func removeRequestHeader(name string) { _ = abi.RemoveHttpRequestHeader(name) }

// scan is readRequest's pass over the headers m: it fills r and, unless
// remove is nil, calls it with each spoofable header's name, once per
// header, in the order they come.
func (c *Config) scan(m abi.HeaderMap, r *request, remove func(name string)) {
	*r = request{inPlace: mapHeaders{m}}
	r.headers = &r.inPlace
	haveMethod, havePath := false, false
	for cur := m.Cursor(); cur.Next(); {
		// Most headers are skipped here, on their name's length alone.
		n := cur.KeyLen()
		look := c.looks[uint8(n)]
		if look == 0 {
			continue
		}
		if look&lookPseudo != 0 {
			// :method or :path? Configured names are RFC 9110 tokens,
			// which never start with ':', so a pseudo header is nothing
			// else to the filter.
			if name := cur.Key(); name[0] == ':' {
				switch {
				case !haveMethod && n == 7 && (sameString(name, ":method") || asciiEqualFold(name, ":method")):
					r.method, haveMethod = cur.Value(), true
				case !havePath && n == 5 && (sameString(name, ":path") || asciiEqualFold(name, ":path")):
					r.path, havePath = cur.Value(), true
				}
				continue
			}
		}
		if look&lookRead == 0 || !c.readsNameOfLength(n) {
			continue
		}
		name, value := cur.Key(), cur.Value()
		removed := false
		for i := range c.readNames {
			e := &c.readNames[i]
			if len(e.name) != len(name) {
				continue
			}
			// Names come lower-case from most hosts: the exact comparison
			// (eight bytes per step) decides those at once.
			folded, exact := true, true
			if !sameString(name, e.name) {
				if folded, exact = foldMatch(name, e.name); !folded {
					continue
				}
			}
			// Spoofable: a vouched name in any spelling, a token header
			// in any spelling but its own.
			if remove != nil && !removed && (e.strip || (len(e.tokens) > 0 && !exact)) {
				remove(name)
				removed = true
			}
			if e.override {
				r.overrides = true
			}
			if !exact {
				continue
			}
			// A value a scheme word matches (Bearer, DPoP) is that
			// source's alone: sources without one (value_prefix "") come
			// last (deriveReadNames) and read the header only when no
			// scheme matched, so `Authorization: DPoP <token>` is not
			// also a raw token.
			schemed := false
			for j := range e.tokens {
				src := &e.tokens[j]
				if schemed && src.scheme == "" {
					break
				}
				if raw, ok := src.match(value); ok {
					r.note(foundToken{raw: raw, place: inHeader, name: e.name, dpop: src.dpop})
					schemed = src.scheme != ""
				}
			}
			switch {
			case e.dpop:
				r.dpop = true
			case e.cookie:
				c.noteCookieTokens(r, value)
			}
		}
	}
	c.noteParamTokens(r, r.path)
}

// Flags of Config.looks, indexed by a name's length modulo 256.
const (
	lookPseudo uint8 = 1 << iota // 5 or 7 bytes: maybe :path or :method
	lookRead                     // maybe readsNameOfLength
)

// readsNameOfLength reports whether some header name the filter reads or
// strips (claim and payload headers, token headers, dpop, cookie) has n
// bytes. Folding case or '_' never changes a name's length.
func (c *Config) readsNameOfLength(n int) bool {
	if u := uint(n); u < uint(len(c.nameLengths))*64 {
		return c.nameLengths[u/64]&(1<<(u%64)) != 0
	}
	return c.longNames
}

// readName is a header name readRequest looks at, as configured (lower
// case), and what it is to the filter.
type readName struct {
	name     string
	strip    bool          // a claim_to_headers or forward_payload_header name
	tokens   []tokenSource // the from_headers sources reading it
	dpop     bool          // "dpop": the proof header
	cookie   bool          // "cookie", when cookies carry tokens
	override bool          // a method override header (methodoverride.go), in any folded spelling
}

// tokenSource is a HeaderSource ready to match values.
type tokenSource struct {
	scheme string // the value_prefix's scheme word ("" takes the whole value)
	spaced bool   // the prefix ends in a space: one or more must follow the word
	dpop   bool   // Authorization: DPoP
	// initial is the scheme word's first byte, lower-cased, when the word
	// is ASCII letters and digits: a value whose first byte folds to
	// another is no token for this source (strings.EqualFold folds a
	// multibyte rune only into another rune, never into ASCII bytes of the
	// same length, so it could not match either).
	initial byte
}

func (s *tokenSource) match(value string) (string, bool) {
	if s.initial != 0 && (value == "" || value[0]|0x20 != s.initial) {
		return "", false
	}
	return stripSchemeWord(value, s.scheme, s.spaced)
}

// newTokenSource prepares a from_headers source for matching values.
func newTokenSource(h HeaderSource) tokenSource {
	scheme := strings.TrimRight(h.ValuePrefix, " ")
	return tokenSource{scheme: scheme, spaced: len(scheme) < len(h.ValuePrefix),
		dpop: h.isDPoPScheme(), initial: schemeInitial(scheme)}
}

// schemeInitial is tokenSource.initial for a scheme word.
func schemeInitial(scheme string) byte {
	if scheme == "" {
		return 0
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i] | 0x20
		if !(c >= 'a' && c <= 'z' || scheme[i] >= '0' && scheme[i] <= '9') {
			return 0
		}
	}
	c := scheme[0]
	if c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	return c
}

// deriveReadNames lists the names readRequest looks at (claim and payload
// headers, token headers, dpop, the method override headers, cookie when
// cookies carry tokens) and their lengths.
func (c *Config) deriveReadNames() {
	c.readNames, c.nameLengths, c.longNames = nil, [4]uint64{}, false
	entry := func(name string) *readName {
		name = strings.ToLower(name)
		for i := range c.readNames {
			if c.readNames[i].name == name {
				return &c.readNames[i]
			}
		}
		c.readNames = append(c.readNames, readName{name: name})
		c.noteNameLength(name)
		return &c.readNames[len(c.readNames)-1]
	}
	for _, name := range c.stripHeaders {
		entry(name).strip = true
	}
	for _, h := range c.headerSources {
		// Sources with a scheme word go before those without: scan
		// stops at the first without one once a scheme claimed the value.
		e, src := entry(h.Name), newTokenSource(h)
		// Two providers may spell one source differently ("Bearer ",
		// "bearer  "): read alike, it is one source, or every token it
		// reads would count twice (a 400).
		if slices.ContainsFunc(e.tokens, func(t tokenSource) bool {
			return strings.EqualFold(t.scheme, src.scheme) && t.spaced == src.spaced
		}) {
			continue
		}
		at := len(e.tokens)
		if src.scheme != "" {
			if bare := slices.IndexFunc(e.tokens, func(t tokenSource) bool { return t.scheme == "" }); bare >= 0 {
				at = bare
			}
		}
		e.tokens = slices.Insert(e.tokens, at, src)
	}
	entry("dpop").dpop = true
	for _, name := range methodOverrideHeaders {
		entry(name).override = true
	}
	if len(c.cookieSources) > 0 {
		entry("cookie").cookie = true
	}
	// looks answers "no" only where it is sure: for a length (modulo 256)
	// no name the scan wants has.
	c.looks = [256]uint8{5: lookPseudo, 7: lookPseudo}
	for n := range 256 {
		if c.readsNameOfLength(n) || c.longNames {
			c.looks[n] |= lookRead
		}
	}
}

// foldMatch compares a header name with a lower-case configured one: folded
// reports whether servers that fold names read them as one (ASCII case
// ignored, '_' and '-' alike: sameFoldedName), exact whether they are the
// same name but for ASCII case (strings.EqualFold, for names of one length).
func foldMatch(name, lower string) (folded, exact bool) {
	if len(name) != len(lower) {
		return false, false
	}
	exact = true
	for i := 0; i < len(name); i++ {
		c, d := name[i], lower[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == d {
			continue
		}
		if (c == '-' || c == '_') && (d == '-' || d == '_') {
			exact = false
			continue
		}
		return false, false
	}
	return true, exact
}

// noteNameLength adds a name's length to the set readsNameOfLength knows.
func (c *Config) noteNameLength(name string) {
	n := len(name)
	if n >= len(c.nameLengths)*64 {
		c.longNames = true
		return
	}
	c.nameLengths[n/64] |= 1 << (n % 64)
}

// asciiEqualFold reports whether a and b are equal ignoring ASCII case. It
// is strings.EqualFold without Unicode folding: servers match header names
// byte for byte, so "Kelvin sign" K is no k to them.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}
