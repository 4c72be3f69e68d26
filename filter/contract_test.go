package filter

// A black-box checklist of the DESIGN §3/§4 contract: every default of the
// "Defaults and edge cases" table, every row of the §4 answer table with its
// exact header values, the log wording and the metric names, each checked
// through the proxy-wasm emulator the way a client and an upstream see it.
// Every rejection sits next to its valid twin.

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// contractRules is the DESIGN §3 rule catalogue plus an allow_missing route.
const contractRules = `"rules":[
  {"match":{"prefix":"/oidc"},"requires":{"provider":"idp","scopes":["kong_api_access"]}},
  {"match":{"prefix":"/health","methods":["GET"]},"requires":{"allow":true}},
  {"match":{"path":"/admin"},"requires":{"any":[{"scopes":["admin"]},{"claims":[{"path":"realm_access.roles","values":["admin"]}]}]}},
  {"match":{"prefix":"/open"},"requires":{"allow_missing":true}},
  {"match":{"prefix":"/two"},"requires":{"scopes":["a","b"]}}
]`

// claimsAt is a typical payload at the harness time with extra members; a
// nil value removes a member (e.g. "exp": nil).
func claimsAt(h *coreHarness, extra map[string]any) map[string]any {
	c := testjwt.Claims(testIssuer, "alice", h.clock.now)
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// with runs f in a subtest on a filter configured with cfg: the emulator is
// process-global, so each configuration lives in its own subtest.
func with(t *testing.T, name, cfg string, f func(t *testing.T, h *coreHarness)) {
	t.Helper()
	t.Run(name, func(t *testing.T) { f(t, startFilter(t, cfg)) })
}

// configureStatus reports what on_configure answered for cfg, and the error log.
func configureStatus(t *testing.T, cfg string) (status types.OnPluginStartStatus, errors string) {
	t.Helper()
	t.Run("configure", func(t *testing.T) {
		h, st := startFilterStatus(t, cfg)
		status, errors = st, strings.Join(h.host.GetErrorLogs(), "\n")
	})
	return status, errors
}

// wantStatus fails the test unless r has the status (200 means continued).
func wantStatus(t *testing.T, r *response, status int) {
	t.Helper()
	if r.status() != status {
		t.Fatalf("status %d, want %d (www-authenticate %q)", r.status(), status, r.header("www-authenticate"))
	}
	if status == 200 && r.action != types.ActionContinue {
		t.Fatalf("action %v, want Continue", r.action)
	}
}

func TestContractAnswerTable(t *testing.T) {
	for _, realm := range []string{"", "api"} {
		top := contractRules
		prefix := "Bearer"
		if realm != "" {
			top += `,"realm":"` + realm + `"`
			prefix = `Bearer realm="` + realm + `"`
		}
		withParams := func(params string) string {
			if realm == "" {
				return "Bearer " + params
			}
			return prefix + ", " + params
		}
		with(t, "realm="+realm, localConfig("", top), func(t *testing.T, h *coreHarness) {
			good := h.token(rsKey(), "alice", "kong_api_access")
			lacking := h.token(rsKey(), "bob", "other")
			expired := rsKey().Sign(claimsAt(h, map[string]any{"scope": "kong_api_access", "exp": h.clock.now.Add(-61 * time.Second).Unix()}), nil)
			cases := []struct {
				name     string
				r        func() *response
				status   int
				www      string
				errCode  string
				describe bool // the body has a non-empty error_description
			}{
				{"a valid token with the scope passes", func() *response { return h.get("/oidc/x", good) }, 200, "", "", false},
				{"no token is 401 with a bare challenge", func() *response { return h.get("/oidc/x", "") }, 401, prefix, "unauthorized", true},
				{"a token in a header and a parameter is 400", func() *response {
					return h.do("GET", "/oidc/x?access_token="+good, [2]string{"authorization", "Bearer " + good})
				}, 400, withParams(`error="invalid_request"`), "invalid_request", true},
				{"two authorization headers are 400", func() *response {
					return h.do("GET", "/oidc/x", [2]string{"authorization", "Bearer " + good}, [2]string{"authorization", "Bearer " + good})
				}, 400, withParams(`error="invalid_request"`), "invalid_request", true},
				{"an expired token is 401 invalid_token with a description", func() *response { return h.get("/oidc/x", expired) }, 401,
					withParams(`error="invalid_token", error_description="token expired"`), "invalid_token", true},
				{"a valid token lacking the scope is 403 naming the scope", func() *response { return h.get("/oidc/x", lacking) }, 403,
					withParams(`error="insufficient_scope", scope="kong_api_access"`), "insufficient_scope", true},
				{"a token lacking both of two scopes is 403 naming both", func() *response { return h.get("/two", lacking) }, 403,
					withParams(`error="insufficient_scope", scope="a b"`), "insufficient_scope", true},
			}
			for _, tc := range cases {
				name := tc.name
				if realm != "" {
					name += " (with a realm)"
				}
				t.Run(name, func(t *testing.T) {
					r := tc.r()
					wantStatus(t, r, tc.status)
					if tc.status == 200 {
						return
					}
					if got := r.header("www-authenticate"); got != tc.www {
						t.Errorf("www-authenticate = %q, want %q", got, tc.www)
					}
					if r.action != types.ActionPause {
						t.Errorf("action %v, want Pause", r.action)
					}
					if ct := r.header("content-type"); ct != "application/json" {
						t.Errorf("content-type = %q", ct)
					}
					b := r.body(t)
					if b["error"] != tc.errCode || (b["error_description"] != "") != tc.describe || len(b) != 2 {
						t.Errorf("body = %v, want error %q and a description", b, tc.errCode)
					}
					if strings.Contains(string(r.local.Data), good) || strings.Contains(r.header("www-authenticate"), "eyJ") {
						t.Error("the answer echoes the token")
					}
				})
			}
		})
	}
}

func TestContractUnavailableKeysAre503WithoutChallenge(t *testing.T) {
	t.Run("a failed first fetch answers 503", func(t *testing.T) {
		k := startKeys(t, remoteConfig(""))
		id, _ := k.startRequest("/x", k.tok(rsKey()))
		k.failCall(k.fetchNow())
		k.requireOutcome(id, "answered 503")
		r := k.result(id, types.ActionPause)
		if r.header("www-authenticate") != "" {
			t.Errorf("503 carries www-authenticate %q", r.header("www-authenticate"))
		}
		if b := r.body(t); b["error"] == "" || b["error_description"] == "" {
			t.Errorf("body = %v", b)
		}
		if k.counter("scopegate.denied.unavailable") != 1 || k.counter("scopegate.jwks.fetch_failed") != 1 {
			t.Errorf("unavailable %d fetch_failed %d", k.counter("scopegate.denied.unavailable"), k.counter("scopegate.jwks.fetch_failed"))
		}
	})

	t.Run("and its valid twin: keys that arrive let the request through", func(t *testing.T) {
		k := startKeys(t, remoteConfig(""))
		id, _ := k.startRequest("/x", k.tok(rsKey()))
		k.answer(k.fetchNow(), "200", testjwt.JWKS(rsKey()))
		k.requireOutcome(id, "continued")
		if k.counter("scopegate.jwks.fetch_ok") != 1 || k.counter("scopegate.allowed") != 1 {
			t.Errorf("fetch_ok %d allowed %d", k.counter("scopegate.jwks.fetch_ok"), k.counter("scopegate.allowed"))
		}
	})
}

func TestContractDiscoveryIssuerMismatchIs503AndLogsBothValues(t *testing.T) {
	for _, docIssuer := range []string{otherIssuer, testIssuer} {
		t.Run("document issuer "+docIssuer, func(t *testing.T) {
			k := startKeys(t, discoveryConfig(testIssuer, ""))
			id, _ := k.startRequest("/x", k.tok(rsKey()))
			k.answer(k.fetchNow(), "200", discoveryDoc(docIssuer, jwksURI))
			if docIssuer == testIssuer {
				k.answer(k.one(k.newCallouts()), "200", testjwt.JWKS(rsKey()))
				k.requireOutcome(id, "continued")
				return
			}
			k.requireOutcome(id, "answered 503")
			logs := k.logsAt("error")
			if !strings.Contains(logs, otherIssuer) || !strings.Contains(logs, testIssuer) {
				t.Errorf("error log %q does not name both issuers", logs)
			}
		})
	}
}

func TestContractLogLinesAndMetrics(t *testing.T) {
	h := startFilter(t, localConfig("", contractRules))
	good := h.token(rsKey(), "alice", "kong_api_access")
	lacking := h.token(rsKey(), "bob", "read")

	wantStatus(t, h.get("/oidc/x", lacking), 403)
	logs := h.infoLogs()
	for _, want := range []string{"required scopes were not found [kong_api_access]", `sub="bob"`, `iss="` + testIssuer + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("info log %q lacks %q", logs, want)
		}
	}
	wantStatus(t, h.get("/two", lacking), 403)
	if !strings.Contains(h.infoLogs(), "required scopes were not found [a b]") {
		t.Errorf("info log %q lacks the two missing scopes", h.infoLogs())
	}
	wantStatus(t, h.get("/oidc/x", ""), 401)
	wantStatus(t, h.get("/oidc/x", good[:len(good)-3]+"AAA"), 401)
	wantStatus(t, h.do("GET", "/oidc/x?access_token="+good, [2]string{"authorization", "Bearer " + good}), 400)
	wantStatus(t, h.get("/oidc/x", good), 200)
	wantStatus(t, h.get("/oidc/x", good), 200)
	wantStatus(t, h.get("/health", ""), 200)

	all := strings.Join(append(append(h.host.GetInfoLogs(), h.host.GetWarnLogs()...), h.host.GetErrorLogs()...), "\n")
	if strings.Contains(all, good) || strings.Contains(all, lacking) || strings.Contains(all, good[:len(good)-3]) {
		t.Error("a log line holds a token")
	}
	want := map[string]uint64{
		"scopegate.allowed":            3,
		"scopegate.denied.missing":     1,
		"scopegate.denied.invalid":     2, // the bad signature and the 400
		"scopegate.denied.scope":       2,
		"scopegate.denied.unavailable": 0,
		"scopegate.jwks.fetch_ok":      0,
		"scopegate.jwks.fetch_failed":  0,
		"scopegate.cache.hit":          2, // the under-scoped and the good token, each seen again
		"scopegate.cache.miss":         3, // their first sight and the bad signature
	}
	for name, n := range want {
		if got := h.counter(name); got != n {
			t.Errorf("%s = %d, want %d", name, got, n)
		}
	}
}

// The "Defaults and edge cases" table, row by row, through requests.
func TestContractDefaults(t *testing.T) {
	for _, extra := range []string{"", `"audiences":[]`} {
		with(t, "audiences "+extra+" do not check aud", localConfig(extra, ""), func(t *testing.T, h *coreHarness) {
			wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"aud": "anything"}), nil)), 200)
			wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, nil), nil)), 200)
		})
	}
	with(t, "audiences match exactly, without URL normalisation", localConfig(`"audiences":["https://api.example.com"]`, ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"aud": "https://api.example.com"}), nil)), 200)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"aud": []string{"x", "https://api.example.com"}}), nil)), 200)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"aud": "https://api.example.com/"}), nil)), 401)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"aud": "HTTPS://api.example.com"}), nil)), 401)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, nil), nil)), 401)
	})
	t.Run("an empty audience entry is a config error naming it", func(t *testing.T) {
		if status, logs := configureStatus(t, localConfig(`"audiences":["api",""]`, "")); status != types.OnPluginStartStatusFailed || !strings.Contains(logs, "providers[0].audiences[1]") {
			t.Fatalf("status %v, logs %v", status, logs)
		}
	})

	with(t, "from_headers: authorization with Bearer, name and scheme case-insensitive, one or more spaces", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		tok := h.token(rsKey(), "alice")
		for _, v := range []string{"Bearer " + tok, "bearer " + tok, "BEARER   " + tok, "Bearer\t" + tok} {
			wantStatus(t, h.do("GET", "/x", [2]string{"Authorization", v}), 200)
			wantStatus(t, h.do("GET", "/x", [2]string{"authorization", v}), 200)
		}
		for _, v := range []string{"Basic " + tok, "Bearer" + tok, tok} {
			r := h.do("GET", "/x", [2]string{"authorization", v})
			wantStatus(t, r, 401)
			if r.header("www-authenticate") != "Bearer" {
				t.Errorf("%.10q...: www-authenticate %q, want a missing-token challenge", v, r.header("www-authenticate"))
			}
		}
	})
	with(t, "from_headers: a custom header replaces the default", localConfig(`"from_headers":[{"name":"X-Api-Token","value_prefix":""}]`, ""), func(t *testing.T, h *coreHarness) {
		tok := h.token(rsKey(), "alice")
		r := h.do("GET", "/x", [2]string{"x-api-token", tok})
		wantStatus(t, r, 200)
		if _, ok := r.upstreamHeader("x-api-token"); ok {
			t.Error("the token header reached the upstream")
		}
		wantStatus(t, h.get("/x", tok), 401)
	})
	with(t, "from_params: access_token by default, removed from the upstream path", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		tok := h.token(rsKey(), "alice")
		r := h.do("GET", "/x?a=1&access_token="+tok+"&b=2")
		wantStatus(t, r, 200)
		if p, _ := r.upstreamHeader(":path"); p != "/x?a=1&b=2" {
			t.Errorf(":path upstream = %q", p)
		}
	})
	with(t, "from_params: [] turns parameters off", localConfig(`"from_params":[]`, ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.do("GET", "/x?access_token="+h.token(rsKey(), "alice")), 401)
	})
	with(t, "from_cookies: none by default", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.do("GET", "/x", [2]string{"cookie", "session=" + h.token(rsKey(), "alice")}), 401)
	})
	with(t, "from_cookies: a listed cookie carries the token and is removed", localConfig(`"from_cookies":["session"]`, ""), func(t *testing.T, h *coreHarness) {
		r := h.do("GET", "/x", [2]string{"cookie", "theme=dark; session=" + h.token(rsKey(), "alice")})
		wantStatus(t, r, 200)
		if c, _ := r.upstreamHeader("cookie"); c != "theme=dark" {
			t.Errorf("cookie upstream = %q", c)
		}
	})
	with(t, "max_token_bytes bounds the token", localConfig("", `"max_token_bytes":2048`), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, nil), nil)), 200)
		r := h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"pad": strings.Repeat("x", 2048)}), nil))
		wantStatus(t, r, 401)
		if !strings.HasPrefix(r.header("www-authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("www-authenticate %q", r.header("www-authenticate"))
		}
	})
	with(t, "max_token_bytes is 16384 by default", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"pad": strings.Repeat("x", 2048)}), nil)), 200)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"pad": strings.Repeat("x", 16384)}), nil)), 401)
	})
	hs := testjwt.CachedKey("HS256", "hs-1")
	with(t, "algorithms: asymmetric by default", localConfig("", "", rsKey(), esKey(), hs), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", esKey().Sign(claimsAt(h, nil), nil)), 200)
		wantStatus(t, h.get("/x", hs.Sign(claimsAt(h, nil), nil)), 401)
	})
	with(t, "algorithms: HS256 when listed with a local oct key", localConfig(`"algorithms":["HS256"]`, "", hs), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", hs.Sign(claimsAt(h, nil), nil)), 200)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, nil), nil)), 401)
	})
	t.Run("algorithms: an oct-only key set without HS listed has no usable key", func(t *testing.T) {
		if status, _ := configureStatus(t, localConfig("", "", hs)); status != types.OnPluginStartStatusFailed {
			t.Error("accepted")
		}
	})
	at := func(h *coreHarness, k string, d time.Duration) string {
		return rsKey().Sign(claimsAt(h, map[string]any{k: h.clock.now.Add(d).Unix()}), nil)
	}
	with(t, "clock_skew_s is 60 by default, both ways", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", at(h, "exp", -60*time.Second)), 200)
		wantStatus(t, h.get("/x", at(h, "exp", -61*time.Second)), 401)
		wantStatus(t, h.get("/x", at(h, "nbf", 60*time.Second)), 200)
		wantStatus(t, h.get("/x", at(h, "nbf", 61*time.Second)), 401)
		wantStatus(t, h.get("/x", at(h, "iat", 60*time.Second)), 200)
		wantStatus(t, h.get("/x", at(h, "iat", 61*time.Second)), 401)
	})
	with(t, "clock_skew_s 0 is exact", localConfig(`"clock_skew_s":0`, ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", at(h, "exp", -time.Second)), 401)
		wantStatus(t, h.get("/x", at(h, "exp", 0)), 200)
	})
	life := func(h *coreHarness, iat, exp any) string {
		return rsKey().Sign(claimsAt(h, map[string]any{"iat": iat, "exp": exp}), nil)
	}
	with(t, "max_lifetime_s is off by default", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		now := h.clock.now.Unix()
		wantStatus(t, h.get("/x", life(h, now-100000, now+100000)), 200)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"iat": nil}), nil)), 200)
	})
	with(t, "max_lifetime_s needs iat and exp with exp - iat within it", localConfig(`"max_lifetime_s":3600`, ""), func(t *testing.T, h *coreHarness) {
		now := h.clock.now.Unix()
		wantStatus(t, h.get("/x", life(h, now, now+3600)), 200)
		wantStatus(t, h.get("/x", life(h, now, now+3601)), 401)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"iat": nil}), nil)), 401)
	})
	with(t, "max_lifetime_s needs exp even when require_exp is false", localConfig(`"max_lifetime_s":3600,"require_exp":false`, ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"exp": nil}), nil)), 401)
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, nil), nil)), 200)
	})
	with(t, "require_exp is true by default", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"exp": nil}), nil)), 401)
	})
	with(t, "require_exp false accepts a token without exp", localConfig(`"require_exp":false`, ""), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/x", rsKey().Sign(claimsAt(h, map[string]any{"exp": nil}), nil)), 200)
	})
	sign := func(h *coreHarness, m map[string]any) string { return rsKey().Sign(claimsAt(h, m), nil) }
	with(t, "scope_claims are scope then scp; a wrongly typed claim counts as no scopes", localConfig("", contractRules), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/two", sign(h, map[string]any{"scope": "a b"})), 200)
		wantStatus(t, h.get("/two", sign(h, map[string]any{"scope": "a  b "})), 200)
		wantStatus(t, h.get("/two", sign(h, map[string]any{"scp": []string{"a", "b"}})), 200)
		wantStatus(t, h.get("/two", sign(h, map[string]any{"scope": 7})), 403)
		wantStatus(t, h.get("/two", sign(h, map[string]any{"scope": []string{"a", "b"}})), 200)
		wantStatus(t, h.get("/two", sign(h, map[string]any{"permissions": "a b"})), 403)
	})
	with(t, "scope_claims can name another claim", localConfig(`"scope_claims":["permissions"]`, contractRules), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/two", sign(h, map[string]any{"permissions": "a b"})), 200)
		wantStatus(t, h.get("/two", sign(h, map[string]any{"scope": "a b"})), 403)
	})
	with(t, "forward is false by default: the token does not reach the upstream", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		if v, ok := h.get("/x", h.token(rsKey(), "alice")).upstreamHeader("authorization"); ok {
			t.Errorf("token forwarded: %.20q", v)
		}
	})
	with(t, "forward true keeps the token", localConfig(`"forward":true`, ""), func(t *testing.T, h *coreHarness) {
		tok := h.token(rsKey(), "alice")
		if v, _ := h.get("/x", tok).upstreamHeader("authorization"); v != "Bearer "+tok {
			t.Errorf("forwarded authorization = %q", v)
		}
	})
	with(t, "forward_payload_header is off by default", localConfig("", ""), func(t *testing.T, h *coreHarness) {
		if _, ok := h.get("/x", h.token(rsKey(), "alice")).upstreamHeader("x-jwt-payload"); ok {
			t.Error("payload header set by default")
		}
	})
	with(t, "forward_payload_header carries the base64url payload and cannot be spoofed", localConfig(`"forward_payload_header":"x-jwt-payload"`, contractRules), func(t *testing.T, h *coreHarness) {
		tok := h.token(rsKey(), "alice")
		v, _ := h.do("GET", "/x", [2]string{"authorization", "Bearer " + tok}, [2]string{"x-jwt-payload", "spoofed"}).upstreamHeader("x-jwt-payload")
		if v != strings.Split(tok, ".")[1] {
			t.Errorf("payload header = %q", v)
		}
		if _, err := base64.RawURLEncoding.DecodeString(v); err != nil {
			t.Errorf("payload header is not base64url: %v", err)
		}
		for _, path := range []string{"/health", "/open"} {
			r := h.do("GET", path, [2]string{"x-jwt-payload", "spoofed"})
			wantStatus(t, r, 200)
			if v, ok := r.upstreamHeader("x-jwt-payload"); ok {
				t.Errorf("%s: a spoofed payload header reached the upstream without a token: %q", path, v)
			}
		}
	})
	with(t, "claim_to_headers: strings as is, arrays joined with commas, objects as compact JSON", localConfig(`"claim_to_headers":[
			{"claim":"sub","header":"x-jwt-sub"},
			{"claim":"groups","header":"x-jwt-groups"},
			{"claim":"realm_access","header":"x-jwt-realm"},
			{"claim":"realm_access.roles","header":"x-jwt-roles"},
			{"claim":"level","header":"x-jwt-level"},
			{"claim":"admin","header":"x-jwt-admin"},
			{"claim":"absent","header":"x-jwt-absent"}]`, contractRules), func(t *testing.T, h *coreHarness) {
		payload := `{"iss":"` + testIssuer + `","sub":"alice","exp":` + itoa(h.clock.now.Unix()+600) +
			`,"groups":["dev", "ops"],"realm_access": {"roles": ["admin", "user"]},"level":3,"admin":true}`
		tok := rsKey().SignRaw([]byte(`{"alg":"RS256","kid":"rs-1"}`), []byte(payload))
		r := h.do("GET", "/x", [2]string{"authorization", "Bearer " + tok}, [2]string{"x-jwt-absent", "spoofed"}, [2]string{"x-jwt-sub", "mallory"})
		wantStatus(t, r, 200)
		want := map[string]string{
			"x-jwt-sub":    "alice",
			"x-jwt-groups": "dev,ops",
			"x-jwt-realm":  `{"roles":["admin","user"]}`,
			"x-jwt-roles":  "admin,user",
			"x-jwt-level":  "3",
			"x-jwt-admin":  "true",
		}
		for name, v := range want {
			if got, _ := r.upstreamHeader(name); got != v {
				t.Errorf("%s = %q, want %q", name, got, v)
			}
		}
		if v, ok := r.upstreamHeader("x-jwt-absent"); ok {
			t.Errorf("x-jwt-absent = %q: a spoofed header survived", v)
		}
		for _, path := range []string{"/health", "/open", "/oidc/x"} {
			r := h.do("GET", path, [2]string{"x-jwt-sub", "mallory"}, [2]string{"x-jwt-roles", "admin"})
			if v, ok := r.upstreamHeader("x-jwt-sub"); ok {
				t.Errorf("%s without a token: spoofed x-jwt-sub %q reached the upstream", path, v)
			}
			if v, ok := r.upstreamHeader("x-jwt-roles"); ok {
				t.Errorf("%s without a token: spoofed x-jwt-roles %q reached the upstream", path, v)
			}
		}
	})
	origin := [2]string{"origin", "https://app.example.com"}
	acrm := [2]string{"access-control-request-method", "GET"}
	with(t, "bypass_cors_preflight is true by default and needs Origin and Access-Control-Request-Method", localConfig("", contractRules), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.do("OPTIONS", "/oidc/x", origin, acrm), 200)
		wantStatus(t, h.do("OPTIONS", "/oidc/x", origin), 401)
		wantStatus(t, h.do("OPTIONS", "/oidc/x", acrm), 401)
		wantStatus(t, h.do("GET", "/oidc/x", origin, acrm), 401)
	})
	with(t, "bypass_cors_preflight lets only a preflight without a body through", localConfig("", contractRules), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.doBody("OPTIONS", "/oidc/x", false, origin, acrm), 401)
		wantStatus(t, h.do("OPTIONS", "/oidc/x", origin, acrm, [2]string{"content-length", "12"}), 401)
		wantStatus(t, h.do("OPTIONS", "/oidc/x", origin, acrm, [2]string{"transfer-encoding", "chunked"}), 401)
		wantStatus(t, h.do("OPTIONS", "/oidc/x", origin, acrm, [2]string{"content-length", "0"}), 200)
		wantStatus(t, h.doBody("OPTIONS", "/oidc/x", true, origin, acrm), 200)
	})
	with(t, "claim headers are stripped in every spelling a server folds into the same name", localConfig(`"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}],"forward_payload_header":"x-jwt-payload"`, contractRules), func(t *testing.T, h *coreHarness) {
		spoofs := [][2]string{{"x_jwt_sub", "mallory"}, {"X_JWT_SUB", "mallory"}, {"x-jwt_sub", "mallory"}, {"X-Jwt-Sub", "mallory"}, {"x_jwt_payload", "spoofed"}}
		folded := func(r *response) []string {
			var out []string
			for _, hd := range r.upstream {
				if n := strings.ReplaceAll(strings.ToLower(hd[0]), "_", "-"); n == "x-jwt-sub" || n == "x-jwt-payload" {
					out = append(out, hd[0]+": "+hd[1])
				}
			}
			return out
		}
		for _, path := range []string{"/health", "/open"} {
			r := h.do("GET", path, spoofs...)
			wantStatus(t, r, 200)
			if got := folded(r); len(got) != 0 {
				t.Errorf("%s without a token: %q reached the upstream", path, got)
			}
		}
		tok := h.token(rsKey(), "alice")
		r := h.do("GET", "/x", append([][2]string{{"authorization", "Bearer " + tok}}, spoofs...)...)
		wantStatus(t, r, 200)
		want := []string{"x-jwt-payload: " + strings.Split(tok, ".")[1], "x-jwt-sub: alice"}
		if got := folded(r); strings.Join(got, "|") != strings.Join(want, "|") && strings.Join(got, "|") != strings.Join([]string{want[1], want[0]}, "|") {
			t.Errorf("with a token the upstream saw %q, want only %q", got, want)
		}
		if v, _ := h.do("GET", "/health", [2]string{"x-jwt-subx", "kept"}).upstreamHeader("x-jwt-subx"); v != "kept" {
			t.Errorf("an unrelated header x-jwt-subx = %q, want it kept", v)
		}
	})
	with(t, "a token header spelled with underscores is stripped, the real one is read", localConfig(`"from_headers":[{"name":"x-api-token"}]`, contractRules), func(t *testing.T, h *coreHarness) {
		tok := h.token(rsKey(), "alice")
		r := h.do("GET", "/health", [2]string{"x_api_token", "forged"})
		wantStatus(t, r, 200)
		if v, ok := r.upstreamHeader("x_api_token"); ok {
			t.Errorf("x_api_token %q reached the upstream", v)
		}
		wantStatus(t, h.do("GET", "/x", [2]string{"x_api_token", tok}), 401)
		wantStatus(t, h.do("GET", "/x", [2]string{"x-api-token", tok}), 200)
	})
	with(t, "bypass_cors_preflight false authorizes preflights", localConfig("", contractRules+`,"bypass_cors_preflight":false`), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.do("OPTIONS", "/oidc/x", origin, acrm), 401)
	})
	with(t, "default is {}: unmatched requests need a valid token from any provider", localConfig("", contractRules), func(t *testing.T, h *coreHarness) {
		wantStatus(t, h.get("/unmatched", ""), 401)
		wantStatus(t, h.get("/unmatched", h.token(rsKey(), "alice")), 200)
		wantStatus(t, h.get("/unmatched?x=/health", ""), 401)
	})
	with(t, "rules: first match wins, query excluded, methods filter, allow_missing", localConfig("", contractRules), func(t *testing.T, h *coreHarness) {
		admin := rsKey().Sign(claimsAt(h, map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}}), nil)
		wantStatus(t, h.get("/health?x=1", ""), 200)
		wantStatus(t, h.do("POST", "/health"), 401)
		wantStatus(t, h.get("/admin", admin), 200)
		wantStatus(t, h.get("/admin", h.token(rsKey(), "a", "admin")), 200)
		wantStatus(t, h.get("/admin", h.token(rsKey(), "a", "user")), 403)
		wantStatus(t, h.get("/admin/sub", h.token(rsKey(), "a", "user")), 200) // exact path only; the default applies
		wantStatus(t, h.get("/open", ""), 200)
		wantStatus(t, h.get("/open", "garbage"), 401)
	})
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

// Configuration errors: on_configure returns false and the error log names
// the field path; every object rejects unknown fields; wrong types are named.
func TestContractConfigErrors(t *testing.T) {
	jwks := string(testjwt.JWKS(rsKey()))
	prov := func(extra string) string {
		s := `{"name":"idp","local_jwks":` + jwks
		if extra != "" {
			s += "," + extra
		}
		return s + "}"
	}
	cfg := func(provExtra, top string) string {
		s := `{"providers":[` + prov(provExtra) + `]`
		if top != "" {
			s += "," + top
		}
		return s + "}"
	}
	remote := func(fetch string) string {
		return `{"providers":[{"name":"idp","remote_jwks":{"cluster":"idp","uri":"https://idp/certs"` + fetch + `}}]}`
	}
	disc := func(fetch string) string {
		return `{"providers":[{"name":"idp","issuer":"x","discovery":{"cluster":"idp","uri":"https://idp/.well-known/openid-configuration"` + fetch + `}}]}`
	}
	cases := []struct{ name, cfg, path string }{
		{"an unknown top-level field", cfg("", `"extra":1`), "extra"},
		{"an unknown provider field", cfg(`"extra":1`, ""), "providers[0].extra"},
		{"an unknown remote_jwks field", remote(`,"extra":1`), "providers[0].remote_jwks.extra"},
		{"an unknown discovery field", disc(`,"extra":1`), "providers[0].discovery.extra"},
		{"an unknown from_headers field", cfg(`"from_headers":[{"name":"a","extra":1}]`, ""), "providers[0].from_headers[0].extra"},
		{"an unknown claim_to_headers field", cfg(`"claim_to_headers":[{"claim":"sub","header":"x","extra":1}]`, ""), "providers[0].claim_to_headers[0].extra"},
		{"an unknown rule field", cfg("", `"rules":[{"match":{"prefix":"/"},"requires":{},"extra":1}]`), "rules[0].extra"},
		{"an unknown match field", cfg("", `"rules":[{"match":{"prefix":"/","extra":1},"requires":{}}]`), "rules[0].match.extra"},
		{"an unknown requirement field", cfg("", `"rules":[{"match":{"prefix":"/"},"requires":{"extra":1}}]`), "rules[0].requires.extra"},
		{"an unknown nested requirement field", cfg("", `"rules":[{"match":{"prefix":"/"},"requires":{"any":[{"scopes":["a"]},{"extra":1}]}}]`), "rules[0].requires.any[1].extra"},
		{"an unknown claim requirement field", cfg("", `"rules":[{"match":{"prefix":"/"},"requires":{"claims":[{"path":"a","values":["b"],"extra":1}]}}]`), "rules[0].requires.claims[0].extra"},
		{"an unknown default field", cfg("", `"default":{"extra":1}`), "default.extra"},
		{"a wrongly typed realm", cfg("", `"realm":1`), "realm"},
		{"a wrongly typed bypass_cors_preflight", cfg("", `"bypass_cors_preflight":"yes"`), "bypass_cors_preflight"},
		{"a wrongly typed max_token_bytes", cfg("", `"max_token_bytes":"16384"`), "max_token_bytes"},
		{"a wrongly typed rules", cfg("", `"rules":{}`), "rules"},
		{"a wrongly typed default", cfg("", `"default":[]`), "default"},
		{"a wrongly typed issuer", cfg(`"issuer":1`, ""), "providers[0].issuer"},
		{"a wrongly typed audiences", cfg(`"audiences":"api"`, ""), "providers[0].audiences"},
		{"a wrongly typed from_headers", cfg(`"from_headers":{"name":"a"}`, ""), "providers[0].from_headers"},
		{"a wrongly typed from_params entry", cfg(`"from_params":[1]`, ""), "providers[0].from_params[0]"},
		{"a wrongly typed from_cookies", cfg(`"from_cookies":"session"`, ""), "providers[0].from_cookies"},
		{"a wrongly typed algorithms", cfg(`"algorithms":"RS256"`, ""), "providers[0].algorithms"},
		{"a negative clock_skew_s", cfg(`"clock_skew_s":-1`, ""), "providers[0].clock_skew_s"},
		{"a fractional max_lifetime_s", cfg(`"max_lifetime_s":1.5`, ""), "providers[0].max_lifetime_s"},
		{"a wrongly typed require_exp", cfg(`"require_exp":"true"`, ""), "providers[0].require_exp"},
		{"a wrongly typed scope_claims", cfg(`"scope_claims":"scope"`, ""), "providers[0].scope_claims"},
		{"a wrongly typed forward", cfg(`"forward":1`, ""), "providers[0].forward"},
		{"a wrongly typed forward_payload_header", cfg(`"forward_payload_header":true`, ""), "providers[0].forward_payload_header"},
		{"a wrongly typed claim_to_headers", cfg(`"claim_to_headers":{}`, ""), "providers[0].claim_to_headers"},
		{"a wrongly typed timeout_ms", remote(`,"timeout_ms":"3000"`), "providers[0].remote_jwks.timeout_ms"},
		{"a wrongly typed cache_duration_s", disc(`,"cache_duration_s":true`), "providers[0].discovery.cache_duration_s"},
		{"a wrongly typed requirement scopes", cfg("", `"default":{"scopes":"a"}`), "default.scopes"},
		{"a wrongly typed allow", cfg("", `"default":{"allow":"yes"}`), "default.allow"},
		{"a wrongly typed allow_missing", cfg("", `"default":{"allow_missing":1}`), "default.allow_missing"},
		{"a wrongly typed methods", cfg("", `"rules":[{"match":{"prefix":"/","methods":"GET"},"requires":{}}]`), "rules[0].match.methods"},
		{"an unknown requirement provider", cfg("", `"default":{"provider":"nobody"}`), "default.provider"},
		{"an empty audience", cfg(`"audiences":[""]`, ""), "providers[0].audiences[0]"},
		{"a claim header that is the token header", cfg(`"claim_to_headers":[{"claim":"sub","header":"Authorization"}]`, ""), "providers[0].claim_to_headers[0].header"},
		{"a payload header that is the token header", cfg(`"forward_payload_header":"authorization"`, ""), "providers[0].forward_payload_header"},
		{"a claim header that is the cookie carrying tokens", cfg(`"from_cookies":["s"],"claim_to_headers":[{"claim":"sub","header":"cookie"}]`, ""), "providers[0].claim_to_headers[0].header"},
		{"HS256 with remote keys", `{"providers":[{"name":"idp","algorithms":["HS256"],"remote_jwks":{"cluster":"idp","uri":"https://idp/certs"}}]}`, "providers[0].algorithms"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" fails on_configure naming "+tc.path, func(t *testing.T) {
			h, status := startFilterStatus(t, tc.cfg)
			if status != types.OnPluginStartStatusFailed {
				t.Fatal("on_configure accepted the configuration")
			}
			logs := strings.Join(h.host.GetErrorLogs(), "\n")
			if !strings.Contains(logs, "invalid configuration: "+tc.path+": ") {
				t.Errorf("error log %q does not begin the error with %q", logs, tc.path)
			}
			// Requests to a filter whose configuration was rejected fail closed.
			if r := h.get("/x", ""); r.status() == 200 {
				t.Error("a request passed a rejected configuration")
			}
		})
	}
	twins := []string{
		cfg("", ""),
		cfg(`"audiences":["api"],"from_headers":[{"name":"a"}],"from_params":["t"],"from_cookies":["s"],"clock_skew_s":0,"max_lifetime_s":60,"require_exp":false,"scope_claims":["scp"],"forward":true,"forward_payload_header":"x-p","claim_to_headers":[{"claim":"sub","header":"x"}]`,
			`"realm":"r","bypass_cors_preflight":false,"max_token_bytes":100,"default":{"any":[{"scopes":["a"]},{"allow_missing":true}]},"rules":[{"match":{"prefix":"/","methods":["GET"]},"requires":{"claims":[{"path":"a","values":["b"]}]}}]`),
		cfg(`"from_headers":[{"name":"x-token"}],"claim_to_headers":[{"claim":"sub","header":"authorization"}]`, ""),
		cfg(`"claim_to_headers":[{"claim":"sub","header":"cookie"}]`, ""),
		remote(`,"timeout_ms":1,"cache_duration_s":1,"refetch_min_interval_s":0`),
		disc(`,"jwks_cluster":"other","timeout_ms":10,"cache_duration_s":60`),
	}
	for i, c := range twins {
		if status, logs := configureStatus(t, c); status != types.OnPluginStartStatusOK {
			t.Errorf("valid twin %d rejected: %s", i, logs)
		}
	}
}

// The requirement tree of DESIGN §3: provider restriction, scopes (all
// required), claims of every JSON type, any/all, allow_missing.
func TestContractRequirementTree(t *testing.T) {
	other := testjwt.CachedKey("RS256", "other-1")
	otherProv := `{"name":"other","issuer":"` + otherIssuer + `","local_jwks":` + string(testjwt.JWKS(other)) + `}`
	cfg := `{"providers":[{"name":"idp","issuer":"` + testIssuer + `","local_jwks":` + string(testjwt.JWKS(rsKey())) + `},` + otherProv + `],
	"rules":[
	  {"match":{"prefix":"/only-other"},"requires":{"provider":"other"}},
	  {"match":{"prefix":"/either"},"requires":{"any":[{"provider":"idp","scopes":["x"]},{"provider":"other"}]}},
	  {"match":{"prefix":"/all"},"requires":{"all":[{"scopes":["a"]},{"claims":[{"path":"tier","values":["gold","silver"]}]}]}},
	  {"match":{"prefix":"/num"},"requires":{"claims":[{"path":"level","values":["3"]}]}},
	  {"match":{"prefix":"/bool"},"requires":{"claims":[{"path":"email_verified","values":["true"]}]}},
	  {"match":{"prefix":"/spaced"},"requires":{"claims":[{"path":"groups","values":["ops"]}]}},
	  {"match":{"prefix":"/scoped"},"requires":{"claims":[{"path":"scope","values":["ops"]}]}},
	  {"match":{"prefix":"/dotted"},"requires":{"claims":[{"path":"https://example\\.com/roles","values":["admin"]}]}},
	  {"match":{"prefix":"/optional"},"requires":{"allow_missing":true,"scopes":["a"]}}
	]}`
	with(t, "each node", cfg, func(t *testing.T, h *coreHarness) {
		idp := func(m map[string]any) string { return rsKey().Sign(claimsAt(h, m), nil) }
		oth := func(m map[string]any) string {
			c := claimsAt(h, m)
			c["iss"] = otherIssuer
			return other.Sign(c, nil)
		}
		cases := []struct {
			name, path, token string
			status            int
		}{
			{"a token of the restricted provider passes", "/only-other", oth(nil), 200},
			{"a token of another provider is refused", "/only-other", idp(nil), 401},
			{"any: the first branch passes", "/either", idp(map[string]any{"scope": "x"}), 200},
			{"any: the second branch passes", "/either", oth(nil), 200},
			{"any: no branch is 403", "/either", idp(map[string]any{"scope": "y"}), 403},
			{"all: both branches pass", "/all", idp(map[string]any{"scope": "a", "tier": "gold"}), 200},
			{"all: one failing branch is 403", "/all", idp(map[string]any{"scope": "a", "tier": "bronze"}), 403},
			{"a number claim matches its JSON text", "/num", idp(map[string]any{"level": 3}), 200},
			{"a different number is 403", "/num", idp(map[string]any{"level": 4}), 403},
			{"a bool claim matches true", "/bool", idp(map[string]any{"email_verified": true}), 200},
			{"false is 403", "/bool", idp(map[string]any{"email_verified": false}), 403},
			{"a string claim equal to a value matches", "/spaced", idp(map[string]any{"groups": "ops"}), 200},
			{"a string claim is compared whole, never split on spaces: 403", "/spaced", idp(map[string]any{"groups": "dev ops"}), 403},
			{"a scope claim is a space-delimited list, so one item matches", "/scoped", idp(map[string]any{"scope": "dev ops"}), 200},
			{"a scope claim without the item is 403", "/scoped", idp(map[string]any{"scope": "dev opsx"}), 403},
			{"an array claim matches one element", "/spaced", idp(map[string]any{"groups": []string{"dev", "ops"}}), 200},
			{"a claim without the value is 403", "/spaced", idp(map[string]any{"groups": "devops"}), 403},
			{"an escaped dot names a claim with a dot", "/dotted", idp(map[string]any{"https://example.com/roles": []string{"admin"}}), 200},
			{"the nested reading of a dotted name does not match", "/dotted", idp(map[string]any{"https://example": map[string]any{"com/roles": []string{"admin"}}}), 403},
			{"allow_missing passes without a token", "/optional", "", 200},
			{"allow_missing still checks a present token's scopes", "/optional", idp(map[string]any{"scope": "b"}), 403},
			{"allow_missing with a present valid token and scope passes", "/optional", idp(map[string]any{"scope": "a"}), 200},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) { wantStatus(t, h.get(tc.path, tc.token), tc.status) })
		}
		r := h.get("/all", idp(map[string]any{"scope": "a", "tier": "bronze"}))
		if got := r.header("www-authenticate"); got != `Bearer error="insufficient_scope"` {
			t.Errorf("a claim-only 403 challenge = %q, want no scope attribute", got)
		}
		if !strings.Contains(h.infoLogs(), "required claim was not satisfied [tier]") {
			t.Errorf("info log %q does not name the claim", h.infoLogs())
		}
	})
}

func TestContractUnavailableWithRealmHasNoChallenge(t *testing.T) {
	cfg := strings.TrimSuffix(remoteConfig(""), "}") + `,"realm":"api"}`
	k := startKeys(t, cfg)
	id, _ := k.startRequest("/x", k.tok(rsKey()))
	k.failCall(k.fetchNow())
	k.requireOutcome(id, "answered 503")
	if r := k.result(id, types.ActionPause); r.header("www-authenticate") != "" {
		t.Errorf("503 carries www-authenticate %q", r.header("www-authenticate"))
	}
}
