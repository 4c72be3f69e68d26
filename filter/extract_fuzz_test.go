package filter

import (
	"strings"
	"testing"
)

// FuzzExtractToken feeds arbitrary request paths, header values and cookies
// to the token extraction and removal parsers. Invariants: no panic; a token
// found in a header lies inside that header's value; nothing found means an
// empty result; after removal the parameter or cookie cannot be found again,
// and a path without the parameter is left byte for byte.
func FuzzExtractToken(f *testing.F) {
	f.Add("/x?access_token=abc&b=2", "Bearer abc", "session=abc; theme=dark")
	f.Add("/x?access%5Ftoken=a+b&access_token=", "bearer   x.y.z", `session="q"`)
	f.Add("/x?&&=&access_token", "Basic Zm9v", "session")
	f.Add("/?", "Bearer", ";;session=;")
	f.Add("/x?a=%zz&access_token=%", "BEARER\t\tt", "session=a=b")
	cfg := &Config{
		headerSources: []HeaderSource{{Name: "authorization", ValuePrefix: "Bearer "}, {Name: "x-token", ValuePrefix: ""}},
		paramSources:  []string{"access_token"},
		cookieSources: []string{"session"},
	}
	f.Fuzz(func(t *testing.T, path, auth, cookie string) {
		headers := [][2]string{{"authorization", auth}, {"cookie", cookie}}
		found, n := cfg.extractToken(headers, path)
		if n < 0 || (n == 0 && found != (foundToken{})) {
			t.Fatalf("n = %d with found %+v", n, found)
		}
		if n > 0 && found.place == inHeader && !strings.Contains(auth, found.raw) {
			t.Fatalf("header token %q is not inside %q", found.raw, auth)
		}

		// Removal: the parameter and the cookie are gone afterwards.
		stripped := withoutParam(path, "access_token")
		if !strings.Contains(path, "?") && stripped != path {
			t.Fatalf("withoutParam changed a path without a query: %q -> %q", path, stripped)
		}
		rest := [][2]string{{"cookie", withoutCookie(pairHeaders(headers), "session")}}
		after := &Config{paramSources: cfg.paramSources, cookieSources: cfg.cookieSources}
		if _, n := after.extractToken(rest, stripped); n != 0 {
			t.Fatalf("a token is still found after removal: path %q cookie %q", stripped, rest[0][1])
		}
		bearer := newTokenSource(HeaderSource{Name: "authorization", ValuePrefix: "Bearer "})
		if _, ok := bearer.match(auth); ok && (len(auth) < len("Bearer") || !strings.EqualFold(auth[:len("Bearer")], "Bearer")) {
			t.Fatalf("the Bearer source accepted %q", auth)
		}
	})
}
