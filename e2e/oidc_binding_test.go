package e2e

// Sender-constrained tokens from a real identity provider: panva's
// oidc-provider issues DPoP-bound tokens (RFC 9449) to a token request
// carrying a proof, and certificate-bound tokens (RFC 8705) to a client
// registered for them; the compiled filter accepts each only with a fresh
// proof from its key, or over TLS with its certificate.

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testcert"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// oidcBoundToken runs the client-credentials grant for client with extra
// request headers and returns the token and its token_type.
func (p *oidcProvider) oidcBoundToken(t *testing.T, client string, headers map[string]string) (token, tokenType string) {
	t.Helper()
	return p.oidcTokenRequest(t, client, url.Values{"grant_type": {"client_credentials"}, "scope": {"kong_api_access"}}, headers)
}

// oidcCnf returns the cnf claim of a token.
func oidcCnf(t *testing.T, tok string) map[string]any {
	t.Helper()
	cnf, _ := oidcSegment(t, tok, 1)["cnf"].(map[string]any)
	return cnf
}

// oidcDPoPCall sends GET /api/orders with Authorization: DPoP and the proofs.
func oidcDPoPCall(t *testing.T, h *host.Host, token string, proofs ...string) host.Decision {
	t.Helper()
	headers := [][2]string{{"authorization", "DPoP " + token}}
	for _, p := range proofs {
		headers = append(headers, [2]string{"dpop", p})
	}
	return oidcGet(t, h, headers)
}

func TestOIDCProviderDPoPBoundTokens(t *testing.T) {
	oidcSetup(t)
	p := oidcStart(t, "ES256")
	h := oidcHost(t, p.Issuer)
	client := testjwt.NewKey("ES256", "")
	const api = "http://api.example/api/orders"

	tok, tokenType := p.oidcBoundToken(t, "scopegate-e2e", map[string]string{
		"DPoP": client.DPoPProof("POST", p.Issuer+"/token", "", "", time.Now()),
	})
	if cnf := oidcCnf(t, tok); tokenType != "DPoP" || cnf["jkt"] != client.Thumbprint() {
		t.Fatalf("oidc-provider issued token_type %q cnf %v; want DPoP bound to %s", tokenType, cnf, client.Thumbprint())
	}
	t.Run("the DPoP-bound token is accepted with a fresh proof from its key", func(t *testing.T) {
		oidcWantAllowed(t, oidcDPoPCall(t, h, tok, client.DPoPProof("GET", api, tok, "", time.Now())))
	})
	t.Run("and again with the next fresh proof (the token now from the cache)", func(t *testing.T) {
		oidcWantAllowed(t, oidcDPoPCall(t, h, tok, client.DPoPProof("GET", api, tok, "", time.Now())))
		if hits, _ := h.Metric("scopegate.cache.hit"); hits == 0 {
			t.Error("the token was verified again instead of served from the cache")
		}
	})
	t.Run("a replayed proof is refused", func(t *testing.T) {
		proof := client.DPoPProof("GET", api, tok, "", time.Now())
		oidcWantAllowed(t, oidcDPoPCall(t, h, tok, proof))
		oidcWantDenied(t, oidcDPoPCall(t, h, tok, proof), 401, `DPoP error="invalid_dpop_proof"`)
		if !oidcLogged(h, "DPoP proof was already used (jti replay)") {
			t.Error("no log line names the replay")
		}
	})
	t.Run("the token used as a bearer token is refused", func(t *testing.T) {
		oidcWantDenied(t, oidcCall(t, h, tok), 401, `DPoP error="invalid_dpop_proof"`)
	})
	t.Run("a proof by another key is refused", func(t *testing.T) {
		thief := testjwt.NewKey("ES256", "")
		oidcWantDenied(t, oidcDPoPCall(t, h, tok, thief.DPoPProof("GET", api, tok, "", time.Now())), 401, `DPoP error="invalid_dpop_proof"`)
	})
	t.Run("the token request's own proof (htm POST, htu the token endpoint, no ath) is refused", func(t *testing.T) {
		oidcWantDenied(t, oidcDPoPCall(t, h, tok, client.DPoPProof("POST", p.Issuer+"/token", "", "", time.Now())), 401, `DPoP error="invalid_dpop_proof"`)
	})
	t.Run("a request without a proof is refused", func(t *testing.T) {
		oidcWantDenied(t, oidcDPoPCall(t, h, tok), 401, `DPoP error="invalid_dpop_proof"`)
		if n, _ := h.Metric("scopegate.denied.invalid.dpop"); n < 4 {
			t.Errorf("scopegate.denied.invalid.dpop = %d", n)
		}
	})
	t.Run("an unbound token from the same provider still passes as Bearer", func(t *testing.T) {
		plain := p.oidcToken(t, "kong_api_access", "")
		if oidcCnf(t, plain) != nil {
			t.Fatal("a token requested without a proof is bound")
		}
		oidcWantAllowed(t, oidcCall(t, h, plain))
	})
}

// The certificate-bound token of oidc-provider through the local proxy's
// TLS listener: accepted over the certificate it is bound to, refused over
// another or none.
func TestOIDCProviderCertificateBoundTokens(t *testing.T) {
	oidcSetup(t)
	p := oidcStart(t, "RS256")
	ca := testcert.NewCA("e2e clients")
	cert, other := ca.Client("service"), ca.Client("intruder")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	tok, _ := p.oidcBoundToken(t, "scopegate-e2e-mtls", map[string]string{"x-client-cert": url.PathEscape(string(pemCert))})
	sum := testcert.SHA256(cert)
	if cnf := oidcCnf(t, tok); cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Fatalf("oidc-provider bound the token to %v", cnf)
	}

	up := newUpstream(t)
	h, err := host.New(context.Background(), host.Config{
		Module: filterModule(t), PluginConfig: oidcPluginConfig(p.Issuer),
		Clusters: map[string]string{"oidc": p.Issuer}, Upstream: up.URL, Workers: 2, Log: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	srv := httptest.NewUnstartedServer(h.Handler())
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	call := func(certs ...tls.Certificate) (int, string) {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = certs
		req, _ := http.NewRequest("GET", srv.URL+"/api/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	t.Run("over TLS with the certificate the token is bound to it is allowed", func(t *testing.T) {
		if status, www := call(cert); status != 200 {
			t.Fatalf("status %d %s", status, www)
		}
		if got := up.last(t).Header.Get("Authorization"); got != "" {
			t.Error("the token reached the upstream")
		}
	})
	t.Run("over TLS with another certificate it is 401 invalid_token", func(t *testing.T) {
		if status, www := call(other); status != 401 || !strings.HasPrefix(www, `Bearer error="invalid_token"`) {
			t.Fatalf("status %d %s", status, www)
		}
	})
	t.Run("over TLS without a certificate it is 401 invalid_token", func(t *testing.T) {
		if status, www := call(); status != 401 || !strings.HasPrefix(www, `Bearer error="invalid_token"`) {
			t.Fatalf("status %d %s", status, www)
		}
		if n, _ := h.Metric("scopegate.denied.invalid.certificate"); n != 2 {
			t.Errorf("scopegate.denied.invalid.certificate = %d, want 2", n)
		}
	})
}
