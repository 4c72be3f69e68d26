package filter

import (
	"strings"

	"github.com/scopegate/scopegate/filter/abi"
)

// The reference reading of a request: how authorize read requests before
// readRequest's one pass over the header map in place. Every header is
// decoded into strings (abi.GetHttpRequestHeaders), spoofable headers are
// found by asking Config.spoofable of each, and every question (:method,
// :path, each token source, dpop, the lookups of DPoP, certificates,
// preflights and cookies) is its own scan of the decoded pairs, with
// strings.EqualFold.
//
// It is the oracle of the differential tests (differential_test.go): with
// vmContext.readHook set to referenceRead, the same filter decides on this
// reading. Its token extraction is a copy of the code it was, on purpose:
// an oracle that called the code under test would prove nothing. Its later
// lookups use pairHeaders, the decoded pairs, where the filter walks the
// map in place. The one change from the code it was: a Cookie header is matched
// by length and case (as every other name was), no longer by Unicode case
// folding, under which "coo\u212Aie" (Kelvin sign) was a Cookie header that
// no server reads as one.

// referenceRead is readRequest's reference (a vmContext.readHook).
func referenceRead(h *httpContext) error {
	pc := h.plugin
	cfg := pc.cfg
	headers, err := abi.GetHttpRequestHeaders()
	if err != nil {
		return err
	}
	if !h.stripped {
		for _, hd := range headers {
			if cfg.spoofable(hd[0]) {
				_ = abi.RemoveHttpRequestHeader(hd[0])
			}
		}
		if len(headers) == 0 {
			for _, name := range cfg.stripHeaders {
				_ = abi.RemoveHttpRequestHeader(name)
			}
		}
		h.stripped = true
	}
	r := &h.req
	*r = request{headers: pairHeaders(headers)}
	r.method, r.path = referenceValue(headers, ":method"), referenceValue(headers, ":path")
	r.token, r.tokens = cfg.referenceTokens(headers, r.path)
	_, r.dpop = referenceFind(headers, "dpop")
	for _, hd := range headers {
		for _, name := range methodOverrideHeaders {
			r.overrides = r.overrides || sameFoldedName(hd[0], name)
		}
	}
	return nil
}

// spoofable reports whether a request header must be removed before the
// filter decides: it is, in a spelling some server folds into the same name
// (case, "-" or "_": CGI, WSGI, PHP and Rack all read x_jwt_sub and
// x-jwt-sub as HTTP_X_JWT_SUB), a header the filter vouches for, or a
// token header spelled differently from the one the filter reads, which the
// upstream would take for a token the filter never checked.
func (c *Config) spoofable(name string) bool {
	if c.vouchedHeader(name) {
		return true
	}
	for _, h := range c.headerSources {
		if sameFoldedName(name, h.Name) && !strings.EqualFold(name, h.Name) {
			return true
		}
	}
	return false
}

// referenceSchemeMatches reports whether a header source of h's name with a
// scheme word (Bearer, DPoP) reads h's value.
func (c *Config) referenceSchemeMatches(h [2]string) bool {
	for _, src := range c.headerSources {
		if strings.TrimRight(src.ValuePrefix, " ") == "" || !strings.EqualFold(h[0], src.Name) {
			continue
		}
		if _, ok := referenceStripScheme(h[1], src.ValuePrefix); ok {
			return true
		}
	}
	return false
}

// referenceTokens looks for tokens in every configured header, query
// parameter and cookie, and returns the first one found and how many.
func (c *Config) referenceTokens(headers [][2]string, path string) (found foundToken, n int) {
	note := func(t foundToken) {
		if n == 0 {
			found = t
		}
		n++
	}
	for _, src := range c.headerSources {
		for _, h := range headers {
			if len(h[0]) != len(src.Name) || !strings.EqualFold(h[0], src.Name) {
				continue
			}
			if strings.TrimRight(src.ValuePrefix, " ") == "" && c.referenceSchemeMatches(h) {
				continue // the value is a scheme's token, not a raw one
			}
			if raw, ok := referenceStripScheme(h[1], src.ValuePrefix); ok {
				note(foundToken{raw: raw, place: inHeader, name: src.Name, dpop: src.isDPoPScheme()})
				n += strings.Count(raw, ",") // Envoy's join of repeated headers
			}
		}
	}
	if len(c.paramSources) > 0 {
		if q := strings.IndexByte(path, '?'); q >= 0 {
			query := path[q+1:]
			for query != "" {
				var pair string
				pair, query, _ = strings.Cut(query, "&")
				k, v, _ := strings.Cut(pair, "=")
				k = unescapeQuery(k)
				if hasString(c.paramSources, k) {
					note(foundToken{raw: unescapeQuery(v), place: inParam, name: k})
				}
			}
		}
	}
	if len(c.cookieSources) > 0 {
		for _, h := range headers {
			if len(h[0]) != 6 || !strings.EqualFold(h[0], "cookie") {
				continue
			}
			rest := h[1]
			for rest != "" {
				var pair string
				pair, rest, _ = strings.Cut(rest, ";")
				k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if hasString(c.cookieSources, k) {
					v = strings.TrimSpace(v)
					if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
						v = v[1 : len(v)-1]
					}
					note(foundToken{raw: v, place: inCookie, name: k})
				}
			}
		}
	}
	return found, n
}

// referenceStripScheme matches a header value against a value_prefix.
func referenceStripScheme(value, prefix string) (token string, ok bool) {
	scheme := strings.TrimRight(prefix, " ")
	if scheme == "" {
		return strings.Trim(value, " \t"), true
	}
	if len(value) < len(scheme) || !strings.EqualFold(value[:len(scheme)], scheme) {
		return "", false
	}
	rest := value[len(scheme):]
	if len(scheme) < len(prefix) { // the prefix wants a separator
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return "", false // a longer scheme word, e.g. "Bearerish"
		}
		rest = strings.TrimLeft(rest, " \t")
	}
	return strings.TrimRight(rest, " \t"), true
}

// referenceFind returns the value of the first header called name (any
// case) and whether there is one.
func referenceFind(headers [][2]string, name string) (string, bool) {
	for _, h := range headers {
		if len(h[0]) == len(name) && strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

func referenceValue(headers [][2]string, name string) string {
	v, _ := referenceFind(headers, name)
	return v
}

// extractToken runs readRequest's pass (Config.scan, without stripping)
// over headers, for the extraction tests.
func (c *Config) extractToken(headers [][2]string, path string) (foundToken, int) {
	pairs := append([][2]string{{":path", path}}, headers...)
	m, err := abi.ParseHeaderMap(abi.EncodeHeaderMap(nil, pairs))
	if err != nil {
		panic(err)
	}
	c.deriveReadNames()
	var r request
	c.scan(m, &r, nil)
	return r.token, r.tokens
}
