package filter

// Red-team tests of the merged filter (see e2e/redteam_test.go for the same
// attacks through the compiled module, and docs/hardening.md).

import (
	"encoding/hex"
	"github.com/scopegate/scopegate/internal/testjwt"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// envoyXFCCElement is the element an Envoy front adds to XFCC for a client
// certificate (source/common/http/conn_manager_utility.cc): By (the front's
// own URI SAN), Hash, Subject quoted with the RFC 2253 escapes BoringSSL
// writes, then the client's URI and DNS SANs exactly as the certificate
// holds them, unquoted and unescaped.
func envoyXFCCElement(hash, subject, uri, dns string) string {
	var esc strings.Builder
	for i := 0; i < len(subject); i++ {
		if strings.IndexByte(`,+"\<>;`, subject[i]) >= 0 {
			esc.WriteByte('\\')
		}
		esc.WriteByte(subject[i])
	}
	el := "By=spiffe://front.example/ns/edge;Hash=" + hash + `;Subject="` + esc.String() + `";URI=` + uri
	if dns != "" {
		el += ";DNS=" + dns
	}
	return el
}

// benignXFCCPart reports whether s could not take part in a forgery: no
// separators, quotes, escapes, keys or "hash".
func benignXFCCPart(s string) bool {
	return !strings.ContainsAny(s, `,;="\`) && !strings.Contains(strings.ToLower(s), "hash")
}

// FuzzXFCCNamesOnlyTheFrontsCertificate: whatever the client controls — the
// XFCC it sent before the front's element (APPEND_FORWARD) and the subject,
// URI and DNS SANs of its own certificate — the digest read is the one the
// front wrote, or none. With nothing hostile in them it is the front's.
func FuzzXFCCNamesOnlyTheFrontsCertificate(f *testing.F) {
	victim := strings.Repeat("ab", 32)
	for _, s := range [][4]string{
		{"", "CN=thief", "spiffe://thief,Hash=" + victim, ""},
		{"", "CN=thief", "spiffe://thief;x=y,By=z;Hash=" + victim, ""},
		{"", "CN=thief", "", "thief.example,Hash=" + victim},
		{`Hash=` + victim + `;Subject="`, "CN=thief", "spiffe://thief", ""},
		{`Hash=` + victim + `;x="`, "CN=thief", `spiffe://thief"`, ""},
		{`x="`, `CN=m,O=x;Hash=` + victim, `a"`, ""},
		{"Hash=" + victim, "CN=client,O=Example", "spiffe://client", "client.example"},
		{"", `CN=a"b\`, "", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[0] != "")
	}
	thiefDigest := strings.Repeat("cd", 32)
	f.Fuzz(func(t *testing.T, prefix, subject, uri, dns string, appendForward bool) {
		v := envoyXFCCElement(thiefDigest, subject, uri, dns)
		if appendForward {
			v = prefix + "," + v
		}
		d := headerCertDigest(v)
		if d != nil && hex.EncodeToString(d) != thiefDigest {
			t.Fatalf("read %x from %q; the front wrote %s", d, v, thiefDigest)
		}
		benign := benignXFCCPart(uri) && benignXFCCPart(dns) && !strings.Contains(strings.ToLower(subject), "hash") &&
			(!appendForward || benignXFCCPart(prefix))
		if benign && d == nil {
			t.Fatalf("refused the front's element %q", v)
		}
	})
}

func TestRedTeamXFCCReadings(t *testing.T) {
	front, other := strings.Repeat("cd", 32), strings.Repeat("ab", 32)
	for _, c := range []struct {
		name, value string
		want        string // "" for no certificate
	}{
		{"the front's element alone", envoyXFCCElement(front, "CN=c,O=d", "spiffe://c", "c.example"), front},
		{"a client element before the front's", "Hash=" + other + ";Subject=\"a,b\"," + envoyXFCCElement(front, "CN=c", "", ""), front},
		{"a subject with escaped quotes and commas", envoyXFCCElement(front, `CN=a"b,c\`, "", ""), front},
		{"a URI SAN that makes a last element", envoyXFCCElement(front, "CN=c", "x,Hash="+other, ""), ""},
		{"a URI SAN with a semicolon before its comma", envoyXFCCElement(front, "CN=c", "x;y=z,Hash="+other, ""), ""},
		{"a DNS SAN that makes a last element", envoyXFCCElement(front, "CN=c", "", "d,Hash="+other), ""},
		{"an open quote in the client's element", `Hash=` + other + `;x=",` + envoyXFCCElement(front, "CN=c", "", ""), ""},
		{"an open quote closed in the SAN", `Hash=` + other + `;x=",` + envoyXFCCElement(front, "", `u"`, ""), ""},
		{"a hash named in the subject", envoyXFCCElement(front, "CN=Hash="+other, "", ""), ""},
		{"a second hash inside another value", "Hash=" + front + ";By=x hash =" + other, ""},
		{"a later element's hash key spelled with spaces", "Hash=" + other + ", hash =" + front, front},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := headerCertDigest(c.value)
			if hex.EncodeToString(got) != c.want {
				t.Fatalf("headerCertDigest(%q) = %x, want %q", c.value, got, c.want)
			}
		})
	}
}

// TestRedTeamLetterCaseIsAReading: Express routes with letter case ignored
// by default, so a path whose case-insensitive reading selects another rule
// is ambiguous (400), in either direction: an upper-case path next to a
// lower-case rule, and a lower-case path next to a rule written in capitals.
func TestRedTeamLetterCaseIsAReading(t *testing.T) {
	h := startFilter(t, localConfig("", `"rules":[
		{"match":{"path":"/admin"},"requires":{"scopes":["admin"]}},
		{"match":{"path_separated_prefix":"/api/admin"},"requires":{"scopes":["admin"]}},
		{"match":{"prefix":"/Reports/"},"requires":{"scopes":["reports"]}},
		{"match":{"path_separated_prefix":"/public"},"requires":{"allow":true}}]`))
	read, admin, reports := h.token(rsKey(), "alice", "read"), h.token(rsKey(), "alice", "admin"), h.token(rsKey(), "alice", "reports")
	for _, c := range []struct {
		name, path, token string
		want              int
		twin, twinToken   string
	}{
		{"an upper-case exact path", "/ADMIN", read, 400, "/admin", admin},
		{"a mixed-case exact path with a trailing slash", "/Admin/", read, 400, "/admin", admin},
		{"an upper-case segment under a separated prefix", "/api/Admin/users", read, 400, "/api/admin/users", admin},
		{"an encoded upper-case letter", "/%41dmin", read, 400, "/admin", admin},
		{"a lower-case path next to a rule in capitals", "/reports/q1", read, 400, "/Reports/q1", reports},
		{"an upper-case path no rule tells apart", "/api/Orders/X1", read, 200, "/api/orders/x1", read},
		{"an upper-case path under an open prefix", "/public/README", "", 200, "/public/readme", ""},
		{"an upper-case open path next to a guarded rule", "/PUBLIC/x", "", 400, "/public/x", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantStatus(t, h.get(c.path, c.token), c.want)
			wantStatus(t, h.get(c.twin, c.twinToken), 200)
		})
	}
}

// TestRedTeamAnEmptyHeaderMapIsNeverLetThrough: Envoy hands a guest an
// empty map where it cannot serialise one (over 1024 pairs or 1 MiB), and a
// proxy-wasm host may hand one over after the stream moved on. An empty map
// has no :path to judge: it is refused, and the claim headers are removed by
// name all the same.
func TestRedTeamAnEmptyHeaderMapIsNeverLetThrough(t *testing.T) {
	h := startFilter(t, localConfig(`"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}]`,
		`"rules":[{"match":{"prefix":"/"},"requires":{"allow":true}}]`))
	id := h.host.InitializeHttpContext()
	r := h.result(id, h.host.CallOnRequestHeaders(id, nil, true))
	if r.action == types.ActionContinue || r.status() != 400 {
		t.Fatalf("an empty header map: action %v status %d, want a 400 answer", r.action, r.status())
	}
	t.Run("while its valid twin, the same open route with its headers, passes", func(t *testing.T) {
		r := h.do("GET", "/anything", [2]string{"x-jwt-sub", "spoofed"})
		wantStatus(t, r, 200)
		if v, ok := r.upstreamHeader("x-jwt-sub"); ok {
			t.Errorf("the upstream gets x-jwt-sub %q", v)
		}
	})
}

// TestRedTeamAMethodOverrideIsAReading: a method named by an override
// header or ?_method= is a reading of the request's method; when it selects
// another rule the request is 400 (e2e: an upstream that honours them).
func TestRedTeamAMethodOverrideIsAReading(t *testing.T) {
	h := startFilter(t, localConfig("", `"rules":[
		{"match":{"prefix":"/orders","methods":["DELETE"]},"requires":{"scopes":["orders.delete"]}},
		{"match":{"prefix":"/orders"},"requires":{"scopes":["read"]}}]`))
	read, del := [2]string{"authorization", "Bearer " + h.token(rsKey(), "alice", "read")}, [2]string{"authorization", "Bearer " + h.token(rsKey(), "alice", "orders.delete")}
	for _, c := range []struct {
		name    string
		path    string
		headers [][2]string
		want    int
	}{
		{"X-HTTP-Method-Override: DELETE", "/orders/1", [][2]string{read, {"x-http-method-override", "DELETE"}}, 400},
		{"X_HTTP_METHOD_OVERRIDE: delete", "/orders/1", [][2]string{read, {"X_HTTP_METHOD_OVERRIDE", "delete"}}, 400},
		{"X-HTTP-Method: DELETE", "/orders/1", [][2]string{read, {"x-http-method", "DELETE"}}, 400},
		{"X-Method-Override: PATCH, DELETE", "/orders/1", [][2]string{read, {"x-method-override", "PATCH, DELETE"}}, 400},
		{"?_method=DELETE", "/orders/1?_method=DELETE", [][2]string{read}, 400},
		{"?%5Fmethod=delete", "/orders/1?%5Fmethod=delete", [][2]string{read}, 400},
		{"the override even with the DELETE scope", "/orders/1?_method=DELETE", [][2]string{del}, 400},
		{"an override no rule tells apart", "/orders/1", [][2]string{read, {"x-http-method-override", "PATCH"}}, 200},
		{"an empty override", "/orders/1", [][2]string{read, {"x-http-method-override", ""}}, 200},
		{"an override naming the request's own method", "/orders/1?_method=post", [][2]string{read}, 200},
		{"a parameter that only looks like one", "/orders/1?x_method=DELETE&_methods=DELETE", [][2]string{read}, 200},
		// Node reads header bytes as latin1 and trims U+00A0: DELETE.
		{"an override with a trailing non-breaking space", "/orders/1", [][2]string{read, {"x-http-method-override", "DELETE\xa0"}}, 400},
		{"an override with a Kelvin sign", "/orders/1?_method=loc%E2%84%AA", [][2]string{read}, 400},
		{"an override with a control byte", "/orders/1", [][2]string{read, {"x-http-method-override", "DELETE\x0b"}}, 400},
		{"valid twin: an override with blanks around a method", "/orders/1", [][2]string{read, {"x-http-method-override", " \tpost\t "}}, 200},
		// PHP (Symfony, Laravel) drops leading spaces from a key and
		// names ".method", "[method" and " _method" _method.
		{"?.method=DELETE", "/orders/1?.method=DELETE", [][2]string{read}, 400},
		{"?[method=DELETE", "/orders/1?%5Bmethod=DELETE", [][2]string{read}, 400},
		{"?+_method=DELETE", "/orders/1?+_method=DELETE", [][2]string{read}, 400},
		{"?%20%20_method=DELETE", "/orders/1?%20%20_method=DELETE", [][2]string{read}, 400},
		{"valid twin: ?+method, which PHP names method", "/orders/1?+method=DELETE", [][2]string{read}, 200},
		{"valid twin: ?.method naming the request's own method", "/orders/1?.method=POST", [][2]string{read}, 200},
		{"valid twin: a short or other key", "/orders/1?m=DELETE&.methods=DELETE&method=DELETE", [][2]string{read}, 200},
	} {
		t.Run(c.name, func(t *testing.T) { wantStatus(t, h.do("POST", c.path, c.headers...), c.want) })
	}
	t.Run("valid twin: DELETE with its scope", func(t *testing.T) { wantStatus(t, h.do("DELETE", "/orders/1", del), 200) })
	t.Run("and DELETE without it is 403", func(t *testing.T) { wantStatus(t, h.do("DELETE", "/orders/1", read), 403) })
	if !strings.Contains(h.infoLogs(), "denied 400 POST /orders/1: a method override selects another rule than the request method") {
		t.Errorf("no log line names the override:\n%s", h.infoLogs())
	}
}

// Two providers may spell one token source differently; read alike, it is
// one source. Counted twice, every token it reads was two tokens (a 400).
func TestTokenSourcesSpelledAlikeCountOnce(t *testing.T) {
	cfg := `{"providers":[
		{"name":"a","issuer":"` + testIssuer + `","local_jwks":` + string(testjwt.JWKS(rsKey())) + `,"from_headers":[{"name":"authorization","value_prefix":"Bearer "}]},
		{"name":"b","issuer":"` + otherIssuer + `","local_jwks":` + string(testjwt.JWKS(esKey())) + `,"from_headers":[{"name":"Authorization","value_prefix":"bearer  "}]}],
		"rules":[{"match":{"prefix":"/"},"requires":{"scopes":["read"]}}]}`
	with(t, "Bearer and bearer, two spaces", cfg, func(t *testing.T, h *coreHarness) {
		t.Run("one token is one token", func(t *testing.T) {
			wantStatus(t, h.get("/orders", h.token(rsKey(), "alice", "read")), 200)
		})
		t.Run("two tokens are still two", func(t *testing.T) {
			tok := h.token(rsKey(), "alice", "read")
			r := h.do("GET", "/orders", [2]string{"authorization", "Bearer " + tok}, [2]string{"authorization", "Bearer " + tok})
			wantStatus(t, r, 400)
		})
	})
}
