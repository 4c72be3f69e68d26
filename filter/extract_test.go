package filter

import "testing"

func TestTokenSourcesMatchTheirScheme(t *testing.T) {
	cases := []struct {
		value, prefix, token string
		ok                   bool
	}{
		{"Bearer abc", "Bearer ", "abc", true},
		{"bearer abc", "Bearer ", "abc", true},
		{"bEaReR abc", "Bearer ", "abc", true},
		{"BEARER \t abc ", "Bearer ", "abc", true},
		{"Bearer", "Bearer ", "", true},
		{"Bearer ", "Bearer ", "", true},
		{"Bearerabc", "Bearer ", "", false},
		{"Basic abc", "Bearer ", "", false},
		{"Bear", "Bearer ", "", false},
		{"", "Bearer ", "", false},
		{" Bearer abc", "Bearer ", "", false},
		{"DPoP abc", "DPoP ", "abc", true},
		{"dpop abc", "DPoP ", "abc", true},
		{" abc ", "", "abc", true},
		{"Token:abc", "Token:", "abc", true},
		{"token:abc", "Token:", "abc", true},
	}
	for _, tc := range cases {
		src := newTokenSource(HeaderSource{Name: "authorization", ValuePrefix: tc.prefix})
		token, ok := src.match(tc.value)
		if token != tc.token || ok != tc.ok {
			t.Errorf("value_prefix %q, value %q: token %q, %v; want %q, %v", tc.prefix, tc.value, token, ok, tc.token, tc.ok)
		}
	}
}

func TestTokenRemovalKeepsEverythingElse(t *testing.T) {
	paths := map[string]string{
		"/x?access_token=t":              "/x",
		"/x?a=1&access_token=t":          "/x?a=1",
		"/x?access_token=t&b=2&c":        "/x?b=2&c",
		"/x?access%5Ftoken=t&b=%2F":      "/x?b=%2F",
		"/x?a=1&access_token=t&a=2":      "/x?a=1&a=2",
		"/x?access_token_other=t&a=1":    "/x?access_token_other=t&a=1",
		"/x?access_token=t&access_token": "/x",
	}
	for in, want := range paths {
		if got := withoutParam(in, "access_token"); got != want {
			t.Errorf("withoutParam(%q) = %q, want %q", in, got, want)
		}
	}
	headers := [][2]string{{"cookie", "a=1; session=t"}, {"x", "y"}, {"Cookie", "b=2"}}
	if got := withoutCookie(pairHeaders(headers), "session"); got != "a=1; b=2" {
		t.Errorf("withoutCookie = %q", got)
	}
	if got := withoutCookie(pairHeaders{{"cookie", "session=t"}}, "session"); got != "" {
		t.Errorf("withoutCookie of the only cookie = %q", got)
	}
}

func TestExtractTokenCountsEveryPlace(t *testing.T) {
	cfg := &Config{
		headerSources: []HeaderSource{{Name: "authorization", ValuePrefix: "Bearer "}},
		paramSources:  []string{"access_token"},
		cookieSources: []string{"session"},
	}
	cases := []struct {
		name    string
		headers [][2]string
		path    string
		raw     string
		n       int
	}{
		{"nothing", nil, "/x", "", 0},
		{"a header", [][2]string{{"authorization", "Bearer h"}}, "/x", "h", 1},
		{"a parameter", nil, "/x?access_token=p", "p", 1},
		{"a quoted cookie", [][2]string{{"cookie", `a=b; session="c"`}}, "/x", "c", 1},
		{"header and cookie", [][2]string{{"authorization", "Bearer h"}, {"cookie", "session=c"}}, "/x", "h", 2},
		{"the parameter twice", nil, "/x?access_token=p&access_token=q", "p", 2},
		{"an empty parameter still counts", nil, "/x?access_token=", "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			found, n := cfg.extractToken(tc.headers, tc.path)
			if n != tc.n || found.raw != tc.raw {
				t.Fatalf("got %q x%d, want %q x%d", found.raw, n, tc.raw, tc.n)
			}
		})
	}
}

func TestAnswerEncoding(t *testing.T) {
	d := &denial{kind: denyInvalid, description: `bad "quote" \ and` + "\nnewline"}
	if got := d.wwwAuthenticate(""); got != `Bearer error="invalid_token", error_description="bad \"quote\" \\ and newline"` {
		t.Errorf("www-authenticate = %s", got)
	}
	if got := string(d.body()); got != `{"error":"invalid_token","error_description":"bad \"quote\" \\ and\u000anewline"}` {
		t.Errorf("body = %s", got)
	}
	if got := (&denial{kind: denyUnavailable}).wwwAuthenticate("r"); got != "" {
		t.Errorf("503 challenge = %q, want none", got)
	}
	if got := (&denial{kind: denyScope, description: "d"}).wwwAuthenticate(""); got != `Bearer error="insufficient_scope"` {
		t.Errorf("403 without scopes = %s", got)
	}
	if got := (&denial{kind: denyScope, description: "d", scope: "a b"}).wwwAuthenticate("r"); got != `Bearer realm="r", error="insufficient_scope", scope="a b"` {
		t.Errorf("403 challenge = %s, want exactly realm, error and scope (no error_description)", got)
	}
}
