package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// The DPoP client of these tests and a second key it does not hold.
func dpopKey() *testjwt.Key      { return testjwt.CachedKey("ES256", "dpop-client") }
func dpopOtherKey() *testjwt.Key { return testjwt.CachedKey("ES256", "dpop-other") }

// defaultDPoPAlgs is the algs challenge parameter with no dpop block.
const defaultDPoPAlgs = "ES256 ES384 ES512 RS256 PS256 EdDSA"

// boundToken is a token with the scope "read", bound to client's key.
func (h *coreHarness) boundToken(client *testjwt.Key, edit map[string]any) string {
	c := claimsAt(h, edit)
	if _, set := edit["scope"]; !set {
		c["scope"] = "read"
	}
	if _, set := edit["cnf"]; !set {
		c["cnf"] = map[string]any{"jkt": client.Thumbprint()}
	}
	return rsKey().Sign(c, nil)
}

// proofFor is a proof by client for method and the harness's origin + path.
func (h *coreHarness) proofFor(client *testjwt.Key, method, path, token string) string {
	return client.DPoPProof(method, "http://api.example.com"+path, token, "", h.clock.now)
}

// dpopCall sends method path with Authorization: DPoP token and one DPoP
// header per proof.
func (h *coreHarness) dpopCall(method, path, token string, proofs ...string) *response {
	hs := [][2]string{{"authorization", "DPoP " + token}}
	for _, p := range proofs {
		hs = append(hs, [2]string{"dpop", p})
	}
	return h.do(method, path, hs...)
}

// request sends exactly the given headers, pseudo headers included.
func (h *coreHarness) request(headers ...[2]string) *response {
	id := h.host.InitializeHttpContext()
	return h.result(id, h.host.CallOnRequestHeaders(id, headers, true))
}

// headers returns every value of a local answer's header.
func (r *response) headers(name string) []string {
	if r.local == nil {
		return nil
	}
	var out []string
	for _, h := range r.local.Headers {
		if strings.EqualFold(h[0], name) {
			out = append(out, h[1])
		}
	}
	return out
}

// wantDPoPDenied checks a 401 invalid_dpop_proof with the algs challenge and
// a log line naming the failed check.
func wantDPoPDenied(t *testing.T, h *coreHarness, r *response, algs, logged string) {
	t.Helper()
	want := `DPoP error="invalid_dpop_proof", algs="` + algs + `"`
	if r.status() != 401 || r.header("www-authenticate") != want {
		t.Fatalf("status %d www-authenticate %q, want 401 %q", r.status(), r.headers("www-authenticate"), want)
	}
	if b := r.body(t); b["error"] != "invalid_dpop_proof" || b["error_description"] == "" {
		t.Errorf("body = %v", b)
	}
	if logged != "" && !strings.Contains(h.infoLogs(), "DPoP check failed: "+logged) {
		t.Errorf("no log line says %q:\n%s", logged, h.infoLogs())
	}
}

const readRule = `"rules":[{"match":{"prefix":"/api"},"requires":{"scopes":["read"]}}]`

// Every RFC 9449 §4.3 check of a proof against the request, each with the
// same request done right next to it.
func TestDPoPProofChecks(t *testing.T) {
	h := startFilter(t, localConfig("", readRule))
	client := dpopKey()
	tok := h.boundToken(client, nil)
	now := h.clock.now
	uri := "http://api.example.com/api/orders"
	proofWith := func(edit func(c, hdr map[string]any)) string {
		c := testjwt.DPoPClaims("GET", uri, tok, "", now)
		hdr := client.DPoPHeader()
		if edit != nil {
			edit(c, hdr)
		}
		return client.Sign(c, hdr)
	}
	privateJWK := client.PublicJWK()
	privateJWK["d"] = "AAAA"
	other := dpopOtherKey()
	cases := []struct {
		name   string
		proofs []string
		logged string
	}{
		{"no DPoP header", nil, "the request has no DPoP proof"},
		{"two DPoP headers", []string{proofWith(nil), proofWith(nil)}, "the request has more than one DPoP proof"},
		{"a proof that is not a JWS", []string{"not-a-jws"}, "DPoP proof: "},
		{"a proof without jti", []string{proofWith(func(c, _ map[string]any) { delete(c, "jti") })}, "DPoP proof has no jti string"},
		{"a proof without htm", []string{proofWith(func(c, _ map[string]any) { delete(c, "htm") })}, "DPoP proof has no htm string"},
		{"a proof without htu", []string{proofWith(func(c, _ map[string]any) { delete(c, "htu") })}, "DPoP proof has no htu string"},
		{"a proof without iat", []string{proofWith(func(c, _ map[string]any) { delete(c, "iat") })}, "DPoP proof has no numeric iat"},
		{"a proof with typ JWT", []string{proofWith(func(_, hdr map[string]any) { hdr["typ"] = "JWT" })}, "DPoP proof typ is not dpop+jwt"},
		{"an HS256 proof", []string{testjwt.CachedKey("HS256", "x").Sign(testjwt.DPoPClaims("GET", uri, tok, "", now),
			map[string]any{"typ": "dpop+jwt", "jwk": client.PublicJWK(), "kid": nil})}, "DPoP proof uses a symmetric algorithm"},
		{"a proof signed by another key than its jwk", []string{other.Sign(testjwt.DPoPClaims("GET", uri, tok, "", now), client.DPoPHeader())}, "DPoP proof signature is invalid"},
		{"a proof whose jwk holds the private key", []string{proofWith(func(_, hdr map[string]any) { hdr["jwk"] = privateJWK })}, "DPoP proof jwk is not a usable public key: contains private key material"},
		{"a proof for POST on a GET", []string{proofWith(func(c, _ map[string]any) { c["htm"] = "POST" })}, "DPoP proof htm does not match the request method"},
		{"a proof with a lower-case htm", []string{proofWith(func(c, _ map[string]any) { c["htm"] = "get" })}, "DPoP proof htm does not match the request method"},
		{"a proof for another path", []string{proofWith(func(c, _ map[string]any) { c["htu"] = "http://api.example.com/api/other" })}, "DPoP proof htu does not match the request URI"},
		{"a proof for another host", []string{proofWith(func(c, _ map[string]any) { c["htu"] = "http://evil.example.com/api/orders" })}, "DPoP proof htu does not match the request URI"},
		{"a proof for https on an http request", []string{proofWith(func(c, _ map[string]any) { c["htu"] = "https://api.example.com/api/orders" })}, "DPoP proof htu does not match the request URI"},
		{"a proof for another port", []string{proofWith(func(c, _ map[string]any) { c["htu"] = "http://api.example.com:8080/api/orders" })}, "DPoP proof htu does not match the request URI"},
		{"a proof with a relative htu", []string{proofWith(func(c, _ map[string]any) { c["htu"] = "/api/orders" })}, "DPoP proof htu does not match the request URI"},
		{"a proof with userinfo in htu", []string{proofWith(func(c, _ map[string]any) { c["htu"] = "http://u@api.example.com/api/orders" })}, "DPoP proof htu does not match the request URI"},
		{"a proof made 61 s before the 60 s window and 60 s skew", []string{proofWith(func(c, _ map[string]any) { c["iat"] = now.Add(-121 * time.Second).Unix() })}, "DPoP proof iat is outside the accepted window"},
		{"a proof made 61 s in the future", []string{proofWith(func(c, _ map[string]any) { c["iat"] = now.Add(61 * time.Second).Unix() })}, "DPoP proof iat is outside the accepted window"},
		{"a proof without ath", []string{proofWith(func(c, _ map[string]any) { delete(c, "ath") })}, "DPoP proof ath does not match the access token"},
		{"a proof whose ath hashes another token", []string{proofWith(func(c, _ map[string]any) {
			c["ath"] = testjwt.DPoPClaims("GET", uri, tok+"x", "", now)["ath"]
		})}, "DPoP proof ath does not match the access token"},
		{"a valid proof by a key the token is not bound to", []string{other.DPoPProof("GET", uri, tok, "", now)}, "DPoP proof key does not match the token's cnf.jkt"},
	}
	for _, c := range cases {
		t.Run(c.name+" is 401 invalid_dpop_proof", func(t *testing.T) {
			wantDPoPDenied(t, h, h.dpopCall("GET", "/api/orders", tok, c.proofs...), defaultDPoPAlgs, c.logged)
		})
		t.Run("while a fresh proof done right after "+c.name+" passes", func(t *testing.T) {
			wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proofWith(nil)), 200)
		})
	}

	twins := []struct{ name, htu string }{
		{"an htu with an upper-case scheme and host", "HTTP://API.Example.COM/api/orders"},
		{"an htu with the default port", "http://api.example.com:80/api/orders"},
		{"an htu with an empty port", "http://api.example.com:/api/orders"},
		{"an htu with a query and a fragment", "http://api.example.com/api/orders?x=1#frag"},
		{"an htu with percent-encoded unreserved characters", "http://api.example.com/api/%6Frders"},
		{"an htu with dot segments", "http://api.example.com/api/x/../orders"},
	}
	for _, c := range twins {
		t.Run(c.name+" matches after RFC 9449 normalisation", func(t *testing.T) {
			wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proofWith(func(cl, _ map[string]any) { cl["htu"] = c.htu })), 200)
		})
	}
	t.Run("the request's query does not take part in htu", func(t *testing.T) {
		wantStatus(t, h.dpopCall("GET", "/api/orders?page=2", tok, proofWith(nil)), 200)
	})
	t.Run("a POST is matched with a POST proof", func(t *testing.T) {
		wantStatus(t, h.dpopCall("POST", "/api/orders", tok, proofWith(func(c, _ map[string]any) { c["htm"] = "POST" })), 200)
	})
	t.Run("the edges of the iat window pass", func(t *testing.T) {
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proofWith(func(c, _ map[string]any) { c["iat"] = now.Add(-120 * time.Second).Unix() })), 200)
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proofWith(func(c, _ map[string]any) { c["iat"] = now.Add(60 * time.Second).Unix() })), 200)
	})
	t.Run("a request whose :authority smuggles a path matches nothing", func(t *testing.T) {
		proof := client.DPoPProof("GET", "http://api.example.com/api/orders", tok, "", now)
		r := h.request([2]string{":method", "GET"}, [2]string{":path", "/api/admin"}, [2]string{":authority", "api.example.com/api/orders#"},
			[2]string{"authorization", "DPoP " + tok}, [2]string{"dpop", proof})
		wantDPoPDenied(t, h, r, defaultDPoPAlgs, "DPoP proof htu does not match the request URI")
	})
}

func TestDPoPReplay(t *testing.T) {
	h := startFilter(t, localConfig("", readRule))
	client := dpopKey()
	tok := h.boundToken(client, nil)
	proof := h.proofFor(client, "GET", "/api/orders", tok)
	t.Run("a proof is accepted once", func(t *testing.T) {
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proof), 200)
	})
	t.Run("and refused when replayed", func(t *testing.T) {
		wantDPoPDenied(t, h, h.dpopCall("GET", "/api/orders", tok, proof), defaultDPoPAlgs, "DPoP proof was already used (jti replay)")
	})
	t.Run("while fresh proofs keep passing", func(t *testing.T) {
		for range 3 {
			wantStatus(t, h.dpopCall("GET", "/api/orders", tok, h.proofFor(client, "GET", "/api/orders", tok)), 200)
		}
	})
	t.Run("a proof refused for another reason does not use up its jti", func(t *testing.T) {
		p := h.proofFor(client, "GET", "/api/orders", tok)
		wantDPoPDenied(t, h, h.dpopCall("POST", "/api/orders", tok, p), defaultDPoPAlgs, "DPoP proof htm does not match the request method")
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, p), 200)
	})
	t.Run("the access token is verified once and the proof on every request", func(t *testing.T) {
		if hit, miss := h.counter(metricCacheHit), h.counter(metricCacheMiss); hit != 6 || miss != 1 {
			t.Errorf("cache hit %d miss %d", hit, miss)
		}
	})
}

func TestDPoPBindingIsNeverOptional(t *testing.T) {
	client := dpopKey()
	for _, cfg := range []struct{ name, dpop string }{
		{"without a dpop block", ""},
		{"with mode allowed", `"dpop":{"mode":"allowed"}`},
	} {
		with(t, cfg.name, localConfig(cfg.dpop, readRule), func(t *testing.T, h *coreHarness) {
			tok := h.boundToken(client, nil)
			bearer := h.token(rsKey(), "bob", "read")
			proof := func() string { return h.proofFor(client, "GET", "/api/orders", tok) }
			t.Run("a bound token sent as Bearer is 401 invalid_dpop_proof", func(t *testing.T) {
				r := h.do("GET", "/api/orders", [2]string{"authorization", "Bearer " + tok}, [2]string{"dpop", proof()})
				wantDPoPDenied(t, h, r, defaultDPoPAlgs, "a DPoP-bound token was sent as a bearer token")
			})
			t.Run("a bound token in the query is 401 invalid_dpop_proof", func(t *testing.T) {
				r := h.do("GET", "/api/orders?access_token="+tok, [2]string{"dpop", proof()})
				wantDPoPDenied(t, h, r, defaultDPoPAlgs, "a DPoP-bound token was sent as a bearer token")
			})
			t.Run("a bound token with the DPoP scheme and its proof passes", func(t *testing.T) {
				wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proof()), 200)
			})
			t.Run("the DPoP scheme is read case-insensitively", func(t *testing.T) {
				r := h.do("GET", "/api/orders", [2]string{"authorization", "dpop  " + tok}, [2]string{"DPoP", proof()})
				wantStatus(t, r, 200)
			})
			t.Run("an unbound token sent with the DPoP scheme is 401", func(t *testing.T) {
				r := h.dpopCall("GET", "/api/orders", bearer, h.proofFor(client, "GET", "/api/orders", bearer))
				wantDPoPDenied(t, h, r, defaultDPoPAlgs, "a token sent with the DPoP scheme is not DPoP-bound")
			})
			t.Run("an unbound token sent as Bearer passes", func(t *testing.T) {
				wantStatus(t, h.get("/api/orders", bearer), 200)
			})
			t.Run("a DPoP token and a bearer token together are 400", func(t *testing.T) {
				r := h.do("GET", "/api/orders?access_token="+bearer, [2]string{"authorization", "DPoP " + tok}, [2]string{"dpop", proof()})
				wantStatus(t, r, 400)
			})
		})
	}
	with(t, "a token with a cnf.jkt that is not a thumbprint", localConfig("", readRule), func(t *testing.T, h *coreHarness) {
		bad := h.boundToken(client, map[string]any{"cnf": map[string]any{"jkt": 42}})
		r := h.get("/api/orders", bad)
		if r.status() != 401 || !strings.HasPrefix(r.header("www-authenticate"), `Bearer error="invalid_token"`) {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.header("www-authenticate"))
		}
		wantStatus(t, h.dpopCall("GET", "/api/orders", h.boundToken(client, nil), h.proofFor(client, "GET", "/api/orders", h.boundToken(client, nil))), 200)
	})
}

// A provider that reads Authorization raw (value_prefix "") still reads
// the DPoP scheme: `Authorization: DPoP <token>` is the scheme's token, not
// also a raw token "DPoP <token>" (which made two tokens, a 400).
func TestDPoPBesideARawAuthorizationHeader(t *testing.T) {
	client := dpopKey()
	cfg := localConfig(`"from_headers":[{"name":"authorization","value_prefix":""}]`, readRule)
	with(t, "authorization read without a scheme word", cfg, func(t *testing.T, h *coreHarness) {
		tok := h.boundToken(client, nil)
		bearer := h.token(rsKey(), "bob", "read")
		proof := func() string { return h.proofFor(client, "GET", "/api/orders", tok) }
		t.Run("a bound token with the DPoP scheme and its proof passes", func(t *testing.T) {
			wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proof()), 200)
		})
		t.Run("a bound token sent raw is 401 invalid_dpop_proof", func(t *testing.T) {
			r := h.do("GET", "/api/orders", [2]string{"authorization", tok}, [2]string{"dpop", proof()})
			wantDPoPDenied(t, h, r, defaultDPoPAlgs, "a DPoP-bound token was sent as a bearer token")
		})
		t.Run("an unbound token sent raw passes", func(t *testing.T) {
			wantStatus(t, h.do("GET", "/api/orders", [2]string{"authorization", bearer}), 200)
		})
		t.Run("an unbound token with the DPoP scheme is 401 invalid_dpop_proof", func(t *testing.T) {
			r := h.dpopCall("GET", "/api/orders", bearer, h.proofFor(client, "GET", "/api/orders", bearer))
			wantDPoPDenied(t, h, r, defaultDPoPAlgs, "a token sent with the DPoP scheme is not DPoP-bound")
		})
		t.Run("a DPoP token and a raw token in two headers are 400", func(t *testing.T) {
			r := h.do("GET", "/api/orders", [2]string{"authorization", "DPoP " + tok}, [2]string{"authorization", bearer}, [2]string{"dpop", proof()})
			wantStatus(t, r, 400)
		})
	})
}

func TestDPoPModeRequired(t *testing.T) {
	h := startFilter(t, localConfig(`"dpop":{"mode":"required","algorithms":["ES256","EdDSA"]}`, readRule))
	client := dpopKey()
	tok := h.boundToken(client, nil)
	t.Run("an unbound bearer token is 401 invalid_dpop_proof", func(t *testing.T) {
		wantDPoPDenied(t, h, h.get("/api/orders", h.token(rsKey(), "bob", "read")), "ES256 EdDSA", "the token is not DPoP-bound (dpop mode is required)")
	})
	t.Run("a bound token with its proof passes", func(t *testing.T) {
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, h.proofFor(client, "GET", "/api/orders", tok)), 200)
	})
	t.Run("a proof in an algorithm not listed is 401", func(t *testing.T) {
		rs := testjwt.CachedKey("RS256", "dpop-rsa")
		rtok := h.boundToken(rs, nil)
		wantDPoPDenied(t, h, h.dpopCall("GET", "/api/orders", rtok, h.proofFor(rs, "GET", "/api/orders", rtok)), "ES256 EdDSA", "DPoP proof algorithm not allowed")
	})
	t.Run("a proof in a listed algorithm other than ES256 passes", func(t *testing.T) {
		ed := testjwt.CachedKey("EdDSA", "dpop-ed")
		etok := h.boundToken(ed, nil)
		wantStatus(t, h.dpopCall("GET", "/api/orders", etok, h.proofFor(ed, "GET", "/api/orders", etok)), 200)
	})
}

func TestDPoPMissingTokenOffersBothSchemes(t *testing.T) {
	for _, c := range []struct{ name, cfg, bearer, dpop string }{
		{"by default", localConfig("", readRule), "Bearer", `DPoP algs="` + defaultDPoPAlgs + `"`},
		{"with a realm and listed algorithms", localConfig(`"dpop":{"algorithms":["PS256","ES256"]}`, readRule+`,"realm":"api"`),
			`Bearer realm="api"`, `DPoP realm="api", algs="PS256 ES256"`},
	} {
		with(t, c.name, c.cfg, func(t *testing.T, h *coreHarness) {
			r := h.get("/api/orders", "")
			got := r.headers("www-authenticate")
			if r.status() != 401 || len(got) != 2 || got[0] != c.bearer || got[1] != c.dpop {
				t.Fatalf("status %d www-authenticate %q, want [%q %q]", r.status(), got, c.bearer, c.dpop)
			}
			if b := r.body(t); b["error"] != "unauthorized" {
				t.Errorf("body %v", b)
			}
		})
	}
	with(t, "two providers with different algorithms", `{"providers":[
		{"name":"a","local_jwks":`+string(testjwt.JWKS(rsKey()))+`,"dpop":{"algorithms":["ES256"]}},
		{"name":"b","local_jwks":`+string(testjwt.JWKS(esKey()))+`,"dpop":{"algorithms":["EdDSA","ES256"]}}],
		"rules":[{"match":{"prefix":"/only-b"},"requires":{"provider":"b"}}]}`, func(t *testing.T, h *coreHarness) {
		if got := h.get("/x", "").headers("www-authenticate"); len(got) != 2 || got[1] != `DPoP algs="ES256 EdDSA"` {
			t.Errorf("any provider: %q", got)
		}
		if got := h.get("/only-b", "").headers("www-authenticate"); len(got) != 2 || got[1] != `DPoP algs="EdDSA ES256"` {
			t.Errorf("provider b only: %q", got)
		}
	})
}

func TestDPoPNonces(t *testing.T) {
	const secret = "c2NvcGVnYXRlLWRwb3Atbm9uY2Utc2VjcmV0LTMyLWJ5dGVzISE"
	h := startFilter(t, localConfig(`"dpop":{"nonce":{"secret":"`+secret+`","step_s":60}}`, readRule))
	client := dpopKey()
	tok := h.boundToken(client, nil)
	proof := func(nonce string) string {
		return client.DPoPProof("GET", "http://api.example.com/api/orders", tok, nonce, h.clock.now)
	}
	wantNonceChallenge := func(t *testing.T, r *response) string {
		t.Helper()
		if r.status() != 401 || r.header("www-authenticate") != `DPoP error="use_dpop_nonce"` {
			t.Fatalf("status %d www-authenticate %q", r.status(), r.headers("www-authenticate"))
		}
		if b := r.body(t); b["error"] != "use_dpop_nonce" {
			t.Errorf("body %v", b)
		}
		n := r.header("dpop-nonce")
		if n == "" {
			t.Fatal("no DPoP-Nonce header")
		}
		return n
	}
	var nonce, first string
	t.Run("a proof without a nonce is 401 use_dpop_nonce with a nonce", func(t *testing.T) {
		nonce = wantNonceChallenge(t, h.dpopCall("GET", "/api/orders", tok, proof("")))
		first = nonce
		if !strings.Contains(h.infoLogs(), "DPoP nonce required: DPoP proof has no nonce") {
			t.Errorf("logs: %s", h.infoLogs())
		}
	})
	t.Run("a proof with that nonce passes", func(t *testing.T) {
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proof(nonce)), 200)
	})
	t.Run("a proof with a made-up nonce is 401 use_dpop_nonce", func(t *testing.T) {
		if got := wantNonceChallenge(t, h.dpopCall("GET", "/api/orders", tok, proof("made-up"))); got != nonce {
			t.Errorf("a second nonce %q in the same step, want %q", got, nonce)
		}
	})
	t.Run("in the next step the nonce still passes and the answer carries the next one", func(t *testing.T) {
		h.clock.now = h.clock.now.Add(60 * time.Second)
		id := h.host.InitializeHttpContext()
		hs := [][2]string{{":method", "GET"}, {":path", "/api/orders"}, {":authority", "api.example.com"},
			{"authorization", "DPoP " + tok}, {"dpop", proof(nonce)}}
		if a := h.host.CallOnRequestHeaders(id, hs, true); a != types.ActionContinue {
			t.Fatalf("action %v: %v", a, h.host.GetSentLocalResponse(id))
		}
		h.host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		next := ""
		for _, kv := range h.host.GetCurrentResponseHeaders(id) {
			if kv[0] == "dpop-nonce" {
				next = kv[1]
			}
		}
		if next == "" || next == nonce {
			t.Fatalf("response DPoP-Nonce %q (old %q)", next, nonce)
		}
		nonce = next
	})
	t.Run("two steps later the old nonce is stale", func(t *testing.T) {
		h.clock.now = h.clock.now.Add(60 * time.Second)
		fresh := wantNonceChallenge(t, h.dpopCall("GET", "/api/orders", tok, proof(first)))
		if fresh == first || fresh == nonce {
			t.Errorf("the challenge handed out an old nonce")
		}
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proof(nonce)), 200)
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proof(fresh)), 200)
	})
}

// Proxies configured with the same secret accept each other's nonces with
// nothing shared: one hands a nonce out, another (a fresh VM, the secret
// written with padding) accepts it.
func TestDPoPNoncesAcrossAFleet(t *testing.T) {
	const secret = "c2NvcGVnYXRlLWRwb3Atbm9uY2Utc2VjcmV0LTMyLWJ5dGVzISE"
	client := dpopKey()
	var nonce, tok string
	with(t, "one proxy", localConfig(`"dpop":{"nonce":{"secret":"`+secret+`"}}`, readRule), func(t *testing.T, h *coreHarness) {
		tok = h.boundToken(client, nil)
		r := h.dpopCall("GET", "/api/orders", tok, h.proofFor(client, "GET", "/api/orders", tok))
		if nonce = r.header("dpop-nonce"); r.status() != 401 || nonce == "" {
			t.Fatalf("status %d nonce %q", r.status(), nonce)
		}
	})
	with(t, "another proxy", localConfig(`"dpop":{"nonce":{"secret":"`+secret+`="}}`, readRule), func(t *testing.T, h *coreHarness) {
		proof := client.DPoPProof("GET", "http://api.example.com/api/orders", tok, nonce, h.clock.now)
		wantStatus(t, h.dpopCall("GET", "/api/orders", tok, proof), 200)
	})
	with(t, "a proxy with another secret", localConfig(`"dpop":{"nonce":{"secret":"`+strings.Repeat("B", 42)+"A"+`"}}`, readRule), func(t *testing.T, h *coreHarness) {
		proof := client.DPoPProof("GET", "http://api.example.com/api/orders", tok, nonce, h.clock.now)
		if r := h.dpopCall("GET", "/api/orders", tok, proof); r.status() != 401 || r.header("dpop-nonce") == nonce {
			t.Fatalf("status %d nonce %q", r.status(), r.header("dpop-nonce"))
		}
	})
}

func TestDPoPHTUOrigin(t *testing.T) {
	h := startFilter(t, localConfig(`"dpop":{"htu_origin":"HTTPS://API.example.com:443/"}`, readRule))
	client := dpopKey()
	tok := h.boundToken(client, nil)
	internal := func(htu string) *response {
		return h.request([2]string{":method", "GET"}, [2]string{":path", "/api/orders"}, [2]string{":scheme", "http"}, [2]string{":authority", "10.0.0.7:8080"},
			[2]string{"authorization", "DPoP " + tok}, [2]string{"dpop", client.DPoPProof("GET", htu, tok, "", h.clock.now)})
	}
	t.Run("a proof naming the external origin passes behind another proxy", func(t *testing.T) {
		wantStatus(t, internal("https://api.example.com/api/orders"), 200)
	})
	t.Run("a proof naming the internal origin is refused", func(t *testing.T) {
		wantDPoPDenied(t, h, internal("http://10.0.0.7:8080/api/orders"), defaultDPoPAlgs, "DPoP proof htu does not match the request URI")
	})
}

func TestDPoPSuccessRemovesTheProof(t *testing.T) {
	client := dpopKey()
	with(t, "by default", localConfig("", readRule), func(t *testing.T, h *coreHarness) {
		tok := h.boundToken(client, nil)
		r := h.dpopCall("GET", "/api/orders", tok, h.proofFor(client, "GET", "/api/orders", tok))
		wantStatus(t, r, 200)
		for _, name := range []string{"authorization", "dpop"} {
			if v, ok := r.upstreamHeader(name); ok {
				t.Errorf("%s %q reached the upstream", name, v)
			}
		}
	})
	with(t, "with forward", localConfig(`"forward":true`, readRule), func(t *testing.T, h *coreHarness) {
		tok := h.boundToken(client, nil)
		proof := h.proofFor(client, "GET", "/api/orders", tok)
		r := h.dpopCall("GET", "/api/orders", tok, proof)
		wantStatus(t, r, 200)
		if v, _ := r.upstreamHeader("dpop"); v != proof {
			t.Error("the proof was not forwarded")
		}
		if v, _ := r.upstreamHeader("authorization"); v != "DPoP "+tok {
			t.Error("the token was not forwarded")
		}
	})
}

func TestDPoPMetricsAndScopeOrder(t *testing.T) {
	h := startFilter(t, localConfig("", readRule))
	client := dpopKey()
	tok := h.boundToken(client, nil)
	unscoped := h.boundToken(client, map[string]any{"scope": "other"})
	t.Run("a bad proof is 401 even when the scope is missing too", func(t *testing.T) {
		wantDPoPDenied(t, h, h.dpopCall("GET", "/api/orders", unscoped), defaultDPoPAlgs, "")
	})
	t.Run("a good proof with a missing scope is 403", func(t *testing.T) {
		wantStatus(t, h.dpopCall("GET", "/api/orders", unscoped, h.proofFor(client, "GET", "/api/orders", unscoped)), 403)
	})
	wantStatus(t, h.dpopCall("GET", "/api/orders", tok, h.proofFor(client, "GET", "/api/orders", tok)), 200)
	for name, want := range map[string]uint64{metricDeniedInvalid: 1, metricDeniedInvalidDPoP: 1, metricDeniedScope: 1, metricAllowed: 1, metricDeniedInvalidCertificate: 0} {
		if got := h.counter(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestDPoPConfiguration(t *testing.T) {
	const secret32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	bad := []struct{ name, dpop, path string }{
		{"a dpop that is not an object", `"dpop":true`, "providers[0].dpop"},
		{"an unknown dpop field", `"dpop":{"modes":"allowed"}`, "providers[0].dpop.modes"},
		{"an unknown mode", `"dpop":{"mode":"optional"}`, "providers[0].dpop.mode"},
		{"an empty algorithm list", `"dpop":{"algorithms":[]}`, "providers[0].dpop.algorithms"},
		{"an unknown algorithm", `"dpop":{"algorithms":["ES256","XS1"]}`, "providers[0].dpop.algorithms[1]"},
		{"a symmetric algorithm", `"dpop":{"algorithms":["HS256"]}`, "providers[0].dpop.algorithms[0]"},
		{"a negative iat window", `"dpop":{"iat_window_s":-1}`, "providers[0].dpop.iat_window_s"},
		{"an iat window over an hour", `"dpop":{"iat_window_s":3601}`, "providers[0].dpop.iat_window_s"},
		{"a nonce without secret", `"dpop":{"nonce":{"step_s":60}}`, "providers[0].dpop.nonce.secret"},
		{"a nonce secret of 30 bytes", `"dpop":{"nonce":{"secret":"` + secret32[:41] + `"}}`, "providers[0].dpop.nonce.secret"},
		{"a nonce secret in standard base64", `"dpop":{"nonce":{"secret":"` + secret32[:40] + `+/A"}}`, "providers[0].dpop.nonce.secret"},
		{"a nonce step of 0", `"dpop":{"nonce":{"secret":"` + secret32 + `","step_s":0}}`, "providers[0].dpop.nonce.step_s"},
		{"an unknown nonce field", `"dpop":{"nonce":{"secret":"` + secret32 + `","ttl":1}}`, "providers[0].dpop.nonce.ttl"},
		{"an htu_origin with a path", `"dpop":{"htu_origin":"https://api.example.com/v1"}`, "providers[0].dpop.htu_origin"},
		{"an htu_origin with a query", `"dpop":{"htu_origin":"https://api.example.com?x"}`, "providers[0].dpop.htu_origin"},
		{"an htu_origin without scheme", `"dpop":{"htu_origin":"api.example.com"}`, "providers[0].dpop.htu_origin"},
		{"an htu_origin of another scheme", `"dpop":{"htu_origin":"ftp://api.example.com"}`, "providers[0].dpop.htu_origin"},
		{"a certificate_bound that is not an object", `"certificate_bound":"required"`, "providers[0].certificate_bound"},
		{"an unknown certificate mode", `"certificate_bound":{"mode":"yes"}`, "providers[0].certificate_bound.mode"},
		{"an invalid client_cert_header", `"certificate_bound":{"client_cert_header":"x cert"}`, "providers[0].certificate_bound.client_cert_header"},
		{"an unknown certificate_bound field", `"certificate_bound":{"header":"x"}`, "providers[0].certificate_bound.header"},
	}
	for _, c := range bad {
		t.Run(c.name+" fails on_configure naming "+c.path, func(t *testing.T) {
			status, logs := configureStatus(t, localConfig(c.dpop, ""))
			if status != types.OnPluginStartStatusFailed || !strings.Contains(logs, "invalid configuration: "+c.path+": ") {
				t.Fatalf("status %v, logs %q", status, logs)
			}
		})
	}
	good := []string{
		`"dpop":{}`,
		`"dpop":{"mode":"required","algorithms":["ES256","ES256","PS512"],"iat_window_s":0,"htu_origin":""}`,
		`"dpop":{"nonce":{"secret":"` + secret32 + `"},"htu_origin":"http://[::1]:8080"}`,
		`"dpop":{"nonce":{"secret":"` + secret32 + `=","step_s":86400},"iat_window_s":3600}`,
		`"certificate_bound":{}`,
		`"certificate_bound":{"mode":"required","client_cert_header":"X-Forwarded-Client-Cert"}`,
		`"certificate_bound":{"mode":"allowed","client_cert_header":""}`,
	}
	for _, g := range good {
		t.Run("the valid twin "+g+" configures", func(t *testing.T) {
			if status, logs := configureStatus(t, localConfig(g, "")); status != types.OnPluginStartStatusOK {
				t.Fatal(logs)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		cfg, err := ParseConfig([]byte(localConfig("", "")))
		if err != nil {
			t.Fatal(err)
		}
		pol := cfg.Providers[0].DPoP
		if pol.Required || pol.AlgNames != defaultDPoPAlgs || pol.IatWindow != 60*time.Second || pol.Nonce != nil || pol.HTUOrigin != "" {
			t.Errorf("dpop defaults %+v", pol)
		}
		if cb := cfg.Providers[0].CertificateBound; cb.Required || cb.ClientCertHeader != "" {
			t.Errorf("certificate_bound defaults %+v", cb)
		}
		cfg, err = ParseConfig([]byte(localConfig(`"dpop":{"nonce":{"secret":"`+secret32+`"},"htu_origin":"HTTPS://API.example.com:443"}`, "")))
		if err != nil {
			t.Fatal(err)
		}
		if pol := cfg.Providers[0].DPoP; pol.Nonce.Step != 60*time.Second || pol.HTUOrigin != "https://api.example.com" {
			t.Errorf("nonce %+v origin %q", pol.Nonce, pol.HTUOrigin)
		}
	})
}

func TestNormalizeHTU(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example.com":         "https://api.example.com/",
		"HTTPS://API.EXAMPLE.COM:443/A/b": "https://api.example.com/A/b",
		"http://h:8080/p?q#f":             "http://h:8080/p",
		"https://h:80/":                   "https://h:80/",
		"http://[::1]:80/x":               "http://[::1]/x",
		"http://[::1]/x":                  "http://[::1]/x",
		"http://h/%7e%2f%41/./a/../b":     "http://h/~%2FA/b",
		"http://h/a/b/..":                 "http://h/a/",
		"http://h/..":                     "http://h/",
	} {
		if got, ok := normalizeHTU(in); !ok || got != want {
			t.Errorf("normalizeHTU(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "/path", "http:/h/p", "http://u:p@h/", "http://h:x/", "http://:80/", "http://h/%zz", "http://h /", "1http://h/", "http://h\\x/"} {
		if got, ok := normalizeHTU(in); ok {
			t.Errorf("normalizeHTU(%q) = %q, want a failure", in, got)
		}
	}
}
