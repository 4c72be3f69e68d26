package e2e

// Red-team tests of the merged filter (issues 12, 13, 14 and 17 together),
// through the compiled module in the local host. Each attack has its exact
// answer and a valid twin; docs/hardening.md lists them under "Red team".

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/syncbuf"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// xfccConfig is attackConfig whose provider reads the client certificate
// from x-forwarded-client-cert, as behind a TLS-terminating Envoy front.
func xfccConfig(rs *testjwt.Key) string {
	return strings.Replace(attackConfig(rs), `"max_lifetime_s":86400`,
		`"max_lifetime_s":86400,"certificate_bound":{"client_cert_header":"x-forwarded-client-cert"}`, 1)
}

// TestRedTeamXFCCNamesOnlyTheFrontsCertificate: a front Envoy writes the
// URI and DNS SANs of the client's certificate into XFCC unquoted and
// unescaped (its own source says so: "TODO: Handle the special characters
// in By and URI fields"), and under APPEND_FORWARD keeps whatever XFCC the
// client sent in front of its own element. A thief holding a token bound to
// the victim's certificate (cnf.x5t#S256 names its hash) and any
// certificate of their own (RFC 8705 §2.2 self-signed) can therefore put
// ",Hash=<victim>" or an unbalanced quote into the header; the filter must
// never read the victim's hash out of it.
func TestRedTeamXFCCNamesOnlyTheFrontsCertificate(t *testing.T) {
	rs := testjwt.CachedKey("RS256", "k1")
	a := newAttackHost(t, xfccConfig(rs))
	victimDER, thiefDER := sha256.Sum256([]byte("victim client certificate")), sha256.Sum256([]byte("thief client certificate"))
	victim, thief := hex.EncodeToString(victimDER[:]), hex.EncodeToString(thiefDER[:])
	stolen := rs.Sign(attackClaims(func(c map[string]any) {
		c["cnf"] = map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(victimDER[:])}
	}), nil)
	with := func(xfcc string) attackRequest {
		return onOrders(append(bearer(stolen), [2]string{"x-forwarded-client-cert", xfcc}))
	}
	// What the front writes for the victim's own connection (SANITIZE_SET,
	// set_current_client_cert_details subject and uri).
	victimsOwn := with(`By=spiffe://front;Hash=` + victim + `;Subject="CN=victim,O=Example";URI=spiffe://victim`)
	for _, c := range []attackCase{
		{name: "a URI SAN carrying ,Hash=<victim> (SANITIZE_SET front)",
			attack: with(`By=spiffe://front;Hash=` + thief + `;Subject="CN=thief";URI=spiffe://thief,Hash=` + victim)},
		{name: "a URI SAN carrying ;x,By=...;Hash=<victim>",
			attack: with(`By=spiffe://front;Hash=` + thief + `;Subject="CN=thief";URI=spiffe://thief;x=y,By=spiffe://front;Hash=` + victim)},
		{name: "a DNS SAN carrying ,Hash=<victim> (no URI details)",
			attack: with(`By=spiffe://front;Hash=` + thief + `;DNS=thief.example,Hash=` + victim)},
		{name: "a client element with an open quote before the front's (APPEND_FORWARD front)",
			attack: with(`Hash=` + victim + `;Subject="` + `,By=spiffe://front;Hash=` + thief + `;Subject="CN=thief";URI=spiffe://thief`)},
		{name: "a client element with an open quote closed by a quote in the thief's URI SAN",
			attack: with(`Hash=` + victim + `;x="` + `,By=spiffe://front;Hash=` + thief + `;URI=spiffe://thief"`)},
	} {
		c.want, c.twin = deniedInvalid, victimsOwn
		t.Run(c.name, func(t *testing.T) {
			t.Run("is refused as 401 invalid_token", func(t *testing.T) { requireOutcome(t, a.decide(t, c.attack), c.want) })
			t.Run("while its valid twin passes", func(t *testing.T) { requireOutcome(t, a.decide(t, c.twin), allowed) })
		})
	}
	// The last element is still the front's when the client sent an
	// element of its own that hides nothing (DESIGN §3: the Hash= of the
	// last element).
	t.Run("a plain client element before the front's is ignored", func(t *testing.T) {
		requireOutcome(t, a.decide(t, with(`Hash=`+thief+`;Subject="a,b;c=d",By=spiffe://front;Hash=`+victim+`;Subject="CN=victim"`)), allowed)
		requireOutcome(t, a.decide(t, with(`Hash=`+victim+`;Subject="a,b;c=d",By=spiffe://front;Hash=`+thief+`;Subject="CN=thief"`)), deniedInvalid)
	})
	if n := a.h.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
}

// expressUpstream routes like an Express application with its defaults:
// the raw pathname matched case-insensitively ("case sensitive routing"
// off) and with or without a trailing slash ("strict routing" off).
func expressUpstream(t *testing.T) readerUpstream {
	rec := &hitRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		p = strings.ToLower(p)
		if len(p) > 1 {
			p = strings.TrimSuffix(p, "/")
		}
		rec.serve(w, r, routeOf(p), p)
	}))
	t.Cleanup(srv.Close)
	return readerUpstream{kind: "Express-style router", url: srv.URL, seen: rec.seen}
}

// readersToken is an Authorization header for readingsConfig with scopes.
func readersToken(key *testjwt.Key, scopes ...string) [2]string {
	c := testjwt.Claims(readingsIssuer, "alice", time.Now(), scopes...)
	c["aud"] = readingsAudience
	return [2]string{"authorization", "Bearer " + key.Sign(c, nil)}
}

// TestRedTeamLetterCaseIsAReading: Express, one of the readers paths.md
// names, routes "/ADMIN" to the "/admin" handler by default. A path whose
// case-insensitive reading selects another rule must be 400 like any other
// path the readers disagree on, and must never reach the upstream.
func TestRedTeamLetterCaseIsAReading(t *testing.T) {
	key := testjwt.CachedKey("RS256", "readers")
	token := func(scopes ...string) [2]string { return readersToken(key, scopes...) }
	read, admin, kong := token("read"), token("admin"), token("kong_api_access")
	up := expressUpstream(t)
	p := startFilterProxy(t, readingsConfig(key), nil, func(c *host.Config) { c.Upstream = up.url })
	proxyAddr, upAddr := strings.TrimPrefix(p.URL, "http://"), strings.TrimPrefix(up.url, "http://")
	for _, a := range []readingAttack{
		{name: "/ADMIN next to an exact /admin, with a token lacking admin", attack: get("/ADMIN", read), twin: get("/admin", admin), twinRoute: "admin", escapesTo: "admin"},
		{name: "/Admin/ next to an exact /admin", attack: get("/Admin/", read), twin: get("/admin", admin), twinRoute: "admin", escapesTo: "admin"},
		{name: "/Api/Admin/users with a token lacking admin", attack: get("/Api/Admin/users", read), twin: get("/api/admin/users", admin), twinRoute: "api-admin", escapesTo: "api-admin"},
		{name: "/api/ADMIN/users under the /api rule", attack: get("/api/ADMIN/users", read), twin: get("/api/admin/users", admin), twinRoute: "api-admin", escapesTo: "api-admin"},
		{name: "/OIDC/hello with a token lacking the scope", attack: get("/OIDC/hello", read), twin: get("/oidc/hello", kong), twinRoute: "oidc", escapesTo: "oidc"},
		{name: "upper case where no rule tells the readings apart", attack: get("/api/Orders/ABC-12", read), want: 200, twin: get("/api/orders/abc-12", read), twinRoute: "api"},
	} {
		if a.want == 0 {
			a.want = 400
		}
		t.Run(a.name, func(t *testing.T) {
			t.Run(fmt.Sprintf("is answered %d", a.want), func(t *testing.T) {
				before := len(up.seen(t))
				if status, body := rawSend(t, proxyAddr, a.attack); status != a.want {
					t.Fatalf("status %d %s, want %d", status, body, a.want)
				}
				if a.want != 200 {
					if after := up.seen(t); len(after) != before {
						t.Fatalf("the upstream received it: %+v", after[before:])
					}
				}
			})
			t.Run("while its valid twin reaches "+a.twinRoute, func(t *testing.T) {
				before := len(up.seen(t))
				if status, body := rawSend(t, proxyAddr, a.twin); status != 200 {
					t.Fatalf("status %d %s, want 200", status, body)
				}
				if after := up.seen(t); len(after) != before+1 || after[before].Route != a.twinRoute {
					t.Fatalf("the upstream saw %+v, want one request on %s", after[before:], a.twinRoute)
				}
			})
			if a.escapesTo != "" {
				t.Run("and sent straight to the upstream it reaches "+a.escapesTo, func(t *testing.T) {
					before := len(up.seen(t))
					rawSend(t, upAddr, a.attack)
					if after := up.seen(t); len(after) != before+1 || after[before].Route != a.escapesTo {
						t.Fatalf("the upstream saw %+v", after[before:])
					}
				})
			}
		})
	}
	p.requireClean(t)
}

// TestRedTeamHostCryptoChecksTheKidsOwnKey: verify_signature is handed the
// SPKI of the key the token's kid names, never another key of the set, so a
// token signed by one published key under another's kid is refused, on the
// host's path (counted), and kid-less tokens are tried key by key.
func TestRedTeamHostCryptoChecksTheKidsOwnKey(t *testing.T) {
	r1, r2 := testjwt.CachedKey("RS256", "rt-r1"), testjwt.CachedKey("RS256", "rt-r2")
	e1, e2 := testjwt.CachedKey("ES256", "rt-e1"), testjwt.CachedKey("ES256", "rt-e2")
	var log syncbuf.Buffer
	h, err := cryptoHost(t, cryptoConfig("", r1, r2, e1, e2), host.VerifySignaturePresent, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	claims := func() map[string]any { return testjwt.Claims(filterIssuer, "alice", time.Now()) }
	for _, c := range []struct {
		name   string
		signer *testjwt.Key
		kid    any // nil: no kid
	}{
		{"RS256 signed by one key under another's kid", r1, "rt-r2"},
		{"ES256 signed by one key under another's kid", e2, "rt-e1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := metric(h, "scopegate.signature.host")
			if d := decide(t, h, 0, c.signer.Sign(claims(), map[string]any{"kid": c.kid})); statusOf(d) != 401 {
				t.Fatalf("status %d %s, want 401", statusOf(d), d.Body)
			}
			if metric(h, "scopegate.signature.host") == before {
				t.Fatal("the proxy's verify_signature was not asked")
			}
			t.Run("while its valid twin (its own kid) passes", func(t *testing.T) {
				if d := decide(t, h, 0, c.signer.Sign(claims(), nil)); statusOf(d) != 200 {
					t.Fatalf("status %d %s", statusOf(d), d.Body)
				}
			})
		})
	}
	t.Run("a kid-less token is tried against each key of its type", func(t *testing.T) {
		for _, k := range []*testjwt.Key{r2, e2} {
			if d := decide(t, h, 0, k.Sign(claims(), map[string]any{"kid": nil})); statusOf(d) != 200 {
				t.Fatalf("%s: status %d %s", k.Kid, statusOf(d), d.Body)
			}
		}
	})
}

// boundToken is a token for attackConfig bound to client's key.
func boundToken(rs, client *testjwt.Key) string {
	return rs.Sign(attackClaims(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": client.Thumbprint()} }), nil)
}

// TestRedTeamADPoPProofIsAcceptedOnceEvenByWorkersRacing: the replay store
// is written with CAS, so one proof sent to two worker VMs at the same
// moment is accepted by one of them only (TestDPoPReplayIsRefusedOnEveryWorker
// sends them one after the other).
func TestRedTeamADPoPProofIsAcceptedOnceEvenByWorkersRacing(t *testing.T) {
	rs, client := testjwt.CachedKey("RS256", "k1"), testjwt.CachedKey("ES256", "e2e-dpop")
	a := newAttackHost(t, dpopConfig(rs, ""))
	tok := boundToken(rs, client)
	for round := range 12 {
		proof := client.DPoPProof("GET", "http://api.example/orders/1", tok, "", time.Now())
		var wg sync.WaitGroup
		var allowedN atomic.Int32
		start := make(chan struct{})
		for worker := range 2 {
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					d, err := a.h.DoOn(context.Background(), worker, host.Request{Method: "GET", Path: "/orders/1", Authority: "api.example",
						Headers: [][2]string{{"authorization", "DPoP " + tok}, {"dpop", proof}}})
					if err != nil {
						t.Error(err)
						return
					}
					if d.Continue {
						allowedN.Add(1)
					} else if d.Status != 401 {
						t.Errorf("round %d: status %d %s", round, d.Status, d.Body)
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		if n := allowedN.Load(); n != 1 {
			t.Fatalf("round %d: one proof sent four times at once was accepted %d times, want once", round, n)
		}
	}
	if n := a.h.Traps(); n != 0 {
		t.Errorf("the filter trapped %d times", n)
	}
}

// TestRedTeamDPoPRequestsCarryOneTokenAndOneProof: Authorization: DPoP is a
// token source like any other, so a second token anywhere is 400; a second
// DPoP header in another case is a second proof; and on success neither the
// token nor the proof reaches the upstream.
func TestRedTeamDPoPRequestsCarryOneTokenAndOneProof(t *testing.T) {
	rs, client := testjwt.CachedKey("RS256", "k1"), testjwt.CachedKey("ES256", "e2e-dpop")
	a := newAttackHost(t, dpopConfig(rs, ""))
	tok, other := boundToken(rs, client), rs.Sign(attackClaims(nil), nil)
	proof := func(path string) [2]string {
		return [2]string{"dpop", client.DPoPProof("GET", "http://api.example"+path, tok, "", time.Now())}
	}
	dpop := [2]string{"authorization", "DPoP " + tok}
	for _, c := range []attackCase{
		{name: "the DPoP scheme and a query token", attack: attackRequest{"/orders/1?access_token=" + other, [][2]string{dpop, proof("/orders/1")}}, want: deniedMultiple},
		{name: "the DPoP scheme and a Bearer header", attack: attackRequest{"/orders/1", [][2]string{dpop, {"authorization", "Bearer " + other}, proof("/orders/1")}}, want: deniedMultiple},
		{name: "two proofs in different case", attack: attackRequest{"/orders/1", [][2]string{dpop, proof("/orders/1"), {"DPOP", proof("/orders/1")[1]}}}, want: deniedDPoP},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireOutcome(t, a.decide(t, c.attack), c.want)
			t.Run("while its valid twin passes without the token or proof upstream", func(t *testing.T) {
				d := a.decide(t, attackRequest{"/orders/1", [][2]string{dpop, proof("/orders/1")}})
				requireOutcome(t, d, allowed)
				for _, name := range []string{"authorization", "dpop"} {
					if v, ok := pairValue(d.Headers, name); ok {
						t.Errorf("the upstream gets %s: %.20q...", name, v)
					}
				}
			})
		})
	}
}

// TestRedTeamAPreflightWithAChunkedBodyIsJudged: the CORS preflight bypass
// takes only requests without a body; a body sent chunked (no
// Content-Length) through the local proxy is judged like any request.
func TestRedTeamAPreflightWithAChunkedBodyIsJudged(t *testing.T) {
	p := startFilterProxy(t, attackConfig(testjwt.CachedKey("RS256", "k1")), nil)
	send := func(body io.Reader) int {
		req, err := http.NewRequest("OPTIONS", p.URL+"/orders/1", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "DELETE")
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	before := p.Upstream.count()
	if status := send(io.MultiReader(strings.NewReader(`{"delete":"everything"}`))); status != 401 {
		t.Fatalf("a preflight with a chunked body: %d, want 401", status)
	}
	if p.Upstream.count() != before {
		t.Fatal("the upstream received it")
	}
	if status := send(nil); status != 200 || p.Upstream.count() != before+1 {
		t.Fatalf("the bodyless preflight twin: %d", status)
	}
	p.requireClean(t)
}

// TestRedTeamACertificateHeaderIsNotTheConnection: without
// client_cert_header only the connection's certificate counts; an XFCC the
// client sent, in any spelling, names nothing.
func TestRedTeamACertificateHeaderIsNotTheConnection(t *testing.T) {
	rs := testjwt.CachedKey("RS256", "k1")
	a := newAttackHost(t, attackConfig(rs))
	der := []byte("victim client certificate DER")
	sum := sha256.Sum256(der)
	tok := rs.Sign(attackClaims(func(c map[string]any) {
		c["cnf"] = map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}
	}), nil)
	xfcc := "Hash=" + hex.EncodeToString(sum[:])
	for _, name := range []string{"x-forwarded-client-cert", "x_forwarded_client_cert", "X-Forwarded-Client-Cert"} {
		requireOutcome(t, a.decide(t, onOrders(append(bearer(tok), [2]string{name, xfcc}))), deniedInvalid)
	}
	d, err := a.h.Do(context.Background(), host.Request{Method: "GET", Path: "/orders/1", Authority: "api.example",
		Headers: bearer(tok), ClientCertificate: der})
	if err != nil {
		t.Fatal(err)
	}
	requireOutcome(t, d, allowed)
}

// methodOverrideUpstream serves a POST with the method its headers or query
// name, as method-overriding frameworks do: X-HTTP-Method-Override
// (Rack::MethodOverride, on by default in Rails; Express's method-override;
// ASP.NET Core's UseHttpMethodOverride), X-HTTP-Method (OData, ASP.NET Web
// API), X-Method-Override (Google APIs), in any spelling CGI folds into one
// name, or the _method query parameter (method-override('_method'), Laravel).
func methodOverrideUpstream(t *testing.T) readerUpstream {
	rec := &hitRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			for name, vs := range r.Header {
				switch strings.ReplaceAll(strings.ToLower(name), "_", "-") {
				case "x-http-method-override", "x-http-method", "x-method-override":
					// As Node does: latin1 bytes, JavaScript's trim (which
					// takes U+00A0 too).
					r.Method = strings.ToUpper(trimLatin1Blanks(vs[0]))
				}
			}
			for k, vs := range r.URL.Query() {
				// As PHP names keys: leading spaces dropped, " .[" as "_".
				k = strings.Map(func(r rune) rune {
					if r == ' ' || r == '.' || r == '[' {
						return '_'
					}
					return r
				}, strings.TrimLeft(k, " "))
				if k == "_method" && vs[0] != "" {
					r.Method = strings.ToUpper(vs[0])
				}
			}
		}
		rec.serve(w, r, routeOf(r.URL.Path), r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	return readerUpstream{kind: "method-override upstream", url: srv.URL, seen: rec.seen}
}

// trimLatin1Blanks trims what JavaScript's trim does from a header value
// Node decoded as latin1: spaces, tabs and the byte 0xA0 (U+00A0).
func trimLatin1Blanks(v string) string {
	blank := func(c byte) bool { return c == ' ' || c == '\t' || c == 0xa0 }
	for v != "" && blank(v[0]) {
		v = v[1:]
	}
	for v != "" && blank(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return v
}

// TestRedTeamAMethodOverrideIsAReading: a rule for DELETE /orders must not
// be escaped by a POST the upstream serves as DELETE.
func TestRedTeamAMethodOverrideIsAReading(t *testing.T) {
	key := testjwt.CachedKey("RS256", "readers")
	token := func(scopes ...string) [2]string { return readersToken(key, scopes...) }
	read, del := token("read"), token("orders.delete")
	up := methodOverrideUpstream(t)
	p := startFilterProxy(t, readingsConfig(key), nil, func(c *host.Config) { c.Upstream = up.url })
	proxyAddr, upAddr := strings.TrimPrefix(p.URL, "http://"), strings.TrimPrefix(up.url, "http://")
	post := func(target string, headers ...[2]string) rawRequest {
		return rawRequest{method: "POST", target: target, headers: headers}
	}
	deleteTwin := rawRequest{method: "DELETE", target: "/orders/1", headers: [][2]string{del}}
	for _, a := range []struct {
		name   string
		attack rawRequest
		twin   rawRequest
	}{
		{"POST with X-HTTP-Method-Override: DELETE", post("/orders/1", read, [2]string{"X-HTTP-Method-Override", "DELETE"}), deleteTwin},
		{"POST with x_http_method_override: delete", post("/orders/1", read, [2]string{"x_http_method_override", "delete"}), deleteTwin},
		{"POST with X-HTTP-Method: DELETE", post("/orders/1", read, [2]string{"X-HTTP-Method", "DELETE"}), deleteTwin},
		{"POST with X-Method-Override: DELETE", post("/orders/1", read, [2]string{"X-Method-Override", "DELETE"}), deleteTwin},
		{"POST /orders/1?_method=DELETE", post("/orders/1?_method=DELETE", read), deleteTwin},
		{"POST /orders/1?_%6Dethod=delete", post("/orders/1?_%6Dethod=delete", read), deleteTwin},
		{"POST with X-HTTP-Method-Override: DELETE and a trailing U+00A0 byte", post("/orders/1", read, [2]string{"X-HTTP-Method-Override", "DELETE\xa0"}), deleteTwin},
		{"POST /orders/1?.method=DELETE (PHP reads _method)", post("/orders/1?.method=DELETE", read), deleteTwin},
		{"POST /orders/1?+_method=DELETE (PHP reads _method)", post("/orders/1?+_method=DELETE", read), deleteTwin},
	} {
		t.Run(a.name, func(t *testing.T) {
			t.Run("is answered 400 and never reaches the upstream", func(t *testing.T) {
				before := len(up.seen(t))
				if status, body := rawSend(t, proxyAddr, a.attack); status != 400 {
					t.Fatalf("status %d %s, want 400", status, body)
				}
				if after := up.seen(t); len(after) != before {
					t.Fatalf("the upstream received it: %+v", after[before:])
				}
			})
			t.Run("while its valid twin reaches orders as DELETE", func(t *testing.T) {
				before := len(up.seen(t))
				if status, body := rawSend(t, proxyAddr, a.twin); status != 200 {
					t.Fatalf("status %d %s", status, body)
				}
				if after := up.seen(t); len(after) != before+1 || after[before].Method != "DELETE" {
					t.Fatalf("the upstream saw %+v", after[before:])
				}
			})
			t.Run("and sent straight to the upstream it is served as DELETE", func(t *testing.T) {
				before := len(up.seen(t))
				rawSend(t, upAddr, a.attack)
				if after := up.seen(t); len(after) != before+1 || after[before].Method != "DELETE" || after[before].Route != "orders" {
					t.Fatalf("the upstream saw %+v", after[before:])
				}
			})
		})
	}
	t.Run("an override naming a method no rule tells apart passes", func(t *testing.T) {
		for _, r := range []rawRequest{
			post("/orders/1", read, [2]string{"X-HTTP-Method-Override", "PATCH"}),
			post("/orders/1", read),
			post("/api/x", read, [2]string{"X-HTTP-Method-Override", "DELETE"}),
		} {
			if status, body := rawSend(t, proxyAddr, r); status != 200 {
				t.Fatalf("%s %s %v: status %d %s", r.method, r.target, r.headers[1:], status, body)
			}
		}
	})
	p.requireClean(t)
}

// TestRedTeamTwoAuthorizationHeadersAsEnvoyFoldsThem: Authorization is one
// of Envoy's inline headers, and Envoy joins a repeated inline header into
// one value with ",". The filter then sees "Bearer a,Bearer b": still two
// tokens, DESIGN §3's 400, whichever the proxy.
func TestRedTeamTwoAuthorizationHeadersAsEnvoyFoldsThem(t *testing.T) {
	rs := testjwt.CachedKey("RS256", "k1")
	client := testjwt.CachedKey("ES256", "e2e-dpop")
	a := newAttackHost(t, attackConfig(rs))
	good, bound := rs.Sign(attackClaims(nil), nil), boundToken(rs, client)
	for _, c := range []attackCase{
		{name: "two Bearer tokens joined", attack: onOrders([][2]string{{"authorization", "Bearer " + good + ",Bearer " + good}})},
		{name: "two Bearer tokens joined with a space", attack: onOrders([][2]string{{"authorization", "Bearer " + good + ", Bearer " + good}})},
		{name: "a DPoP token and a Bearer token joined", attack: onOrders([][2]string{{"authorization", "DPoP " + bound + ",Bearer " + good}})},
	} {
		t.Run(c.name, func(t *testing.T) {
			requireOutcome(t, a.decide(t, c.attack), deniedMultiple)
			t.Run("while its valid twin passes", func(t *testing.T) { requireOutcome(t, a.decide(t, onOrders(bearer(good))), allowed) })
		})
	}
}

// TestRedTeamDPoPProofURIAndThePathReadings: htu is compared after RFC 9449
// §4.3's syntax-based normalisation (dot segments, unreserved escapes) on
// both sides, so a proof names the resource every reader resolves the path
// to; spellings that normalisation keeps apart (params, doubled slashes,
// letter case) are another URI and need their own proof.
func TestRedTeamDPoPProofURIAndThePathReadings(t *testing.T) {
	rs, client := testjwt.CachedKey("RS256", "k1"), testjwt.CachedKey("ES256", "e2e-dpop")
	a := newAttackHost(t, dpopConfig(rs, ""))
	tok := boundToken(rs, client)
	with := func(path, htuPath string) attackRequest {
		return attackRequest{path, [][2]string{{"authorization", "DPoP " + tok},
			{"dpop", client.DPoPProof("GET", "http://api.example"+htuPath, tok, "", time.Now())}}}
	}
	for _, c := range []struct {
		path, htu string
		want      outcome
	}{
		{"/orders/./1", "/orders/1", allowed},
		{"/orders/%31", "/orders/1", allowed},
		{"/orders/1", "/orders/x/../1", allowed},
		{"/orders/1?page=2", "/orders/1", allowed},
		{"/orders/1;x", "/orders/1", deniedDPoP},
		{"/orders//1", "/orders/1", deniedDPoP},
		{"/orders/2", "/orders/1", deniedDPoP},
		{"/orders/1", "/Orders/1", deniedDPoP},
	} {
		t.Run(c.path+" with a proof for "+c.htu, func(t *testing.T) {
			requireOutcome(t, a.decide(t, with(c.path, c.htu)), c.want)
			if c.want != allowed {
				t.Run("while its valid twin, a proof for the path as sent, passes", func(t *testing.T) {
					requireOutcome(t, a.decide(t, with(c.path, c.path)), allowed)
				})
			}
		})
	}
}
