package e2e

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// oidcPluginConfig protects /api with kong_api_access and trusts the
// provider through discovery on the cluster "oidc". clock_skew_s is 0 so the
// 1-second tokens expire within the test; the refetch limit is 1 s so a
// rotation is picked up on the next unknown kid.
func oidcPluginConfig(issuer string) []byte {
	return fmt.Appendf(nil, `{
  "providers": [{
    "name": "oidc-provider",
    "issuer": %[1]q,
    "audiences": ["scopegate-api"],
    "discovery": {"cluster": "oidc", "uri": %[2]q, "refetch_min_interval_s": 1},
    "clock_skew_s": 0,
    "claim_to_headers": [{"claim": "client_id", "header": "x-client-id"}]
  }],
  "rules": [{"match": {"prefix": "/api"}, "requires": {"scopes": ["kong_api_access"]}}]
}`, issuer, issuer+"/.well-known/openid-configuration")
}

// oidcHost loads the compiled plugin into the local host, whose only way to
// the provider is the "oidc" cluster; mutate may adjust the host config.
func oidcHost(t *testing.T, issuer string, mutate ...func(*host.Config)) *host.Host {
	t.Helper()
	mod, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := host.Config{
		Module:       mod,
		PluginConfig: oidcPluginConfig(issuer),
		Clusters:     map[string]string{"oidc": issuer},
		Workers:      1,
		Log:          io.Discard,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	h, err := host.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// oidcCall sends GET /api/orders with the bearer token (none when "").
func oidcCall(t *testing.T, h *host.Host, token string) host.Decision {
	t.Helper()
	var headers [][2]string
	if token != "" {
		headers = [][2]string{{"authorization", "Bearer " + token}}
	}
	return oidcGet(t, h, headers)
}

// oidcGet sends GET http://api.example/api/orders with the headers.
func oidcGet(t *testing.T, h *host.Host, headers [][2]string) host.Decision {
	t.Helper()
	req := host.Request{Method: "GET", Path: "/api/orders", Authority: "api.example", Headers: headers}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := h.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func oidcWantAllowed(t *testing.T, d host.Decision) {
	t.Helper()
	if !d.Continue {
		www, _ := oidcHeader(d.ResponseHeaders, "www-authenticate")
		t.Fatalf("denied with %d (%s): %s", d.Status, www, d.Body)
	}
	if _, err := oidcHeader(d.Headers, "authorization"); err == nil {
		t.Error("the token was forwarded upstream; it must be removed")
	}
	if v, _ := oidcHeader(d.Headers, "x-client-id"); v != "scopegate-e2e" {
		t.Errorf("x-client-id = %q, want scopegate-e2e", v)
	}
}

func oidcWantDenied(t *testing.T, d host.Decision, status int, wwwPrefix string) {
	t.Helper()
	if d.Continue || d.Status != status {
		t.Fatalf("decision continue=%v status=%d, want status %d", d.Continue, d.Status, status)
	}
	www, _ := oidcHeader(d.ResponseHeaders, "www-authenticate")
	if !strings.HasPrefix(www, wwwPrefix) {
		t.Errorf("WWW-Authenticate = %q, want prefix %q", www, wwwPrefix)
	}
}

func oidcLogged(h *host.Host, text string) bool {
	for _, e := range h.Logs() {
		if strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// TestOIDCProviderEndToEnd runs the compiled plugin against panva's
// oidc-provider, one provider process per signing algorithm.
func TestOIDCProviderEndToEnd(t *testing.T) {
	oidcSetup(t)
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			p := oidcStart(t, alg)
			h := oidcHost(t, p.Issuer)
			good := p.oidcToken(t, "kong_api_access", "")
			if hdr := oidcSegment(t, good, 0); hdr["alg"] != alg || hdr["kid"] != p.Kid || hdr["typ"] != "at+jwt" {
				t.Fatalf("provider issued header %v, want alg %s kid %s typ at+jwt", hdr, alg, p.Kid)
			}

			t.Run("a token with the scope is allowed after discovery and JWKS came through the cluster", func(t *testing.T) {
				oidcWantAllowed(t, oidcCall(t, h, good))
				// The oidc cluster is the plugin's only way to the provider.
				if n := h.CalloutCount(); n < 2 {
					t.Errorf("%d callouts; want at least discovery and JWKS through the oidc cluster", n)
				}
				if n, _ := h.Metric("scopegate.jwks.fetch_ok"); n < 1 {
					t.Errorf("scopegate.jwks.fetch_ok = %d", n)
				}
			})
			t.Run("a token without the scope is refused with 403 insufficient_scope", func(t *testing.T) {
				d := oidcCall(t, h, p.oidcToken(t, "profile_read", ""))
				oidcWantDenied(t, d, 403, "Bearer")
				want := `Bearer error="insufficient_scope", scope="kong_api_access"`
				if www, _ := oidcHeader(d.ResponseHeaders, "www-authenticate"); www != want {
					t.Errorf("WWW-Authenticate = %q, want %q", www, want)
				}
				if !oidcLogged(h, "required scopes were not found [kong_api_access]") {
					t.Error("no log line names the missing scope")
				}
			})
			t.Run("a tampered token is refused with 401 invalid_token", func(t *testing.T) {
				forged := oidcTamper(t, p.oidcToken(t, "profile_read", ""), "scope", "kong_api_access profile_read")
				oidcWantDenied(t, oidcCall(t, h, forged), 401, `Bearer error="invalid_token"`)
			})
			t.Run("a token altered after its original was verified and cached is refused with 401", func(t *testing.T) {
				// The original was allowed (and cached) above; the copy keeps its
				// signature but claims another client.
				oidcWantAllowed(t, oidcCall(t, h, good))
				forged := oidcTamper(t, good, "client_id", "someone-else")
				oidcWantDenied(t, oidcCall(t, h, forged), 401, `Bearer error="invalid_token"`)
			})
			t.Run("a request without a token is refused with 401", func(t *testing.T) {
				oidcWantDenied(t, oidcCall(t, h, ""), 401, "Bearer")
			})
			t.Run("an expired token is refused with 401 invalid_token", func(t *testing.T) {
				short := p.oidcToken(t, "kong_api_access", "urn:scopegate:short")
				exp, _ := oidcSegment(t, short, 1)["exp"].(float64)
				if exp == 0 {
					t.Fatal("the short-lived token has no exp")
				}
				// Valid while now <= exp (skew 0): wait until a full second past exp.
				time.Sleep(time.Until(time.Unix(int64(exp)+1, 100e6)))
				oidcWantDenied(t, oidcCall(t, h, short), 401, `Bearer error="invalid_token"`)
				if n, _ := h.Metric("scopegate.denied.invalid"); n < 2 {
					t.Errorf("scopegate.denied.invalid = %d, want the tampered and the expired token", n)
				}
			})
			t.Run("after the provider restarts with a new key, the unknown kid triggers a refetch and is accepted", func(t *testing.T) {
				oldKid := p.Kid
				p.oidcRestart(t)
				fresh := p.oidcToken(t, "kong_api_access", "")
				if kid := oidcSegment(t, fresh, 0)["kid"]; kid != p.Kid || kid == oldKid {
					t.Fatalf("new token kid %v, provider kid %s, old kid %s", kid, p.Kid, oldKid)
				}
				before := h.CalloutCount()
				// The refetch limit (1 s) started with the first fetch, well
				// over a second ago (the expiry wait), so one call suffices.
				oidcWantAllowed(t, oidcCall(t, h, fresh))
				if h.CalloutCount() == before {
					t.Error("the new kid was accepted without fetching the JWKS again")
				}
				// The old key left the JWKS, so the token it signed no longer passes.
				oidcWantDenied(t, oidcCall(t, h, good), 401, `Bearer error="invalid_token"`)
			})
		})
	}
}
