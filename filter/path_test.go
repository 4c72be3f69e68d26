package filter

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Readers, as the choices they make (docs/paths.md).
const (
	envoyNormalised = decodeEncodedDot | decodeText                          // normalize_path: unreserved decoded, dots resolved
	nginxReader     = splitEncodedSlash | decodeEncodedDot | decodeText      // decodes everything, then resolves
	servletReader   = stripParams | decodeEncodedSemicolon | envoyNormalised // params cut first, %3B too
	goServeMux      = decodeText                                             // cleans the escaped path, matches decoded segments
	nodeURL         = splitBackslash | decodeEncodedDot | dropAuthority      // WHATWG: "\" is "/", %2E is ".", nothing decoded
	allDecoded      = splitEncodedSlash | splitEncodedBackslash | splitBackslash | envoyNormalised
)

func TestEachReadingResolvesThePathAsItsReaderDoes(t *testing.T) {
	cases := []struct {
		name string
		in   string
		r    reading
		want string
	}{
		{"a plain path is itself", "/oidc/orders", 0, "/oidc/orders"},
		{"the root stays the root", "/", 0, "/"},
		{"a trailing slash is kept", "/api/", 0, "/api/"},
		{"dot segments are removed", "/health/../admin", 0, "/admin"},
		{"a dot segment at the end leaves a directory", "/a/b/.", 0, "/a/b/"},
		{"a climb at the end leaves a directory", "/a/b/..", 0, "/a/"},
		{"climbing past the root stays at the root", "/../../admin", 0, "/admin"},
		{"repeated slashes merge", "/health//..//admin", 0, "/admin"},
		{"three dots are a name", "/a/.../b", 0, "/a/.../b"},
		{"a dotted name is a name", "/a/.hidden", 0, "/a/.hidden"},

		{"Envoy decodes unreserved escapes", "/%68ealth/%2e%2e/admin", envoyNormalised, "/admin"},
		{"without decoding, escapes stay and %2E%2E is a name", "/%68ealth/%2e%2e/admin", 0, "/%68ealth/%2e%2e/admin"},
		{"Go's ServeMux resolves before it decodes", "/admin/%2e%2e/public", goServeMux, "/admin/../public"},
		{"Node reads %2E as a dot but keeps other escapes", "/%61dmin/%2E%2E/public", nodeURL, "/public"},
		{"a decoded space is text", "/files/my%20doc", envoyNormalised, "/files/my doc"},
		{"a malformed escape is text", "/bad%zz/x%", allDecoded, "/bad%zz/x%"},

		{"..;x is a name when params are kept", "/oidc/..;/health", envoyNormalised, "/oidc/..;/health"},
		{"..;x climbs when params are cut", "/oidc/..;/health", servletReader, "/health"},
		{"params are cut from every segment", "/api;x/admin;y/users", servletReader, "/api/admin/users"},
		{"a param cut leaves an empty segment a directory", "/a/;x", servletReader, "/a/"},
		{"a param hides the separators inside it", "/a;p%2F..%2F..%2Fadmin", servletReader | splitEncodedSlash, "/a"},
		{"%3B decoded before the cut starts a param", "/admin%3Bx", servletReader, "/admin"},
		{"%3B kept is part of the name", "/admin%3Bx", stripParams, "/admin%3Bx"},
		{"%3B decoded without a cut is a literal ;", "/admin%3Bx", decodeEncodedSemicolon, "/admin;x"},

		{"%2F kept is part of the name", "/files/a%2Fb", allDecoded &^ splitEncodedSlash, "/files/a%2Fb"},
		{"%2F as a separator splits", "/files/a%2Fb", splitEncodedSlash, "/files/a/b"},
		{"%2F as a separator climbs", "/health%2F..%2Fadmin", splitEncodedSlash, "/admin"},
		{"%2F decoded, %5C not", "/public/a%5Cb%2F..%2F..%2Fadmin", nginxReader, "/admin"},
		{"%5C decoded, %2F not", "/public/a%5Cb%2F..%2F..%2Fadmin", splitEncodedBackslash, "/public/a/b%2F..%2F..%2Fadmin"},
		{"neither decoded", "/public/a%5Cb%2F..%2F..%2Fadmin", 0, "/public/a%5Cb%2F..%2F..%2Fadmin"},
		{"a backslash as a separator climbs", `/health\..\admin`, splitBackslash, "/admin"},
		{"a backslash kept is a name", `/health\..\admin`, 0, `/health\..\admin`},

		{"Node takes //host/rest as an authority", "//evil.example/admin", nodeURL, "/admin"},
		{"Node takes /\\host/rest as an authority", `/\evil.example/admin`, nodeURL, "/admin"},
		{"an authority alone leaves the root", "//evil.example", nodeURL, "/"},
		{"others merge the slashes", "//evil.example/admin", envoyNormalised, "/evil.example/admin"},
		{"/\\ is no authority where \\ is no separator", `/\evil.example/admin`, dropAuthority, `/\evil.example/admin`},
	}
	for _, tc := range cases {
		t.Run(tc.name+": "+tc.in+" reads "+tc.want, func(t *testing.T) {
			if got := string(tc.r.resolve(tc.in, nil)); got != tc.want {
				t.Errorf("reading %08b of %q = %q, want %q", tc.r, tc.in, got, tc.want)
			}
		})
	}
}

func TestOnlyTheChoicesAPathSpellsAreVaried(t *testing.T) {
	cases := []struct {
		in   string
		want reading
	}{
		{"/a//b/./c", 0},
		{"/a;b", stripParams},
		{"/a%3Bb", stripParams | decodeEncodedSemicolon},
		{"/a%2fb%2F", splitEncodedSlash},
		{"/a%5cb", splitEncodedBackslash},
		{`/a\b`, splitBackslash},
		{"/%2e%2e", decodeEncodedDot | decodeText},
		{"/%41", decodeText},
		{"/%zz%", 0},
		{"//host/x", dropAuthority},
		{`/\host/x`, dropAuthority | splitBackslash},
	}
	for _, tc := range cases {
		if got := choicesIn(tc.in); got != tc.want {
			t.Errorf("choicesIn(%q) = %08b, want %08b", tc.in, got, tc.want)
		}
	}
}

func TestPlainPathsAreOneReading(t *testing.T) {
	for _, p := range []string{"/", "/oidc/orders", "/a.b/c", "/x-y_z~1", "/v1/items/42", "/api/"} {
		if needsNormalising(p) {
			t.Errorf("needsNormalising(%q) = true, want the fast path", p)
		}
	}
	for _, p := range []string{"//a", "/a/./b", "/a/../b", "/%61", `/a\b`, "/a/.hidden", "/a;b"} {
		if !needsNormalising(p) {
			t.Errorf("needsNormalising(%q) = false, want normalisation", p)
		}
	}
	cfg, err := ParseConfig([]byte(localConfig("", `"rules":[
	  {"match":{"path":"/admin"},"requires":{"scopes":["admin"]}},
	  {"match":{"prefix":"/api/"},"requires":{"scopes":["api"]}},
	  {"match":{"path_separated_prefix":"/health"},"requires":{"allow":true}}]`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/oidc/orders?x=1", "/api/v1/items", "/health", "/admin"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, v := cfg.requirementFor(p, "GET"); v != pathOK {
				t.Fatalf("%s: verdict %d", p, v)
			}
		})
		if allocs != 0 {
			t.Errorf("requirementFor(%q) allocates %.0f times, want none", p, allocs)
		}
	}
}

// readingsConfig has a rule for every kind of match, so each reading that
// escapes one shows.
const readingsRules = `"rules":[
  {"match":{"path_separated_prefix":"/health","methods":["GET"]},"requires":{"allow":true}},
  {"match":{"path_separated_prefix":"/public"},"requires":{"allow":true}},
  {"match":{"prefix":"/files"},"requires":{"allow":true}},
  {"match":{"path_separated_prefix":"/oidc"},"requires":{"scopes":["kong_api_access"]}},
  {"match":{"path_separated_prefix":"/api/admin"},"requires":{"scopes":["admin"]}},
  {"match":{"path_separated_prefix":"/api"},"requires":{"scopes":["read"]}},
  {"match":{"path":"/admin"},"requires":{"scopes":["admin"]}},
  {"match":{"prefix":"/static/"},"requires":{"allow":true}},
  {"match":{"path":"*","methods":["OPTIONS"]},"requires":{"allow":true}}]`

func TestReadingsThatSelectDifferentRulesAre400(t *testing.T) {
	cfg, err := ParseConfig([]byte(localConfig("", readingsRules)))
	if err != nil {
		t.Fatal(err)
	}
	rule := func(i int) *Requirement { return cfg.Rules[i].Requirement }
	cases := []struct {
		name    string
		method  string
		target  string
		verdict pathVerdict
		want    *Requirement // with pathOK
	}{
		{"a plain path selects its rule", "GET", "/oidc/orders", pathOK, rule(3)},
		{"a query is not part of the path", "GET", "/health?x=/../admin", pathOK, rule(0)},
		{"a dot segment inside a rule stays in it", "GET", "/health/x/../live", pathOK, rule(0)},
		{"a dot segment leaving a rule is judged where it lands", "GET", "/health/../admin", pathOK, rule(6)},
		{"an encoded dot segment leaving a rule is ambiguous (Go's ServeMux keeps it)", "GET", "/public/%2e%2e/admin", pathAmbiguous, nil},
		{"..; leaving a rule is ambiguous", "GET", "/oidc/..;/health", pathAmbiguous, nil},
		{"..; inside a rule is judged by it", "GET", "/api/admin/x/..;/y", pathOK, rule(4)},
		{"..; from /api/admin to /api is ambiguous", "GET", "/api/admin/..;/x", pathAmbiguous, nil},
		{"a param on the first segment is ambiguous", "GET", "/api;x/admin/users", pathAmbiguous, nil},
		{"a param on an exact path is ambiguous", "GET", "/admin;x", pathAmbiguous, nil},
		{"a param that changes nothing passes", "GET", "/oidc/orders;v=2", pathOK, rule(3)},
		{"%3B that could start a param is ambiguous", "GET", "/admin%3Bx", pathAmbiguous, nil},
		{"%2F leaving a rule is ambiguous", "GET", "/health%2F..%2Fadmin", pathAmbiguous, nil},
		{"%2F decoded and %5C not is a reading of its own", "GET", "/public/a%5Cb%2F..%2F..%2Fadmin", pathAmbiguous, nil},
		{"%5C decoded and %2F not is a reading of its own", "GET", "/public/a%2Fb%5C..%5C..%5Cadmin", pathAmbiguous, nil},
		{"a backslash leaving a rule is ambiguous", "GET", `/health\..\admin`, pathAmbiguous, nil},
		{"an encoded slash inside a plain prefix passes", "GET", "/files/a%2Fb.txt", pathOK, rule(2)},
		{"an escaped letter that names another rule is ambiguous", "GET", "/%61dmin", pathAmbiguous, nil},
		{"an escaped space inside a rule passes", "GET", "/oidc/my%20order", pathOK, rule(3)},
		{"//host/path is ambiguous where Node reads an authority", "GET", "//evil.example/admin", pathAmbiguous, nil},
		{"/\\host/path is ambiguous too", "GET", `/\evil.example/admin`, pathAmbiguous, nil},
		{"//oidc/orders is ambiguous: Node reads oidc as a host", "GET", "//oidc/orders", pathAmbiguous, nil},
		{"repeated slashes further in pass", "GET", "/oidc//orders", pathOK, rule(3)},
		{"/admin/ is ambiguous for an exact /admin", "GET", "/admin/", pathAmbiguous, nil},
		{"/admin/. is ambiguous for an exact /admin", "GET", "/admin/.", pathAmbiguous, nil},
		{"/admin is the exact rule", "GET", "/admin", pathOK, rule(6)},
		{"/static is ambiguous for a prefix /static/", "GET", "/static", pathAmbiguous, nil},
		{"/static/ is ambiguous too: /static is the default", "GET", "/static/", pathAmbiguous, nil},
		{"/static/app.js is the prefix rule", "GET", "/static/app.js", pathOK, rule(7)},
		{"/health/ is path_separated_prefix /health either way", "GET", "/health/", pathOK, rule(0)},
		{"HEAD is covered by a GET rule", "HEAD", "/health", pathOK, rule(0)},
		{"POST is not covered by a GET rule", "POST", "/health", pathOK, cfg.Default},
		{"OPTIONS * takes the asterisk rule", "OPTIONS", "*", pathOK, rule(8)},
		{"GET * is not origin-form", "GET", "*", pathNotOriginForm, nil},
		{"an absolute-form target is not origin-form", "GET", "http://evil.example/admin", pathNotOriginForm, nil},
		{"the local proxy finding is not origin-form", "GET", "http:@127.0.0.1:19100/oidc/hello", pathNotOriginForm, nil},
		{"an authority-form target is not origin-form", "CONNECT", "evil.example:443", pathNotOriginForm, nil},
		{"an empty path is not origin-form", "GET", "", pathNotOriginForm, nil},
		{"a query alone is not origin-form", "GET", "?x=1", pathNotOriginForm, nil},
		{"a fragment is refused", "GET", "/health#/../admin", pathNotOriginForm, nil},
		{"a fragment after the query is refused", "GET", "/health?x#y", pathNotOriginForm, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, verdict := cfg.requirementFor(tc.target, tc.method)
			if verdict != tc.verdict || (verdict == pathOK && got != tc.want) {
				t.Fatalf("requirementFor(%q, %s) = rule %d, verdict %d; want rule %d, verdict %d",
					tc.target, tc.method, ruleIndex(cfg, got), verdict, ruleIndex(cfg, tc.want), tc.verdict)
			}
		})
	}
	t.Run("without an asterisk rule OPTIONS * is not origin-form", func(t *testing.T) {
		plain, err := ParseConfig([]byte(localConfig("", "")))
		if err != nil {
			t.Fatal(err)
		}
		if _, v := plain.requirementFor("*", "OPTIONS"); v != pathNotOriginForm {
			t.Fatalf("verdict %d, want not origin-form", v)
		}
	})
}

func TestThePathReadingWorkIsBounded(t *testing.T) {
	cfg, err := ParseConfig([]byte(localConfig("", readingsRules)))
	if err != nil {
		t.Fatal(err)
	}
	every := `//h/a;b/%2e%2E/%2Fc%5Cd\e%3Bf/%41/`
	if n := choicesIn(every).readings(); n != 192 {
		t.Fatalf("%q has %d readings, want 192 (2^8 less those decoding %%3B without cutting params)", every, n)
	}
	cases := []struct {
		name string
		path string
		want pathVerdict
	}{
		{"every choice on a short path is judged", every, pathOK},
		{"every choice on a path at the bound is judged", every + strings.Repeat("segment/", 37), pathOK},
		{"every choice on a path over the bound is refused", every + strings.Repeat("segment/", 1024), pathTooComplex},
		{"one param on a 32 KiB path is judged", "/oidc/x;v=1/" + strings.Repeat("x", 32<<10-16), pathOK},
		{"one param on a 64 KiB path is refused", "/oidc/x;v=1/" + strings.Repeat("x", 64<<10), pathTooComplex},
		{"an ordinary 1 MiB path is judged", "/oidc/" + strings.Repeat("x", 1<<20), pathOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, v := cfg.requirementFor(tc.path, "GET"); v != tc.want {
				t.Fatalf("verdict %d, want %d", v, tc.want)
			}
		})
	}
	t.Run("the filter answers an over-bound path 400 invalid_request", func(t *testing.T) {
		h := startFilter(t, localConfig("", readingsRules))
		r := h.do("GET", every+strings.Repeat("segment/", 1024))
		if r.status() != 400 || r.header("www-authenticate") != `Bearer error="invalid_request"` {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
		}
		if !strings.Contains(h.infoLogs(), "the path has too many readings to judge") {
			t.Fatalf("logs:\n%s", h.infoLogs())
		}
	})
}

func ruleIndex(cfg *Config, req *Requirement) int {
	for i, r := range cfg.Rules {
		if r.Requirement == req {
			return i
		}
	}
	return -1 // the default, or none
}

// The filter answers what requirementFor decides, as DESIGN §4's 400 row.
func TestAmbiguousAndNonOriginFormPathsAre400InvalidRequest(t *testing.T) {
	h := startFilter(t, localConfig("", readingsRules))
	for _, target := range []string{"/oidc/..;/health", "/health%2F..%2Fadmin", "*", "http:@127.0.0.1:19100/oidc/hello", "/health#x"} {
		t.Run(target+" is 400 invalid_request", func(t *testing.T) {
			r := h.do("GET", target)
			if r.status() != 400 || r.header("www-authenticate") != `Bearer error="invalid_request"` || r.body(t)["error"] != "invalid_request" {
				t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
			}
		})
	}
	t.Run("while the plain paths they imitate pass or ask for a token", func(t *testing.T) {
		if r := h.do("GET", "/health"); r.action != types.ActionContinue || r.local != nil {
			t.Fatalf("/health: status %d", r.status())
		}
		if r := h.do("GET", "/oidc/hello"); r.status() != 401 {
			t.Fatalf("/oidc/hello: status %d, want 401", r.status())
		}
		if r := h.do("OPTIONS", "*"); r.action != types.ActionContinue || r.local != nil {
			t.Fatalf("OPTIONS *: status %d", r.status())
		}
	})
	t.Run("the log names the reason", func(t *testing.T) {
		h.do("GET", "/oidc/..;/health")
		if !strings.Contains(h.infoLogs(), "denied 400 GET /oidc/..;/health: readings of the path select different rules") {
			t.Fatalf("logs:\n%s", h.infoLogs())
		}
	})
}

func TestDotSegmentsCannotBorrowAnAllowRule(t *testing.T) {
	h := startFilter(t, localConfig("", `"rules":[
	  {"match":{"prefix":"/health"},"requires":{"allow":true}},
	  {"match":{"prefix":"/files"},"requires":{"allow":true}},
	  {"match":{"prefix":"/admin"},"requires":{"scopes":["admin"]}}]`))
	for _, path := range []string{"/health/../admin", "/health/..//admin", "//health/../admin/x", "/%68ealth/%2E%2E/admin?x=1"} {
		t.Run(path+" is judged as /admin or refused, never let through", func(t *testing.T) {
			if r := h.do("GET", path); r.status() != 401 && r.status() != 400 {
				t.Fatalf("status %d, want 401 or 400", r.status())
			}
		})
	}
	t.Run("the plain /health route stays open", func(t *testing.T) {
		if r := h.do("GET", "/health/live"); r.action != types.ActionContinue || r.local != nil {
			t.Fatalf("status %d action %v, want continue", r.status(), r.action)
		}
	})
	t.Run("a dot segment that stays inside /health stays open", func(t *testing.T) {
		if r := h.do("GET", "/health/x/../live"); r.action != types.ActionContinue {
			t.Fatalf("status %d, want continue", r.status())
		}
	})
}

func TestMethodsCompareCaseInsensitivelyAndGETCoversHEAD(t *testing.T) {
	h := startFilter(t, localConfig("", `"rules":[
	  {"match":{"prefix":"/orders","methods":["delete"]},"requires":{"scopes":["orders.delete"]}},
	  {"match":{"path_separated_prefix":"/reports","methods":["HEAD"]},"requires":{"allow":true}},
	  {"match":{"path_separated_prefix":"/reports","methods":["GET"]},"requires":{"scopes":["reports.read"]}},
	  {"match":{"path_separated_prefix":"/status","methods":["GET"]},"requires":{"scopes":["status.read"]}}],
	  "default":{"allow":true}`))
	reader := h.token(rsKey(), "alice", "orders.read")
	cases := []struct {
		name, method, path, token string
		want                      int
	}{
		{"a lower-case delete meets the DELETE rule", "delete", "/orders/1", reader, 403},
		{"a mixed-case Delete meets the DELETE rule", "Delete", "/orders/1", reader, 403},
		{"DELETE with the scope passes", "DELETE", "/orders/1", h.token(rsKey(), "alice", "orders.delete"), 200},
		{"delete with the scope passes", "delete", "/orders/1", h.token(rsKey(), "alice", "orders.delete"), 200},
		{"HEAD meets the rule that names GET", "HEAD", "/status", reader, 403},
		{"a lower-case head meets it too", "head", "/status", "", 401},
		{"HEAD with the scope passes", "HEAD", "/status", h.token(rsKey(), "alice", "status.read"), 200},
		{"a rule naming HEAD before the GET rule decides HEAD", "HEAD", "/reports", "", 200},
		{"GET still meets its own rule", "GET", "/reports", reader, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.call(tc.method, tc.path, tc.token); r.status() != tc.want {
				t.Fatalf("status %d, want %d", r.status(), tc.want)
			}
		})
	}
}

func TestPathSeparatedPrefixMatchesWholeSegments(t *testing.T) {
	cases := []struct {
		m    Match
		path string
		want bool
	}{
		{Match{SeparatedPrefix: "/api"}, "/api", true},
		{Match{SeparatedPrefix: "/api"}, "/api/", true},
		{Match{SeparatedPrefix: "/api"}, "/api/v1", true},
		{Match{SeparatedPrefix: "/api"}, "/apix", false},
		{Match{SeparatedPrefix: "/api"}, "/ap", false},
		{Match{SeparatedPrefix: "/api/v1"}, "/api/v10", false},
		{Match{Prefix: "/health"}, "/health-internal", true},
		{Match{SeparatedPrefix: "/health"}, "/health-internal", false},
	}
	for _, tc := range cases {
		if got := tc.m.fits(tc.path, "GET"); got != tc.want {
			t.Errorf("%+v fits %s = %v, want %v", tc.m, tc.path, got, tc.want)
		}
	}
}

// FuzzPathReadings: resolving never panics, always yields an absolute path
// free of empty and dot segments (where dots are decoded), an ordinary path
// reads as itself (so the fast path and the readings agree), and
// requirementFor's verdict matches the readings it claims to compare.
func FuzzPathReadings(f *testing.F) {
	for _, s := range []string{"/a/../b", "//x//y/", "/%2e%2E/%2f", `/a\..\b`, "/%", "/%zz", "", "/a;b/..;c/%3B",
		"//host/x", `/\h\x`, "/admin/", "*", "/x#y", "/%61%2F%5C%3b"} {
		f.Add(s)
	}
	cfg, err := ParseConfig([]byte(localConfig("", readingsRules)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		for r := reading(0); ; r++ {
			n := string(r.resolve("/"+p, nil))
			if n == "" || n[0] != '/' {
				t.Fatalf("reading %08b of %q = %q: not absolute", r, p, n)
			}
			if strings.Contains(n, "//") {
				t.Fatalf("reading %08b of %q = %q: an empty segment survived", r, p, n)
			}
			if r&decodeEncodedDot != 0 || r&decodeText == 0 {
				for _, seg := range strings.Split(n, "/") {
					if seg == "." || seg == ".." {
						t.Fatalf("reading %08b of %q = %q: a dot segment survived", r, p, n)
					}
				}
			}
			if r == 0xff {
				break
			}
		}
		if q := "/" + p; !needsNormalising(q) {
			if n := string(reading(0).resolve(q, nil)); n != q {
				t.Fatalf("the ordinary path %q reads as %q", q, n)
			}
		}
		req, verdict := cfg.requirementFor(p, "GET")
		if verdict == pathOK && req == nil {
			t.Fatalf("requirementFor(%q) is OK without a requirement", p)
		}
		if verdict == pathOK && len(p) > 0 && p[0] == '/' && !strings.ContainsAny(p, "?#") {
			for r := choicesIn(p); ; r = (r - 1) & choicesIn(p) {
				if r&decodeEncodedSemicolon == 0 || r&stripParams != 0 {
					if got := cfg.selectRequirement(string(r.resolve(p, nil)), "GET"); got != req {
						t.Fatalf("requirementFor(%q) is OK but reading %08b selects another rule", p, r)
					}
				}
				if r == 0 {
					break
				}
			}
		}
	})
}

// BenchmarkPathReadings measures requirementFor: an ordinary path (one
// reading, the baseline) against paths that spell more and more choices,
// up to all eight (256 readings) on a long path, the bound in path.go.
func BenchmarkPathReadings(b *testing.B) {
	cfg, err := ParseConfig([]byte(localConfig("", readingsRules)))
	if err != nil {
		b.Fatal(err)
	}
	every := `//h/a;b/%2e%2E/%2Fc%5Cd\e%3Bf/%41/`
	for _, bc := range []struct{ name, path string }{
		{"baseline", "/oidc/orders/42?page=2"},
		{"trailing_slash", "/api/v1/items/"},
		{"dot_segments", "/oidc/orders/../orders/./42"},
		{"one_param", "/oidc/orders;v=2/42"},
		{"encoded_slash", "/files/a%2Fb%2Fc.txt"},
		{"all_eight_choices_40B", every},
		{"all_eight_choices_336B_the_most_judged", every + strings.Repeat("segment/", 37)},
		{"all_eight_choices_8KiB_refused", every + strings.Repeat("segment/", 1024)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cfg.requirementFor(bc.path, "GET")
			}
		})
	}
}
