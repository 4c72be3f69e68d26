package filter

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/internal/testjwt"
)

const scopedRules = `"rules":[
  {"match":{"prefix":"/oidc"},"requires":{"provider":"idp","scopes":["kong_api_access"]}},
  {"match":{"prefix":"/health","methods":["GET"]},"requires":{"allow":true}},
  {"match":{"path":"/admin"},"requires":{"any":[{"scopes":["admin"]},{"claims":[{"path":"realm_access.roles","values":["admin"]}]}]}},
  {"match":{"prefix":"/open"},"requires":{"allow_missing":true}},
  {"match":{"prefix":"/both"},"requires":{"scopes":["read","write"]}}
]`

// Each row of the DESIGN §4 table, next to the request that passes instead.
func TestAnswersFollowTheDesignTable(t *testing.T) {
	h := startFilter(t, localConfig("", scopedRules))
	good := h.token(rsKey(), "alice", "kong_api_access")

	t.Run("a valid token with the scope is allowed", func(t *testing.T) {
		r := h.get("/oidc/x", good)
		if r.status() != 200 || r.action != types.ActionContinue {
			t.Fatalf("status %d action %v", r.status(), r.action)
		}
	})
	t.Run("no token is 401 with a bare Bearer challenge", func(t *testing.T) {
		r := h.get("/oidc/x", "")
		if r.status() != 401 || r.header("www-authenticate") != "Bearer" || r.action != types.ActionPause {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
		}
		if b := r.body(t); b["error"] != "unauthorized" || b["error_description"] == "" {
			t.Errorf("body = %v", b)
		}
		if r.header("content-type") != "application/json" {
			t.Errorf("content-type = %q", r.header("content-type"))
		}
	})
	t.Run("a token in a header and a parameter is 400 invalid_request", func(t *testing.T) {
		r := h.do("GET", "/oidc/x?access_token="+good, [2]string{"authorization", "Bearer " + good})
		if r.status() != 400 || r.header("www-authenticate") != `Bearer error="invalid_request"` {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
		}
		if b := r.body(t); b["error"] != "invalid_request" {
			t.Errorf("body = %v", b)
		}
	})
	t.Run("two authorization headers are 400", func(t *testing.T) {
		r := h.do("GET", "/oidc/x", [2]string{"authorization", "Bearer " + good}, [2]string{"authorization", "Bearer " + good})
		if r.status() != 400 {
			t.Fatalf("status %d", r.status())
		}
	})
	t.Run("a token only in the parameter is allowed", func(t *testing.T) {
		if r := h.do("GET", "/oidc/x?access_token="+good); r.status() != 200 {
			t.Fatalf("status %d", r.status())
		}
	})
	invalid := map[string]string{
		"a malformed token":        "not.a.jwt",
		"a bad signature":          good[:len(good)-4] + "AAAA",
		"an expired token":         rsKey().Sign(withTimes(testIssuer, h.clock.now, -2*time.Hour, -61*time.Second), nil),
		"a token not yet valid":    rsKey().Sign(withNbf(testjwt.Claims(testIssuer, "a", h.clock.now, "kong_api_access"), h.clock.now.Add(2*time.Minute)), nil),
		"a wrong issuer":           rsKey().Sign(testjwt.Claims(otherIssuer, "a", h.clock.now, "kong_api_access"), nil),
		"an unknown kid":           testjwt.CachedKey("RS256", "stranger").Sign(testjwt.Claims(testIssuer, "a", h.clock.now, "kong_api_access"), nil),
		"a disallowed algorithm":   testjwt.CachedKey("HS256", "rs-1").Sign(testjwt.Claims(testIssuer, "a", h.clock.now, "kong_api_access"), nil),
		"a token over 16384 bytes": rsKey().Sign(withPadding(testjwt.Claims(testIssuer, "a", h.clock.now, "kong_api_access"), 17000), nil),
		"an empty bearer token":    "",
	}
	for name, tok := range invalid {
		t.Run(name+" is 401 invalid_token", func(t *testing.T) {
			var r *response
			if tok == "" {
				r = h.do("GET", "/oidc/x", [2]string{"authorization", "Bearer "})
			} else {
				r = h.get("/oidc/x", tok)
			}
			want := `Bearer error="invalid_token", error_description="`
			if r.status() != 401 || !strings.HasPrefix(r.header("www-authenticate"), want) {
				t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
			}
			b := r.body(t)
			if b["error"] != "invalid_token" || b["error_description"] == "" {
				t.Errorf("body = %v", b)
			}
			if len(tok) >= 20 && (strings.Contains(string(r.local.Data), tok[:20]) || strings.Contains(r.header("www-authenticate"), tok[:20])) {
				t.Error("the answer echoes the token")
			}
		})
	}
	t.Run("a valid token without the scope is 403 insufficient_scope naming it", func(t *testing.T) {
		r := h.get("/oidc/x", h.token(rsKey(), "bob", "other"))
		if r.status() != 403 || !strings.HasPrefix(r.header("www-authenticate"), `Bearer error="insufficient_scope", scope="kong_api_access"`) {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
		}
		if b := r.body(t); b["error"] != "insufficient_scope" {
			t.Errorf("body = %v", b)
		}
		if !strings.Contains(h.infoLogs(), `required scopes were not found [kong_api_access]`) || !strings.Contains(h.infoLogs(), `sub="bob"`) {
			t.Errorf("info logs = %s", h.infoLogs())
		}
	})
	t.Run("the log never holds the token", func(t *testing.T) {
		all := strings.Join(append(h.host.GetInfoLogs(), h.host.GetWarnLogs()...), "\n")
		if strings.Contains(all, good[:40]) {
			t.Error("a log line carries the token")
		}
	})
}

func withTimes(iss string, now time.Time, iatOffset, expOffset time.Duration) map[string]any {
	return map[string]any{"iss": iss, "sub": "a", "scope": "kong_api_access",
		"iat": now.Add(iatOffset).Unix(), "exp": now.Add(expOffset).Unix()}
}

func withNbf(c map[string]any, nbf time.Time) map[string]any { c["nbf"] = nbf.Unix(); return c }

func withPadding(c map[string]any, n int) map[string]any { c["pad"] = strings.Repeat("x", n); return c }

func TestUnavailableKeysAnswer503WithoutChallenge(t *testing.T) {
	h := startFilter(t, `{"providers":[{"name":"r","issuer":"`+testIssuer+`","remote_jwks":{"cluster":"idp","uri":"https://idp/certs"}}]}`)
	// The first fetch (on the first tick) fails: no key set exists at all.
	h.host.Tick()
	for _, c := range h.host.GetCalloutAttributesFromContext(proxytest.PluginContextID) {
		h.host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", "500"}}, nil, []byte("boom"))
	}
	r := h.get("/x", h.token(rsKey(), "a"))
	if r.status() != 503 || r.header("www-authenticate") != "" {
		t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
	}
	if b := r.body(t); b["error"] == "" || b["error_description"] == "" {
		t.Errorf("body = %v", b)
	}
	if h.counter(metricDeniedUnavailable) != 1 {
		t.Errorf("denied.unavailable = %d", h.counter(metricDeniedUnavailable))
	}
}

func TestRealmComesFirstInEveryChallenge(t *testing.T) {
	h := startFilter(t, localConfig("", scopedRules+`,"realm":"orders"`))
	if got := h.get("/oidc/x", "").header("www-authenticate"); got != `Bearer realm="orders"` {
		t.Errorf("401 missing: %q", got)
	}
	if got := h.get("/oidc/x", "x.y.z").header("www-authenticate"); !strings.HasPrefix(got, `Bearer realm="orders", error="invalid_token", error_description="`) {
		t.Errorf("401 invalid: %q", got)
	}
	if got := h.get("/oidc/x", h.token(rsKey(), "a")).header("www-authenticate"); !strings.HasPrefix(got, `Bearer realm="orders", error="insufficient_scope", scope="kong_api_access"`) {
		t.Errorf("403: %q", got)
	}
}

func TestRulesSelectTheRequirement(t *testing.T) {
	h := startFilter(t, localConfig("", scopedRules))
	admin := h.token(rsKey(), "root", "admin")
	roleOnly := rsKey().Sign(map[string]any{"iss": testIssuer, "sub": "r", "exp": h.clock.now.Add(time.Hour).Unix(),
		"realm_access": map[string]any{"roles": []string{"user", "admin"}}}, nil)
	plain := h.token(rsKey(), "joe")
	readOnly := h.token(rsKey(), "joe", "read")
	readWrite := h.token(rsKey(), "joe", "write", "read")
	cases := []struct {
		name, method, path, token string
		want                      int
	}{
		{"GET /health needs no token", "GET", "/health", "", 200},
		{"GET /health ignores even a broken token", "GET", "/healthz", "garbage", 200},
		{"POST /health is not the allow rule and needs a token", "POST", "/health", "", 401},
		{"/admin accepts the admin scope", "GET", "/admin", admin, 200},
		{"/admin accepts the admin role claim", "GET", "/admin", roleOnly, 200},
		{"/admin refuses a token with neither", "GET", "/admin", plain, 403},
		{"/admin is an exact path: /admin/x falls to the default", "GET", "/admin/x", plain, 200},
		{"the query string is not part of the path", "GET", "/admin?x=1", plain, 403},
		{"/open lets a missing token through", "GET", "/open", "", 200},
		{"/open still rejects an invalid token", "GET", "/open", "a.b.c", 401},
		{"/open accepts a valid token", "GET", "/open", plain, 200},
		{"/both needs every scope", "GET", "/both", readOnly, 403},
		{"/both passes with every scope in any order", "GET", "/both", readWrite, 200},
		{"unmatched paths use the default: a valid token", "GET", "/anything", plain, 200},
		{"unmatched paths use the default: no token is 401", "GET", "/anything", "", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.call(tc.method, tc.path, tc.token); r.status() != tc.want {
				t.Fatalf("status %d, want %d (%s)", r.status(), tc.want, r.header("www-authenticate"))
			}
		})
	}
	t.Run("a 403 for both scopes logs only the missing one and challenges with both", func(t *testing.T) {
		r := h.get("/both", readOnly)
		if !strings.Contains(r.header("www-authenticate"), `scope="read write"`) {
			t.Errorf("www-authenticate = %q", r.header("www-authenticate"))
		}
		if !strings.Contains(h.infoLogs(), "required scopes were not found [write]") {
			t.Errorf("logs = %s", h.infoLogs())
		}
	})
}

func TestProviderIsChosenByIssuerAmongThoseTheRuleAllows(t *testing.T) {
	other := testjwt.CachedKey("ES256", "other-1")
	cfg := `{"providers":[
	  {"name":"idp","issuer":"` + testIssuer + `","local_jwks":` + string(testjwt.JWKS(rsKey())) + `},
	  {"name":"partner","issuer":"` + otherIssuer + `","local_jwks":` + string(testjwt.JWKS(other)) + `,
	   "claim_to_headers":[{"claim":"sub","header":"x-partner-sub"}]}],
	 "rules":[{"match":{"prefix":"/idp-only"},"requires":{"provider":"idp"}}]}`
	h := startFilter(t, cfg)
	partnerTok := other.Sign(testjwt.Claims(otherIssuer, "p", h.clock.now), nil)
	if r := h.get("/any", partnerTok); r.status() != 200 {
		t.Fatalf("partner token on the default: %d", r.status())
	} else if v, _ := r.upstreamHeader("x-partner-sub"); v != "p" {
		t.Errorf("x-partner-sub = %q", v)
	}
	if r := h.get("/idp-only", partnerTok); r.status() != 401 {
		t.Errorf("partner token on an idp-only route: %d, want 401", r.status())
	}
	if r := h.get("/idp-only", h.token(rsKey(), "a")); r.status() != 200 {
		t.Errorf("idp token on an idp-only route: %d", r.status())
	}
	// A token claiming the partner's issuer but signed with idp's key fails.
	forged := rsKey().Sign(testjwt.Claims(otherIssuer, "p", h.clock.now), nil)
	if r := h.get("/any", forged); r.status() != 401 {
		t.Errorf("forged issuer: %d, want 401", r.status())
	}
}

func TestSuccessRemovesTheTokenAndSetsClaimHeaders(t *testing.T) {
	prov := `"from_cookies":["session"],"forward_payload_header":"x-jwt-payload",
	  "claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"},{"claim":"groups","header":"x-groups"},{"claim":"missing","header":"x-missing"}]`
	h := startFilter(t, localConfig(prov, `"rules":[{"match":{"prefix":"/public"},"requires":{"allow":true}}]`))
	claims := testjwt.Claims(testIssuer, "alice", h.clock.now, "read")
	claims["groups"] = []string{"a", "b"}
	tok := rsKey().Sign(claims, nil)
	spoofed := [][2]string{{"x-jwt-sub", "mallory"}, {"x-jwt-payload", "e30"}, {"x-groups", "admin"}, {"x-missing", "forged"}}

	check := func(t *testing.T, r *response, tokenGone func() bool) {
		t.Helper()
		if r.status() != 200 {
			t.Fatalf("status %d", r.status())
		}
		if !tokenGone() {
			t.Error("the token reached the upstream")
		}
		if v, _ := r.upstreamHeader("x-jwt-sub"); v != "alice" {
			t.Errorf("x-jwt-sub = %q", v)
		}
		if v, _ := r.upstreamHeader("x-groups"); v != "a,b" {
			t.Errorf("x-groups = %q", v)
		}
		if v, ok := r.upstreamHeader("x-missing"); ok {
			t.Errorf("x-missing = %q, want absent (claim not in token)", v)
		}
		payload, _ := r.upstreamHeader("x-jwt-payload")
		if payload != strings.Split(tok, ".")[1] {
			t.Errorf("x-jwt-payload = %q", payload)
		}
		if dec, err := base64.RawURLEncoding.DecodeString(payload); err != nil || !strings.Contains(string(dec), `"sub":"alice"`) {
			t.Errorf("payload decodes to %q (%v)", dec, err)
		}
	}
	t.Run("a header token is removed and spoofed claim headers replaced", func(t *testing.T) {
		r := h.do("GET", "/x", append([][2]string{{"authorization", "Bearer " + tok}}, spoofed...)...)
		check(t, r, func() bool { _, ok := r.upstreamHeader("authorization"); return !ok })
	})
	t.Run("a parameter token is removed from the path, other parameters kept", func(t *testing.T) {
		r := h.do("GET", "/x?a=1&access_token="+tok+"&b=2")
		check(t, r, func() bool { p, _ := r.upstreamHeader(":path"); return p == "/x?a=1&b=2" })
	})
	t.Run("a cookie token is removed, other cookies kept", func(t *testing.T) {
		r := h.do("GET", "/x", [2]string{"cookie", "theme=dark; session=" + tok + "; lang=en"})
		check(t, r, func() bool { c, _ := r.upstreamHeader("cookie"); return c == "theme=dark; lang=en" })
	})
	t.Run("spoofed claim headers are stripped on allow rules too", func(t *testing.T) {
		r := h.do("GET", "/public", spoofed...)
		if r.status() != 200 {
			t.Fatalf("status %d", r.status())
		}
		for _, s := range spoofed {
			if v, ok := r.upstreamHeader(s[0]); ok {
				t.Errorf("%s = %q reached the upstream", s[0], v)
			}
		}
	})
	t.Run("spoofed claim headers are stripped from denied requests", func(t *testing.T) {
		r := h.do("GET", "/x", spoofed...)
		if r.status() != 401 {
			t.Fatalf("status %d", r.status())
		}
		for _, s := range spoofed {
			if _, ok := r.upstreamHeader(s[0]); ok {
				t.Errorf("%s still present", s[0])
			}
		}
	})
}

func TestForwardKeepsTheToken(t *testing.T) {
	h := startFilter(t, localConfig(`"forward":true`, ""))
	tok := h.token(rsKey(), "a")
	r := h.get("/x", tok)
	if v, _ := r.upstreamHeader("authorization"); r.status() != 200 || v != "Bearer "+tok {
		t.Fatalf("status %d authorization %q", r.status(), v)
	}
}

func TestTokenSourcesAndSchemes(t *testing.T) {
	h := startFilter(t, localConfig(`"from_headers":[{"name":"authorization","value_prefix":"Bearer "},{"name":"x-token"}],"from_params":["t"]`, ""))
	tok := h.token(rsKey(), "a")
	cases := []struct {
		name    string
		path    string
		headers [][2]string
		want    int
	}{
		{"the scheme word is case-insensitive", "/x", [][2]string{{"authorization", "bEaReR " + tok}}, 200},
		{"several spaces may follow the scheme", "/x", [][2]string{{"authorization", "Bearer    " + tok}}, 200},
		{"a header without prefix carries the bare token", "/x", [][2]string{{"x-token", tok}}, 200},
		{"another scheme is not a token", "/x", [][2]string{{"authorization", "Basic dXNlcjpwdw=="}}, 401},
		{"a glued scheme is not a token", "/x", [][2]string{{"authorization", "Bearer" + tok}}, 401},
		{"a configured parameter carries the token", "/x?t=" + tok, nil, 200},
		{"the default parameter is replaced by the configured one", "/x?access_token=" + tok, nil, 401},
		{"an URL-encoded parameter is decoded", "/x?t=" + strings.ReplaceAll(tok, ".", "%2E"), nil, 200},
		{"two configured headers are two tokens", "/x", [][2]string{{"authorization", "Bearer " + tok}, {"x-token", tok}}, 400},
		{"a Basic header next to a token is no second token", "/x", [][2]string{{"authorization", "Basic abc"}, {"x-token", tok}}, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("GET", tc.path, tc.headers...)
			if r.status() != tc.want {
				t.Fatalf("status %d, want %d (%s)", r.status(), tc.want, r.header("www-authenticate"))
			}
		})
	}
	t.Run("the missing-token answer for a Basic header has no error code", func(t *testing.T) {
		if got := h.do("GET", "/x", [2]string{"authorization", "Basic abc"}).header("www-authenticate"); got != "Bearer" {
			t.Errorf("www-authenticate = %q", got)
		}
	})
}

func TestCORSPreflightBypass(t *testing.T) {
	preflight := [][2]string{{"origin", "https://app"}, {"access-control-request-method", "POST"}}
	t.Run("a preflight passes without a token", func(t *testing.T) {
		h := startFilter(t, localConfig("", ""))
		if r := h.do("OPTIONS", "/x", preflight...); r.status() != 200 {
			t.Fatalf("status %d", r.status())
		}
	})
	t.Run("OPTIONS without the preflight headers needs a token", func(t *testing.T) {
		h := startFilter(t, localConfig("", ""))
		if r := h.do("OPTIONS", "/x", [2]string{"origin", "https://app"}); r.status() != 401 {
			t.Fatalf("status %d", r.status())
		}
	})
	t.Run("the bypass can be turned off", func(t *testing.T) {
		h := startFilter(t, localConfig("", `"bypass_cors_preflight":false`))
		if r := h.do("OPTIONS", "/x", preflight...); r.status() != 401 {
			t.Fatalf("status %d", r.status())
		}
	})
}

func TestMetricsCountEveryDecision(t *testing.T) {
	h := startFilter(t, localConfig("", scopedRules))
	good := h.token(rsKey(), "a", "kong_api_access")
	h.get("/oidc", good)                                                        // allowed, cache miss
	h.get("/oidc", good)                                                        // allowed, cache hit
	h.get("/oidc", "")                                                          // missing
	h.get("/oidc", "x.y.z")                                                     // invalid, miss
	h.get("/oidc", h.token(rsKey(), "b"))                                       // scope, miss
	h.do("GET", "/oidc?access_token=x", [2]string{"authorization", "Bearer y"}) // invalid (400)
	want := map[string]uint64{
		metricAllowed: 2, metricDeniedMissing: 1, metricDeniedInvalid: 2, metricDeniedScope: 1,
		metricDeniedUnavailable: 0, metricCacheHit: 1, metricCacheMiss: 3,
	}
	for name, n := range want {
		if got := h.counter(name); got != n {
			t.Errorf("%s = %d, want %d", name, got, n)
		}
	}
	for _, name := range []string{metricJWKSFetchOK, metricJWKSFetchFailed} {
		if _, err := h.host.GetCounterMetric(name); err != nil {
			t.Errorf("%s is not defined: %v", name, err)
		}
	}
}

func TestVerifiedTokenCache(t *testing.T) {
	h := startFilter(t, localConfig("", `"rules":[{"match":{"prefix":"/s"},"requires":{"scopes":["s"]}}]`))
	t.Run("a cached token still honours its exp", func(t *testing.T) {
		tok := rsKey().Sign(map[string]any{"iss": testIssuer, "sub": "a", "exp": h.clock.now.Add(time.Minute).Unix()}, nil)
		if r := h.get("/x", tok); r.status() != 200 {
			t.Fatalf("first: %d", r.status())
		}
		h.clock.now = h.clock.now.Add(30 * time.Second)
		if r := h.get("/x", tok); r.status() != 200 {
			t.Fatalf("before exp: %d", r.status())
		}
		hits := h.counter(metricCacheHit)
		h.clock.now = h.clock.now.Add(91 * time.Second) // past exp + 60 s skew
		if r := h.get("/x", tok); r.status() != 401 {
			t.Fatalf("after exp: %d, want 401", r.status())
		}
		if h.counter(metricCacheHit) != hits {
			t.Error("an expired token was served from the cache")
		}
	})
	t.Run("a cached token is still checked against the route's requirement", func(t *testing.T) {
		tok := h.token(rsKey(), "a")
		if r := h.get("/x", tok); r.status() != 200 {
			t.Fatalf("status %d", r.status())
		}
		if r := h.get("/s", tok); r.status() != 403 {
			t.Fatalf("cached token on a scoped route: %d, want 403", r.status())
		}
	})
}

func TestConfigurationErrorsFailOnConfigure(t *testing.T) {
	h, status := startFilterStatus(t, `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"/relative"}}]}`)
	if status != types.OnPluginStartStatusFailed {
		t.Fatal("on_configure accepted a bad configuration")
	}
	logs := strings.Join(h.host.GetErrorLogs(), "\n")
	if !strings.Contains(logs, "providers[0].remote_jwks.uri: must be an absolute http or https URI") {
		t.Errorf("error logs = %s", logs)
	}
	// A host that sent requests anyway would see them refused, never allowed.
	if r := h.get("/x", "anything"); r.status() != 503 || r.action == types.ActionContinue {
		t.Errorf("request to an unconfigured filter: status %d action %v", r.status(), r.action)
	}
}

func TestSkippedKeysAreLoggedAtWarn(t *testing.T) {
	weak := map[string]any{"kty": "RSA", "kid": "weak", "n": "AQAB", "e": "AQAB"}
	h := startFilter(t, `{"providers":[{"name":"a","local_jwks":`+string(testjwt.JWKSOf(rsKey().JWK(), weak))+`}]}`)
	if logs := strings.Join(h.host.GetWarnLogs(), "\n"); !strings.Contains(logs, `key "weak" skipped`) {
		t.Errorf("warn logs = %s", logs)
	}
}

func TestAudienceAndScopeClaimTypes(t *testing.T) {
	h := startFilter(t, localConfig(`"audiences":["orders"]`, `"rules":[{"match":{"prefix":"/s"},"requires":{"scopes":["read"]}}]`))
	claims := func(aud any, scope any) map[string]any {
		c := testjwt.Claims(testIssuer, "a", h.clock.now)
		if aud != nil {
			c["aud"] = aud
		}
		if scope != nil {
			c["scope"] = scope
		}
		return c
	}
	cases := []struct {
		name string
		path string
		c    map[string]any
		want int
	}{
		{"a matching aud string is accepted", "/x", claims("orders", nil), 200},
		{"a matching aud in an array is accepted", "/x", claims([]string{"x", "orders"}, nil), 200},
		{"another aud is 401", "/x", claims("billing", nil), 401},
		{"a missing aud is 401", "/x", claims(nil, nil), 401},
		{"scopes as a string are read", "/s", claims("orders", "write read"), 200},
		{"scopes as a scp array are read", "/s", func() map[string]any { c := claims("orders", nil); c["scp"] = []string{"read"}; return c }(), 200},
		{"a scope claim of the wrong type counts as no scopes", "/s", claims("orders", 5), 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.get(tc.path, rsKey().Sign(tc.c, nil)); r.status() != tc.want {
				t.Fatalf("status %d, want %d (%s)", r.status(), tc.want, r.header("www-authenticate"))
			}
		})
	}
}

func TestIssuerlessProviderAcceptsAnyIssuerAfterExactMatches(t *testing.T) {
	other := testjwt.CachedKey("ES256", "any-1")
	cfg := `{"providers":[
	  {"name":"exact","issuer":"` + testIssuer + `","local_jwks":` + string(testjwt.JWKS(rsKey())) + `},
	  {"name":"any","local_jwks":` + string(testjwt.JWKS(other)) + `,"claim_to_headers":[{"claim":"iss","header":"x-iss"}]}]}`
	h := startFilter(t, cfg)
	if r := h.get("/x", other.Sign(testjwt.Claims("https://whoever", "a", h.clock.now), nil)); r.status() != 200 {
		t.Fatalf("any issuer: %d", r.status())
	} else if v, _ := r.upstreamHeader("x-iss"); v != "https://whoever" {
		t.Errorf("x-iss = %q", v)
	}
	if r := h.get("/x", h.token(rsKey(), "a")); r.status() != 200 {
		t.Fatalf("exact issuer: %d", r.status())
	}
	noIss := rsKey().Sign(map[string]any{"sub": "a", "exp": h.clock.now.Add(time.Hour).Unix()}, nil)
	if r := h.get("/x", noIss); r.status() != 401 {
		t.Fatalf("a token without iss signed by the exact provider's key: %d, want 401", r.status())
	}
}

func TestDenialLogLines(t *testing.T) {
	h := startFilter(t, localConfig("", `"rules":[
	  {"match":{"prefix":"/claims"},"requires":{"claims":[{"path":"realm_access.roles","values":["admin"]}]}},
	  {"match":{"prefix":"/scopes"},"requires":{"scopes":["a","b"]}}]`))
	cases := []struct {
		name, path, token string
		status            int
		challenge         string
		log               string
	}{
		{"a missing token", "/scopes", "", 401, "Bearer", "denied 401 GET /scopes: no token in the request"},
		{"an expired token", "/scopes", rsKey().Sign(withTimes(testIssuer, h.clock.now, -3*time.Hour, -2*time.Hour), nil), 401,
			`Bearer error="invalid_token", error_description="`, `: invalid token: `},
		{"an empty access_token parameter", "/scopes?access_token=", "", 401, `Bearer error="invalid_token"`, "denied 401 GET /scopes: invalid token"},
		{"missing scopes on a valid token", "/scopes", h.token(rsKey(), "carol", "b"), 403,
			`Bearer error="insufficient_scope", scope="a b"`,
			`denied 403 GET /scopes: required scopes were not found [a] sub="carol" iss="` + testIssuer + `"`},
		{"an unmet claim", "/claims", h.token(rsKey(), "dave"), 403,
			`Bearer error="insufficient_scope"`,
			`denied 403 GET /claims: required claim was not satisfied [realm_access.roles] sub="dave"`},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is logged with its reason", func(t *testing.T) {
			before := len(h.host.GetInfoLogs())
			r := h.get(tc.path, tc.token)
			if r.status() != tc.status || !strings.HasPrefix(r.header("www-authenticate"), tc.challenge) {
				t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
			}
			logs := h.host.GetInfoLogs()[before:]
			if len(logs) != 1 || !strings.Contains(logs[0], tc.log) {
				t.Fatalf("info logs %q, want one line containing %q", logs, tc.log)
			}
		})
	}
}
