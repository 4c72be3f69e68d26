package filter

import (
	"net/url"
	"strings"
)

// tokenPlace says where a token was found, so it can be removed on success.
type tokenPlace uint8

const (
	inHeader tokenPlace = iota + 1
	inParam
	inCookie
)

// foundToken is a token candidate taken from the request, not yet parsed.
type foundToken struct {
	raw   string
	place tokenPlace
	name  string // header (lower-case), parameter or cookie name
	dpop  bool   // sent as Authorization: DPoP (RFC 9449 §7.1)
}

// extractToken looks for tokens in every configured header, query parameter
// and cookie (the union over all providers). It returns the first one found
// and how many there were: more than one is a 400 (RFC 6750 §2 allows a
// single method per request). A source present with nothing after the
// scheme counts as a token (an empty one, rejected later as malformed).
func (c *Config) extractToken(headers [][2]string, path string) (found foundToken, n int) {
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
			if raw, ok := stripScheme(h[1], src.ValuePrefix); ok {
				note(foundToken{raw: raw, place: inHeader, name: src.Name, dpop: src.isDPoPScheme()})
				// Envoy joins a repeated inline header (Authorization is one)
				// into one value with ",", which no token holds: each comma
				// is one more token (DESIGN §3: 400).
				n += strings.Count(raw, ",")
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
			if !strings.EqualFold(h[0], "cookie") {
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

// stripScheme matches a header value against a value_prefix such as
// "Bearer ": the scheme word case-insensitively, then (when the prefix ends
// in a space) one or more spaces. ok is false when the value uses another
// scheme (e.g. "Basic ..."), which is not a token for this source.
func stripScheme(value, prefix string) (token string, ok bool) {
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

// unescapeQuery URL-decodes a query component; an undecodable one is used
// as is (it then fails to parse as a token, which is the right answer).
func unescapeQuery(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// withoutParam returns path with every occurrence of query parameter name
// removed (the rest of the query kept byte for byte).
func withoutParam(path, name string) string {
	q := strings.IndexByte(path, '?')
	if q < 0 {
		return path
	}
	var kept []string
	for _, pair := range strings.Split(path[q+1:], "&") {
		k, _, _ := strings.Cut(pair, "=")
		if unescapeQuery(k) != name {
			kept = append(kept, pair)
		}
	}
	if len(kept) == 0 {
		return path[:q]
	}
	return path[:q+1] + strings.Join(kept, "&")
}

// withoutCookie returns the cookies of every cookie header, minus name,
// joined into one header value ("" when none remain).
func withoutCookie(headers [][2]string, name string) string {
	var kept []string
	for _, h := range headers {
		if !strings.EqualFold(h[0], "cookie") {
			continue
		}
		for _, pair := range strings.Split(h[1], ";") {
			pair = strings.TrimSpace(pair)
			k, _, _ := strings.Cut(pair, "=")
			if pair != "" && k != name {
				kept = append(kept, pair)
			}
		}
	}
	return strings.Join(kept, "; ")
}
