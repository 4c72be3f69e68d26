package filter

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// The differential tests hold readRequest (one pass over the header map
// in place) to the reference reading (reference_test.go: every header
// decoded, one scan per question): for a corpus of requests, ordinary and
// hostile, the filter must give the same decision, the same answer, the
// same upstream headers, the same log lines and the same counters with
// either reading.

// diffClock is the time of every differential filter and token.
var diffClock = time.Unix(1_800_000_000, 0)

// diffConfigs are configurations that, together, make the filter read
// every place a request can carry something it looks at.
var diffConfigs = []struct{ name, cfg string }{
	{"every token place, claim and payload headers", localConfig(`"from_headers":[{"name":"authorization","value_prefix":"Bearer "},{"name":"x-api-token"}],
		"from_params":["access_token"],"from_cookies":["session"],
		"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"},{"claim":"email","header":"x-jwt-email-address"}],
		"forward_payload_header":"x-jwt-payload"`, diffRules)},
	{"DPoP, a certificate from a header, tokens forwarded, no preflight bypass", localConfig(`"dpop":{"mode":"allowed"},
		"certificate_bound":{"client_cert_header":"x-client-cert-sha256"},"forward":true,
		"claim_to_headers":[{"claim":"sub","header":"x_jwt_sub"}]`, diffRules+`,"bypass_cors_preflight":false`)},
	{"Authorization read raw (no scheme word) beside the DPoP scheme", localConfig(`"from_headers":[{"name":"authorization","value_prefix":""}]`, diffRules)},
	{"two providers reading token headers folded alike", `{"providers":[
		{"name":"a","issuer":"` + testIssuer + `","local_jwks":` + string(testjwt.JWKS(rsKey())) + `,"from_headers":[{"name":"x-token"}],
		 "claim_to_headers":[{"claim":"sub","header":"x-sub"}]},
		{"name":"b","issuer":"` + otherIssuer + `","local_jwks":` + string(testjwt.JWKS(esKey())) + `,"from_headers":[{"name":"x_token","value_prefix":"Token "}]}],` + diffRules + `}`},
}

// diffRules: an allow route, an allow_missing route, a scoped API, an admin
// route with a claim alternative, an exact path, methods.
const diffRules = `"rules":[
	{"match":{"prefix":"/health","methods":["GET"]},"requires":{"allow":true}},
	{"match":{"prefix":"/open"},"requires":{"allow_missing":true}},
	{"match":{"path":"/api/exact"},"requires":{"scopes":["exact"]}},
	{"match":{"path_separated_prefix":"/api"},"requires":{"scopes":["read"]}},
	{"match":{"prefix":"/admin","methods":["DELETE","POST"]},"requires":{"any":[{"scopes":["admin"]},{"claims":[{"path":"roles","values":["root"]}]}]}}]`

// diffRequest is one request of the corpus: its headers as the proxy
// hands them over (pseudo headers included) and whether a body follows.
type diffRequest struct {
	name    string
	headers [][2]string
	body    bool
}

// diffOutcome is everything the filter did with one request.
type diffOutcome struct {
	Action   types.Action
	Status   uint32
	Answer   [][2]string
	Body     string
	Upstream [][2]string
	Logs     []string
}

// diffCorpus builds the requests: ordinary ones, hostile spellings of the
// headers the filter strips or reads, duplicated headers, several tokens,
// every token place, DPoP, certificates, preflights, odd paths and methods.
func diffCorpus() []diffRequest {
	at := diffClock
	read := rsKey().Sign(testjwt.Claims(testIssuer, "alice", at, "read"), nil)
	admin := rsKey().Sign(withClaim(testjwt.Claims(testIssuer, "root-user", at, "other"), "roles", []string{"root"}), nil)
	other := esKey().Sign(testjwt.Claims(otherIssuer, "bob", at, "read"), nil)
	expired := rsKey().Sign(testjwt.Claims(testIssuer, "old", at.Add(-2*time.Hour), "read"), nil)
	client := dpopKey()
	bound := rsKey().Sign(withClaim(testjwt.Claims(testIssuer, "carol", at, "read"), "cnf", map[string]any{"jkt": client.Thumbprint()}), nil)
	digest := sha256.Sum256([]byte("client certificate"))
	certBound := rsKey().Sign(withClaim(testjwt.Claims(testIssuer, "dave", at, "read"), "cnf", map[string]any{"x5t#S256": x5t(digest)}), nil)
	proof := func(method, url, token string) string { return client.DPoPProof(method, url, token, "", at) }

	base := func(method, path string, extra ...[2]string) [][2]string {
		return append([][2]string{{":authority", "api.example.com"}, {":path", path}, {":method", method}, {":scheme", "http"}}, extra...)
	}
	get := func(path string, extra ...[2]string) [][2]string { return base("GET", path, extra...) }
	bearer := func(tok string) [2]string { return [2]string{"authorization", "Bearer " + tok} }
	var out []diffRequest
	add := func(name string, headers [][2]string) {
		out = append(out, diffRequest{name: name, headers: headers})
	}

	add("a valid token", get("/api/orders", bearer(read)))
	add("the same token again (a cache hit)", get("/api/orders", bearer(read), [2]string{"user-agent", "test"}))
	add("a browser-like request", get("/api/orders", [2]string{"user-agent", "Mozilla/5.0"}, [2]string{"accept", "*/*"},
		[2]string{"origin", "https://app.example.com"}, [2]string{"sec-ch-ua", `"Chromium";v="126"`}, bearer(read),
		[2]string{"cookie", "theme=dark; lang=en"}, [2]string{"x-request-id", "abc"}))
	add("no token", get("/api/orders"))
	add("no token on an allow_missing route", get("/open/x"))
	add("an allow route", get("/health"))
	add("the scope missing (403)", get("/api/exact", bearer(read)))
	add("the same 403 again", get("/api/exact", bearer(read)))
	add("the admin route by claim", base("DELETE", "/admin/users", bearer(admin)))
	add("the admin route refused", base("POST", "/admin/users", bearer(read)))
	add("the admin route for another method", base("GET", "/admin/users", bearer(read)))
	add("another provider's token", get("/api/orders", bearer(other)))
	add("an expired token", get("/api/orders", bearer(expired)))
	add("garbage as a token", get("/api/orders", bearer("not.a.token")))
	add("an empty bearer", get("/api/orders", [2]string{"authorization", "Bearer"}))
	add("a lower-case scheme and tabs", get("/api/orders", [2]string{"authorization", "bearer \t " + read + " \t"}))
	add("a longer scheme word", get("/api/orders", [2]string{"authorization", "Bearerish " + read}))
	add("another scheme", get("/api/orders", [2]string{"authorization", "Basic YTpi"}))

	// Spoofed claim, payload and token headers, in every spelling folded alike.
	for _, name := range []string{"x-jwt-sub", "X-JWT-SUB", "x_jwt_sub", "X_Jwt-Sub", "x-jwt_sub", "x-jwt-payload", "X_JWT_PAYLOAD",
		"x-jwt-email-address", "x_jwt_email_address", "x-jwt-email_address", "x-sub", "x_sub", "x-api_token", "x_api_token", "X-Token", "x_token", "x-token"} {
		add("spoofed "+name+" with a token", get("/api/orders", bearer(read), [2]string{name, "spoofed"}))
		add("spoofed "+name+" without a token", get("/api/orders", [2]string{name, "spoofed"}))
		add("spoofed "+name+" on an allow route", get("/health", [2]string{name, "spoofed"}))
	}
	add("a claim header twice", get("/api/orders", [2]string{"x-jwt-sub", "a"}, bearer(read), [2]string{"x-jwt-sub", "b"}, [2]string{"x_jwt_sub", "c"}))

	// Token places, alone and together.
	add("a token in the query", get("/api/orders?x=1&access_token="+read+"&y=2"))
	add("a token in the query, escaped name", get("/api/orders?access%5Ftoken="+read))
	add("a token in a cookie", get("/api/orders", [2]string{"cookie", "theme=dark; session=" + read + "; lang=en"}))
	add("a quoted token in a cookie", get("/api/orders", [2]string{"cookie", `session="` + read + `"`}))
	add("a token in a second cookie header", get("/api/orders", [2]string{"cookie", "a=1"}, [2]string{"cookie", "session=" + read}))
	add("a token in the custom header", get("/api/orders", [2]string{"x-api-token", read}))
	add("a token in x-token", get("/api/orders", [2]string{"x-token", read}))
	add("a token in x_token with its scheme", get("/api/orders", [2]string{"x_token", "Token " + other}))
	add("two tokens joined, too large together", get("/api/orders", [2]string{"authorization", "Bearer " + read + "," + strings.Repeat("x", 17000)}))
	add("a raw token in authorization", get("/api/orders", [2]string{"authorization", read}))
	add("a raw token in authorization, scope missing", get("/api/exact", [2]string{"authorization", read}))
	add("a raw bound token in authorization", get("/api/orders", [2]string{"authorization", bound}, [2]string{"dpop", proof("GET", "http://api.example.com/api/orders", bound)}))
	add("two authorization headers", get("/api/orders", bearer(read), bearer(read)))
	add("a header and the query", get("/api/orders?access_token="+read, bearer(read)))
	add("a header and a cookie", get("/api/orders", bearer(read), [2]string{"cookie", "session=" + read}))
	add("two cookies", get("/api/orders", [2]string{"cookie", "session=" + read + "; session=" + read}))
	add("the query twice", get("/api/orders?access_token="+read+"&access_token="+read))
	add("the custom header and authorization", get("/api/orders", [2]string{"x-api-token", read}, bearer(read)))

	// DPoP and certificates.
	const origin = "http://api.example.com"
	dpop := func(tok string) [2]string { return [2]string{"authorization", "DPoP " + tok} }
	add("a bound token with its proof", get("/api/orders", dpop(bound), [2]string{"dpop", proof("GET", origin+"/api/orders", bound)}))
	add("the same proof again (replayed)", get("/api/orders", dpop(bound), [2]string{"dpop", proof("GET", origin+"/api/orders", bound)}))
	add("a bound token, proof header in capitals", get("/api/orders?q=1", dpop(bound), [2]string{"DPoP", proof("GET", origin+"/api/orders", bound)}))
	add("a bound token without a proof", get("/api/orders", dpop(bound)))
	add("a bound token with two proofs", get("/api/orders", dpop(bound), [2]string{"dpop", proof("GET", origin+"/api/orders", bound)},
		[2]string{"dpop", proof("GET", origin+"/api/orders", bound)}))
	add("a bound token sent as bearer", get("/api/orders", bearer(bound), [2]string{"dpop", proof("GET", origin+"/api/orders", bound)}))
	add("a proof for another URI", get("/api/orders", dpop(bound), [2]string{"dpop", proof("GET", origin+"/api/other", bound)}))
	add("a proof for https", base("GET", "/api/orders", [2]string{":scheme", "https"}, dpop(bound), [2]string{"dpop", proof("GET", "https://api.example.com/api/orders", bound)}))
	add("a proof with :scheme https first", append([][2]string{{":scheme", "https"}}, get("/api/orders", dpop(bound),
		[2]string{"dpop", proof("GET", "https://api.example.com/api/orders", bound)})...))
	add("an unbound token with the DPoP scheme", get("/api/orders", dpop(read), [2]string{"dpop", proof("GET", origin+"/api/orders", read)}))
	add("an unbound token with a stray proof", get("/api/orders", bearer(read), [2]string{"dpop", "x"}))
	cert := hex.EncodeToString(digest[:])
	add("a certificate-bound token with its certificate", get("/api/orders", bearer(certBound), [2]string{"x-client-cert-sha256", cert}))
	add("a certificate-bound token, the certificate header twice", get("/api/orders", bearer(certBound),
		[2]string{"x-client-cert-sha256", strings.Repeat("0", 64)}, [2]string{"x-client-cert-sha256", cert}))
	add("a certificate-bound token, another certificate", get("/api/orders", bearer(certBound), [2]string{"x-client-cert-sha256", strings.Repeat("ab", 32)}))
	add("a certificate-bound token, the header spelled with _", get("/api/orders", bearer(certBound), [2]string{"x_client_cert_sha256", cert}))

	// Preflights.
	preflight := [][2]string{{"origin", "https://app.example.com"}, {"access-control-request-method", "GET"}}
	add("a preflight", base("OPTIONS", "/api/orders", preflight...))
	add("a preflight in lower case", base("options", "/api/orders", preflight...))
	add("a preflight without origin", base("OPTIONS", "/api/orders", preflight[1]))
	add("a preflight with an empty origin", base("OPTIONS", "/api/orders", [2]string{"origin", ""}, preflight[1]))
	add("a preflight announcing a body", base("OPTIONS", "/api/orders", append(slices.Clone(preflight), [2]string{"content-length", "5"})...))
	add("a preflight with content-length 0", base("OPTIONS", "/api/orders", append(slices.Clone(preflight), [2]string{"content-length", "0"})...))
	add("a preflight with transfer-encoding", base("OPTIONS", "/api/orders", append(slices.Clone(preflight), [2]string{"transfer-encoding", "chunked"})...))
	add("a preflight with spoofed headers", base("OPTIONS", "/api/orders", append(slices.Clone(preflight), [2]string{"x_jwt_sub", "x"})...))
	out = append(out, diffRequest{name: "a preflight with a body", headers: base("OPTIONS", "/api/orders", preflight...), body: true})

	// Odd paths, methods and pseudo headers.
	for _, path := range []string{"/api//orders", "/api/%2e%2e/admin", "/api;x/orders", "/API/orders", "/api/exact/", "/api/exact?access_token=" + read,
		"*", "http://api.example.com/api", "", "/api/orders#frag", "/health/../api/orders", "/open/%2F..%2Fapi"} {
		add("the path "+path, get(path, bearer(read)))
	}
	add("a lower-case method", base("delete", "/admin/users", bearer(admin)))
	add("no :method", [][2]string{{":authority", "api.example.com"}, {":path", "/api/orders"}, bearer(read)})
	add("no :path", [][2]string{{":authority", "api.example.com"}, {":method", "GET"}, bearer(read)})
	add("two :path headers", get("/health", [2]string{":path", "/api/orders"}))
	add("two :method headers", base("GET", "/health", [2]string{":method", "POST"}))
	add("no headers at all", nil)

	// Method overrides and Envoy's join of repeated token headers (red team).
	for _, name := range []string{"x-http-method-override", "X_HTTP_Method_Override", "x-http-method", "x_method-override"} {
		// GET selects another rule than POST here (400); DELETE the same one.
		add("a POST overridden to GET by "+name, base("POST", "/admin/users", bearer(read), [2]string{name, "GET"}))
		add("a POST overridden to DELETE by "+name, base("POST", "/admin/users", bearer(read), [2]string{name, "delete"}))
	}
	add("a POST overridden by the query", base("POST", "/admin/users?_method=DELETE", bearer(read)))
	add("a POST overridden by an escaped query name", base("POST", "/admin/users?_%6Dethod=GET", bearer(read)))
	add("two bearer tokens joined with a comma", get("/api/orders", [2]string{"authorization", "Bearer " + read + ",Bearer " + read}))
	add("an empty header name", get("/api/orders", [2]string{"", "x"}, bearer(read)))
	return out
}

func withClaim(c map[string]any, name string, v any) map[string]any {
	c[name] = v
	return c
}

// runReading sends the corpus through a filter configured with cfg, the
// reference reading or readRequest deciding, and returns what it did.
func runReading(t *testing.T, cfg string, reqs []diffRequest, hook func(*httpContext) error) ([]diffOutcome, map[string]uint64) {
	t.Helper()
	var outcomes []diffOutcome
	var counters map[string]uint64
	t.Run("run", func(t *testing.T) {
		h := startFilter(t, cfg)
		h.clock.now = diffClock
		h.vm.readHook = hook
		for _, r := range reqs {
			before := len(h.host.GetInfoLogs())
			id := h.host.InitializeHttpContext()
			action := h.host.CallOnRequestHeaders(id, r.headers, !r.body)
			o := diffOutcome{Action: action, Upstream: h.host.GetCurrentRequestHeaders(id)}
			if l := h.host.GetSentLocalResponse(id); l != nil {
				o.Status, o.Answer, o.Body = l.StatusCode, l.Headers, string(l.Data)
			}
			o.Logs = slices.Clone(h.host.GetInfoLogs()[before:])
			h.host.CompleteHttpContext(id)
			outcomes = append(outcomes, o)
		}
		counters = map[string]uint64{}
		for _, name := range []string{"scopegate.allowed", "scopegate.denied.missing", "scopegate.denied.invalid",
			"scopegate.denied.scope", "scopegate.denied.unavailable", "scopegate.cache.hit", "scopegate.cache.miss"} {
			counters[name] = h.counter(name)
		}
	})
	return outcomes, counters
}

// differences lists where two runs of the same corpus differ.
func differences(reqs []diffRequest, fast, ref []diffOutcome, fastCounters, refCounters map[string]uint64) []string {
	var out []string
	for i := range reqs {
		if i >= len(fast) || i >= len(ref) {
			return append(out, "the runs stopped early")
		}
		if !reflect.DeepEqual(fast[i], ref[i]) {
			out = append(out, fmt.Sprintf("%s:\n  one pass:  %+v\n  reference: %+v", reqs[i].name, fast[i], ref[i]))
		}
	}
	if !reflect.DeepEqual(fastCounters, refCounters) {
		out = append(out, fmt.Sprintf("counters: one pass %v, reference %v", fastCounters, refCounters))
	}
	return out
}

func TestReadingAgreesWithTheReference(t *testing.T) {
	reqs := diffCorpus()
	for _, c := range diffConfigs {
		t.Run(c.name, func(t *testing.T) {
			fast, fastCounters := runReading(t, c.cfg, reqs, nil)
			ref, refCounters := runReading(t, c.cfg, reqs, referenceRead)
			for _, d := range differences(reqs, fast, ref, fastCounters, refCounters) {
				t.Error(d)
			}
			// The corpus must exercise both sides of the filter here.
			statuses := map[uint32]bool{}
			for _, o := range fast {
				statuses[o.Status] = true
			}
			if len(statuses) < 4 || !statuses[0] {
				t.Errorf("the corpus got only the answers %v from this configuration", statuses)
			}
		})
	}
	t.Run("a reading that does not strip is caught", func(t *testing.T) {
		noStrip := func(h *httpContext) error {
			h.stripped = true
			return h.plugin.readRequest(h)
		}
		fast, fastCounters := runReading(t, diffConfigs[0].cfg, reqs, noStrip)
		ref, refCounters := runReading(t, diffConfigs[0].cfg, reqs, referenceRead)
		if len(differences(reqs, fast, ref, fastCounters, refCounters)) == 0 {
			t.Error("no difference found")
		}
	})
}

// The fuzz target builds a request from its input: a method, a path and
// header lines ("name: value", newline-separated), in which $R, $A, $B and
// $P stand for a valid token, an admin token, a DPoP-bound token and a
// proof for it, and sends it through a filter of each differential
// configuration (the input's first byte picks one) with each reading.
func FuzzReadingDifferential(f *testing.F) {
	f.Add(byte(0), "GET", "/api/orders", "authorization: Bearer $R\nx-jwt-sub: spoofed")
	f.Add(byte(0), "GET", "/api/orders?access_token=$R", "cookie: session=$R\nX_JWT_Payload: x")
	f.Add(byte(1), "GET", "/api/orders", "authorization: DPoP $B\ndpop: $P\nx_jwt_sub: x")
	f.Add(byte(1), "OPTIONS", "/api/orders", "origin: a\naccess-control-request-method: GET\ncontent-length: 0")
	f.Add(byte(2), "GET", "/api/orders", "x-token: $R\nx_token: Token $R\nx-sub: 1")
	f.Add(byte(0), "delete", "/admin/x", "authorization: bearer  $A\nauthorization: Bearer $R")
	f.Add(byte(0), "GET", "/api;a/%2e%2e/x", "X-API-TOKEN: $R")
	at := diffClock
	read := rsKey().Sign(testjwt.Claims(testIssuer, "alice", at, "read"), nil)
	admin := rsKey().Sign(withClaim(testjwt.Claims(testIssuer, "root-user", at), "roles", []string{"root"}), nil)
	bound := rsKey().Sign(withClaim(testjwt.Claims(testIssuer, "carol", at, "read"), "cnf", map[string]any{"jkt": dpopKey().Thumbprint()}), nil)
	proof := dpopKey().DPoPProof("GET", "http://api.example.com/api/orders", bound, "", at)
	expand := strings.NewReplacer("$R", read, "$A", admin, "$B", bound, "$P", proof)
	f.Fuzz(func(t *testing.T, which byte, method, path, lines string) {
		if len(lines) > 4096 || len(path) > 4096 || strings.ContainsRune(method+path+lines, 0) {
			return // NUL never reaches a filter; the map's framing is the host's
		}
		headers := [][2]string{{":authority", "api.example.com"}, {":path", expand.Replace(path)}, {":method", method}, {":scheme", "http"}}
		for _, line := range strings.Split(lines, "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && line != "" {
				headers = append(headers, [2]string{strings.TrimSpace(name), expand.Replace(strings.TrimSpace(value))})
			}
		}
		cfg := diffConfigs[int(which)%len(diffConfigs)].cfg
		reqs := []diffRequest{{name: "the request", headers: headers}, {name: "the request again", headers: headers}}
		fast, fastCounters := runReading(t, cfg, reqs, nil)
		ref, refCounters := runReading(t, cfg, reqs, referenceRead)
		for _, d := range differences(reqs, fast, ref, fastCounters, refCounters) {
			t.Error(d)
		}
	})
}

// FuzzScanMatchesReference compares readRequest's pass with the reference
// reading on arbitrary header names, in any case and spelling (which the
// SDK's emulator, lower-casing every name, cannot send): the same method,
// path, token candidates and DPoP presence, the same headers removed, and
// the same answers to the later lookups.
func FuzzScanMatchesReference(f *testing.F) {
	f.Add(byte(0), ":method\x00GET\x00:path\x00/a?access_token=t\x00Authorization\x00Bearer x\x00X_JWT_SUB\x00s")
	f.Add(byte(1), "DPoP\x00p\x00dpop\x00q\x00COOKIE\x00session=x\x00X-Client-Cert-SHA256\x00h")
	f.Add(byte(2), "X-TOKEN\x00a\x00X_Token\x00Token b\x00:PATH\x00/x\x00:path\x00/y")
	f.Add(byte(0), "coo\u212Aie\x00session=x\x00x-jwt-\u017Fub\x00y")
	cfgs := make([]*Config, len(diffConfigs))
	for i, c := range diffConfigs {
		cfg, err := ParseConfig([]byte(c.cfg))
		if err != nil {
			f.Fatal(err)
		}
		cfgs[i] = cfg
	}
	f.Fuzz(func(t *testing.T, which byte, flat string) {
		cfg := cfgs[int(which)%len(cfgs)]
		parts := strings.Split(flat, "\x00")
		var pairs [][2]string
		for i := 0; i+1 < len(parts); i += 2 {
			pairs = append(pairs, [2]string{parts[i], parts[i+1]})
		}
		m, err := abi.ParseHeaderMap(abi.EncodeHeaderMap(nil, pairs))
		if err != nil {
			t.Fatal(err)
		}
		var got request
		var removed []string
		cfg.scan(m, &got, func(name string) { removed = append(removed, name) })

		var wantRemoved []string
		for _, p := range pairs {
			if cfg.spoofable(p[0]) {
				wantRemoved = append(wantRemoved, p[0])
			}
		}
		want := request{method: referenceValue(pairs, ":method"), path: referenceValue(pairs, ":path")}
		want.token, want.tokens = cfg.referenceTokens(pairs, want.path)
		_, want.dpop = referenceFind(pairs, "dpop")
		// The scan counts a header token once; authorize counts its commas
		// (tokens Envoy joined) when it is the only one and no cache hit
		// (foundToken.joined). The filter tells apart none, one and more.
		gotTokens := got.tokens
		if gotTokens == 1 && got.token.joined() {
			gotTokens += strings.Count(got.token.raw, ",")
		}
		if got.method != want.method || got.path != want.path || got.token != want.token || min(gotTokens, 2) != min(want.tokens, 2) || got.dpop != want.dpop {
			t.Errorf("scan read method %q path %q token %+v x%d dpop %v; the reference %q %q %+v x%d %v",
				got.method, got.path, got.token, got.tokens, got.dpop, want.method, want.path, want.token, want.tokens, want.dpop)
		}
		if !slices.Equal(removed, wantRemoved) {
			t.Errorf("scan removed %q, the reference %q", removed, wantRemoved)
		}
		ref := pairHeaders(pairs)
		for _, name := range []string{"dpop", "cookie", "origin", ":scheme", ":authority", "x-client-cert-sha256", "content-length"} {
			f1, l1, n1 := got.headers.find(name)
			f2, l2, n2 := ref.find(name)
			if f1 != f2 || l1 != l2 || n1 != n2 {
				t.Errorf("find(%q) = %q %q %d, the reference %q %q %d", name, f1, l1, n1, f2, l2, n2)
			}
			var e1, e2 []string
			got.headers.each(name, func(v string) { e1 = append(e1, v) })
			ref.each(name, func(v string) { e2 = append(e2, v) })
			if !slices.Equal(e1, e2) {
				t.Errorf("each(%q) = %q, the reference %q", name, e1, e2)
			}
		}
	})
}
