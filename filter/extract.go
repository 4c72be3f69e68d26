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

// Token sources (DESIGN §3): readRequest notes every token candidate of a
// request, in every configured header, query parameter and cookie (the
// union over all providers), and keeps the first one and how many there
// were: more than one is a 400 (RFC 6750 §2 allows a single method per
// request). A source present with nothing after the scheme counts as a
// token (an empty one, rejected later as malformed).

// noteParamTokens notes every token parameter in path's query.
func (c *Config) noteParamTokens(r *request, path string) {
	if len(c.paramSources) == 0 {
		return
	}
	q := strings.IndexByte(path, '?')
	if q < 0 {
		return
	}
	query := path[q+1:]
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(pair, "=")
		k = unescapeQuery(k)
		if hasString(c.paramSources, k) {
			r.note(foundToken{raw: unescapeQuery(v), place: inParam, name: k})
		}
	}
}

// noteCookieTokens notes every token cookie in one Cookie header's value.
func (c *Config) noteCookieTokens(r *request, value string) {
	rest := value
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, ";")
		k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
		if hasString(c.cookieSources, k) {
			v = strings.TrimSpace(v)
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			r.note(foundToken{raw: v, place: inCookie, name: k})
		}
	}
}

// stripSchemeWord matches a header value against a value_prefix such as
// "Bearer ", split into its scheme word and whether a separator must follow
// it (tokenSource): the scheme word case-insensitively, then (when spaced)
// one or more spaces or tabs. ok is false when the value uses another
// scheme (e.g. "Basic ..."), which is not a token for this source.
func stripSchemeWord(value, scheme string, spaced bool) (token string, ok bool) {
	if scheme == "" {
		return trimBlanks(value), true
	}
	if len(value) < len(scheme) || (!sameString(value[:len(scheme)], scheme) && !strings.EqualFold(value[:len(scheme)], scheme)) {
		return "", false
	}
	rest := value[len(scheme):]
	if spaced {
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return "", false // a longer scheme word, e.g. "Bearerish"
		}
		return trimBlanks(rest), true
	}
	return strings.TrimRight(rest, " \t"), true
}

// trimBlanks is strings.Trim(s, " \t") without building a cutset.
func trimBlanks(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
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
func withoutCookie(headers headerList, name string) string {
	var kept []string
	headers.each("cookie", func(value string) {
		for _, pair := range strings.Split(value, ";") {
			pair = strings.TrimSpace(pair)
			k, _, _ := strings.Cut(pair, "=")
			if pair != "" && k != name {
				kept = append(kept, pair)
			}
		}
	})
	return strings.Join(kept, "; ")
}
