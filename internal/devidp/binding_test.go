package devidp

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/testcert"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// postTokenWith posts form to the token endpoint with extra headers
// (alternating name, value) through client.
func postTokenWith(t *testing.T, client *http.Client, base string, form url.Values, headers ...string) (int, tokenResponse, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatal(err)
	}
	var cnf map[string]any
	if tr.AccessToken != "" {
		raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tr.AccessToken, ".")[1])
		var claims struct {
			Cnf map[string]any `json:"cnf"`
		}
		json.Unmarshal(raw, &claims)
		cnf = claims.Cnf
	}
	return resp.StatusCode, tr, cnf
}

func TestDPoPBoundTokens(t *testing.T) {
	_, base := newTestServer(t, Config{})
	client := testjwt.CachedKey("ES256", "dpop-client")
	form := passwordForm("Blog_with_scope", "with-scope-pass", "")
	now := time.Now()
	proof := func(method, htu string, iat time.Time) string { return client.DPoPProof(method, htu, "", "", iat) }

	t.Run("a token request with a proof gets a DPoP token bound to the proof's key", func(t *testing.T) {
		status, tr, cnf := postTokenWith(t, http.DefaultClient, base, form, "DPoP", proof("POST", base+"/token", now))
		if status != 200 || tr.TokenType != "DPoP" || cnf["jkt"] != client.Thumbprint() {
			t.Fatalf("status %d token_type %q cnf %v", status, tr.TokenType, cnf)
		}
		verify(t, base, tr.AccessToken, "RS256")
	})
	t.Run("the htu is compared without query and with the scheme and host in any case", func(t *testing.T) {
		htu := strings.Replace(base, "http://", "HTTP://", 1) + "/token?x=1"
		if status, tr, cnf := postTokenWith(t, http.DefaultClient, base, form, "DPoP", proof("POST", htu, now)); status != 200 || cnf["jkt"] == nil {
			t.Fatalf("status %d %+v", status, tr)
		}
	})
	t.Run("a token request without a proof gets an unbound Bearer token", func(t *testing.T) {
		status, tr, cnf := postTokenWith(t, http.DefaultClient, base, form)
		if status != 200 || tr.TokenType != "Bearer" || cnf != nil {
			t.Fatalf("status %d token_type %q cnf %v", status, tr.TokenType, cnf)
		}
	})
	replayed := proof("POST", base+"/token", now)
	postTokenWith(t, http.DefaultClient, base, form, "DPoP", replayed)
	for name, headers := range map[string][]string{
		"a replayed proof":          {"DPoP", replayed},
		"a proof for GET":           {"DPoP", proof("GET", base+"/token", now)},
		"a proof for another URI":   {"DPoP", proof("POST", base+"/jwks", now)},
		"a proof two minutes old":   {"DPoP", proof("POST", base+"/token", now.Add(-2*time.Minute))},
		"two proofs":                {"DPoP", proof("POST", base+"/token", now), "DPoP", proof("POST", base+"/token", now)},
		"a proof that is not a JWS": {"DPoP", "junk"},
		"a proof signed with HMAC":  {"DPoP", testjwt.CachedKey("HS256", "h").Sign(testjwt.DPoPClaims("POST", base+"/token", "", "", now), client.DPoPHeader())},
	} {
		t.Run(name+" is 400 invalid_dpop_proof", func(t *testing.T) {
			if status, tr, _ := postTokenWith(t, http.DefaultClient, base, form, headers...); status != 400 || tr.Error != "invalid_dpop_proof" {
				t.Fatalf("status %d %+v", status, tr)
			}
		})
	}
	t.Run("discovery lists the proof algorithms", func(t *testing.T) {
		var doc map[string]any
		getJSON(t, base+"/.well-known/openid-configuration", &doc)
		if algs, _ := doc["dpop_signing_alg_values_supported"].([]any); len(algs) == 0 || algs[0] != "ES256" {
			t.Fatalf("dpop_signing_alg_values_supported = %v", doc["dpop_signing_alg_values_supported"])
		}
	})
}

func TestCertificateBoundTokens(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	s, err := New(Config{Issuer: "https://" + ts.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = s
	ts.StartTLS()
	defer ts.Close()
	cert := testcert.NewCA("clients").Client("service")
	tr := ts.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	withCert := &http.Client{Transport: tr}
	form := url.Values{"grant_type": {"client_credentials"}}
	form.Set("client_id", "demo-service")
	form.Set("client_secret", "demo-service-secret")

	t.Run("a token requested over mTLS is bound to the client certificate", func(t *testing.T) {
		sum := testcert.SHA256(cert)
		status, resp, cnf := postTokenWith(t, withCert, ts.URL, form)
		if status != 200 || resp.TokenType != "Bearer" || cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
			t.Fatalf("status %d token_type %q cnf %v", status, resp.TokenType, cnf)
		}
	})
	t.Run("one requested over TLS without a certificate is unbound", func(t *testing.T) {
		if status, resp, cnf := postTokenWith(t, ts.Client(), ts.URL, form); status != 200 || cnf != nil {
			t.Fatalf("status %d %+v cnf %v", status, resp, cnf)
		}
	})
	t.Run("a proof over mTLS binds the token both ways", func(t *testing.T) {
		client := testjwt.CachedKey("ES256", "dpop-client")
		_, resp, cnf := postTokenWith(t, withCert, ts.URL, form, "DPoP", client.DPoPProof("POST", ts.URL+"/token", "", "", time.Now()))
		if resp.TokenType != "DPoP" || cnf["jkt"] != client.Thumbprint() || cnf["x5t#S256"] == nil {
			t.Fatalf("token_type %q cnf %v", resp.TokenType, cnf)
		}
	})
}
