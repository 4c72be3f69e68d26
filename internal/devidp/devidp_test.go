package devidp

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gojwt "github.com/golang-jwt/jwt/v5"
)

// newTestServer starts a provider over real HTTP and returns it with its URL.
func newTestServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg.Issuer = "http://" + ts.Listener.Addr().String()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = s
	ts.Start()
	t.Cleanup(ts.Close)
	return s, ts.URL
}

// tokenResponse is the token endpoint's answer, success or error.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

func postToken(t *testing.T, base string, form url.Values, basicUser, basicPass string) (int, tokenResponse) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		t.Fatalf("token response is not JSON: %v", err)
	}
	return resp.StatusCode, tr
}

func passwordForm(user, pass, scope string) url.Values {
	f := url.Values{"grant_type": {"password"}, "client_id": {"demo-cli"}, "username": {user}, "password": {pass}}
	if scope != "" {
		f.Set("scope", scope)
	}
	return f
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// publicKeys turns the provider's published JWKS into Go public keys by kid,
// independently of the code that produced it.
func publicKeys(t *testing.T, base string) map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	getJSON(t, base+"/jwks", &doc)
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("JWK member is not unpadded base64url: %q", s)
		}
		return b
	}
	out := map[string]any{}
	for _, k := range doc.Keys {
		if k["use"] != "sig" || k["kid"] == "" || k["alg"] == "" {
			t.Fatalf("JWK lacks use/kid/alg: %v", k)
		}
		switch k["kty"] {
		case "RSA":
			out[k["kid"]] = &rsa.PublicKey{N: new(big.Int).SetBytes(dec(k["n"])), E: int(new(big.Int).SetBytes(dec(k["e"])).Int64())}
		case "EC":
			curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[k["crv"]]
			pub, err := ecdsa.ParseUncompressedPublicKey(curve, append([]byte{4}, append(dec(k["x"]), dec(k["y"])...)...))
			if err != nil {
				t.Fatalf("EC JWK %s: %v", k["kid"], err)
			}
			out[k["kid"]] = pub
		case "OKP":
			out[k["kid"]] = ed25519.PublicKey(dec(k["x"]))
		default:
			t.Fatalf("unexpected kty %q", k["kty"])
		}
	}
	return out
}

// verify checks tok's signature against the published JWKS with an
// independent JWT library and returns its claims.
func verify(t *testing.T, base, tok, alg string) gojwt.MapClaims {
	t.Helper()
	keys := publicKeys(t, base)
	claims := gojwt.MapClaims{}
	parsed, err := gojwt.ParseWithClaims(tok, claims, func(tk *gojwt.Token) (any, error) {
		k, ok := keys[tk.Header["kid"].(string)]
		if !ok {
			return nil, gojwt.ErrTokenUnverifiable
		}
		return k, nil
	}, gojwt.WithValidMethods([]string{alg}))
	if err != nil {
		t.Fatalf("token does not verify against the JWKS: %v", err)
	}
	if parsed.Header["typ"] != "at+jwt" {
		t.Errorf("typ header = %v, want at+jwt (RFC 9068)", parsed.Header["typ"])
	}
	return claims
}

func TestEveryAlgorithmSignsTokensTheJWKSVerifies(t *testing.T) {
	for _, alg := range Algorithms {
		t.Run(alg+" tokens verify with an independent library", func(t *testing.T) {
			_, base := newTestServer(t, Config{Alg: alg})
			status, tr := postToken(t, base, passwordForm("Blog_with_scope", "with-scope-pass", ""), "", "")
			if status != 200 {
				t.Fatalf("status %d: %+v", status, tr)
			}
			verify(t, base, tr.AccessToken, alg)
		})
	}
}

func TestDiscoveryDocumentPointsAtTheEndpoints(t *testing.T) {
	s, base := newTestServer(t, Config{Alg: "ES256"})
	var doc map[string]any
	getJSON(t, base+"/.well-known/openid-configuration", &doc)
	want := map[string]string{"issuer": base, "jwks_uri": base + "/jwks", "token_endpoint": base + "/token"}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("%s = %v, want %s", k, doc[k], v)
		}
	}
	if s.Issuer() != base {
		t.Errorf("Issuer() = %s, want %s", s.Issuer(), base)
	}
	grants, _ := json.Marshal(doc["grant_types_supported"])
	if string(grants) != `["password","client_credentials"]` {
		t.Errorf("grant_types_supported = %s", grants)
	}
	algs, _ := json.Marshal(doc["id_token_signing_alg_values_supported"])
	if string(algs) != `["ES256"]` {
		t.Errorf("signing algs = %s", algs)
	}
}

func TestPasswordGrant(t *testing.T) {
	_, base := newTestServer(t, Config{TokenTTL: 90 * time.Second})
	t.Run("the user whose group grants it gets kong_api_access", func(t *testing.T) {
		status, tr := postToken(t, base, passwordForm("Blog_with_scope", "with-scope-pass", ""), "", "")
		if status != 200 || tr.TokenType != "Bearer" || tr.ExpiresIn != 90 {
			t.Fatalf("status %d: %+v", status, tr)
		}
		c := verify(t, base, tr.AccessToken, "RS256")
		if !slices.Contains(strings.Fields(c["scope"].(string)), ScopeKongAPIAccess) {
			t.Errorf("scope = %q, want it to contain %s", c["scope"], ScopeKongAPIAccess)
		}
		if c["iss"] != base || c["aud"] != "scopegate-demo" || c["client_id"] != "demo-cli" {
			t.Errorf("iss/aud/client_id = %v/%v/%v", c["iss"], c["aud"], c["client_id"])
		}
		if c["sub"] != SubjectOf("Blog_with_scope") || c["preferred_username"] != "Blog_with_scope" {
			t.Errorf("sub/preferred_username = %v/%v", c["sub"], c["preferred_username"])
		}
		if c["jti"] == nil || c["iat"] == nil {
			t.Errorf("jti or iat missing: %v", c)
		}
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 90 {
			t.Errorf("exp - iat = %v, want 90", exp-iat)
		}
		roles, _ := json.Marshal(c["realm_access"])
		if string(roles) != `{"roles":["blog_readers","blog_api_access"]}` {
			t.Errorf("realm_access = %s", roles)
		}
	})
	t.Run("the user without the group does not get kong_api_access even when asking", func(t *testing.T) {
		status, tr := postToken(t, base, passwordForm("Blog_without_scope", "without-scope-pass", "openid kong_api_access"), "", "")
		if status != 200 {
			t.Fatalf("status %d: %+v", status, tr)
		}
		c := verify(t, base, tr.AccessToken, "RS256")
		if c["scope"] != "openid" || tr.Scope != "openid" {
			t.Errorf("scope = %q (response %q), want only openid", c["scope"], tr.Scope)
		}
	})
	t.Run("a requested scope narrows the token", func(t *testing.T) {
		_, tr := postToken(t, base, passwordForm("Blog_with_scope", "with-scope-pass", "kong_api_access"), "", "")
		if tr.Scope != "kong_api_access" {
			t.Errorf("scope = %q, want kong_api_access", tr.Scope)
		}
	})
	t.Run("a wrong password is invalid_grant", func(t *testing.T) {
		status, tr := postToken(t, base, passwordForm("Blog_with_scope", "nope", ""), "", "")
		if status != 400 || tr.Error != "invalid_grant" || tr.AccessToken != "" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
	t.Run("an unknown user is invalid_grant", func(t *testing.T) {
		status, tr := postToken(t, base, passwordForm("mallory", "with-scope-pass", ""), "", "")
		if status != 400 || tr.Error != "invalid_grant" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
	t.Run("an unknown client is invalid_client", func(t *testing.T) {
		f := passwordForm("Blog_with_scope", "with-scope-pass", "")
		f.Set("client_id", "who")
		status, tr := postToken(t, base, f, "", "")
		if status != 401 || tr.Error != "invalid_client" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
	t.Run("a client not allowed the password grant is unauthorized_client", func(t *testing.T) {
		status, tr := postToken(t, base, passwordForm("Blog_with_scope", "with-scope-pass", ""), "demo-service", "demo-service-secret")
		if status != 400 || tr.Error != "unauthorized_client" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
	t.Run("an unknown grant type is unsupported_grant_type", func(t *testing.T) {
		status, tr := postToken(t, base, url.Values{"grant_type": {"authorization_code"}, "client_id": {"demo-cli"}}, "", "")
		if status != 400 || tr.Error != "unsupported_grant_type" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
}

func TestClientCredentialsGrant(t *testing.T) {
	_, base := newTestServer(t, Config{Alg: "PS256"})
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"kong_api_access"}}
	t.Run("basic authentication yields a token with the client's scope", func(t *testing.T) {
		status, tr := postToken(t, base, cc, "demo-service", "demo-service-secret")
		if status != 200 {
			t.Fatalf("status %d: %+v", status, tr)
		}
		c := verify(t, base, tr.AccessToken, "PS256")
		if c["sub"] != "demo-service" || c["client_id"] != "demo-service" || c["scope"] != "kong_api_access" {
			t.Errorf("claims = %v", c)
		}
		if _, ok := c["realm_access"]; ok {
			t.Errorf("a client token has no user groups: %v", c)
		}
	})
	t.Run("form authentication works too", func(t *testing.T) {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-service"}, "client_secret": {"demo-service-secret"}}
		status, tr := postToken(t, base, f, "", "")
		if status != 200 || tr.Scope != "kong_api_access" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
	t.Run("a wrong secret is invalid_client", func(t *testing.T) {
		status, tr := postToken(t, base, cc, "demo-service", "wrong")
		if status != 401 || tr.Error != "invalid_client" || tr.AccessToken != "" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
	t.Run("a public client cannot use client_credentials", func(t *testing.T) {
		status, tr := postToken(t, base, url.Values{"grant_type": {"client_credentials"}, "client_id": {"demo-cli"}}, "", "")
		if status != 400 || tr.Error != "unauthorized_client" {
			t.Errorf("status %d: %+v", status, tr)
		}
	})
}

func TestRotation(t *testing.T) {
	post := func(t *testing.T, base string, form url.Values) Rotation {
		t.Helper()
		resp, err := http.PostForm(base+"/rotate", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("rotate: %d %s", resp.StatusCode, body)
		}
		var rot Rotation
		if err := json.Unmarshal(body, &rot); err != nil {
			t.Fatal(err)
		}
		return rot
	}
	kidsOf := func(t *testing.T, base string) []string {
		var kids []string
		for kid := range publicKeys(t, base) {
			kids = append(kids, kid)
		}
		slices.Sort(kids)
		return kids
	}
	t.Run("by default the old key is dropped and new tokens carry the new kid", func(t *testing.T) {
		s, base := newTestServer(t, Config{})
		old := s.SigningKid()
		rot := post(t, base, nil)
		if rot.Kid == old || !slices.Equal(rot.Kids, []string{rot.Kid}) {
			t.Fatalf("rotation = %+v, old kid %s", rot, old)
		}
		if got := kidsOf(t, base); !slices.Equal(got, []string{rot.Kid}) {
			t.Errorf("JWKS kids = %v, want only %s", got, rot.Kid)
		}
		_, tr := postToken(t, base, passwordForm("Blog_with_scope", "with-scope-pass", ""), "", "")
		tok, _, _ := gojwt.NewParser().ParseUnverified(tr.AccessToken, gojwt.MapClaims{})
		if tok.Header["kid"] != rot.Kid {
			t.Errorf("new token kid = %v, want %s", tok.Header["kid"], rot.Kid)
		}
		verify(t, base, tr.AccessToken, "RS256")
	})
	t.Run("keep_old publishes both keys, and alg switches the algorithm", func(t *testing.T) {
		s, base := newTestServer(t, Config{})
		old := s.SigningKid()
		rot := post(t, base, url.Values{"keep_old": {"true"}, "alg": {"EdDSA"}})
		if rot.Alg != "EdDSA" || !slices.Equal(rot.Kids, []string{rot.Kid, old}) {
			t.Fatalf("rotation = %+v, old kid %s", rot, old)
		}
		want := []string{rot.Kid, old}
		slices.Sort(want)
		if got := kidsOf(t, base); !slices.Equal(got, want) {
			t.Errorf("JWKS kids = %v, want %v", got, want)
		}
		_, tr := postToken(t, base, passwordForm("Blog_with_scope", "with-scope-pass", ""), "", "")
		verify(t, base, tr.AccessToken, "EdDSA")
	})
	t.Run("Config.KeepOldKeys keeps old keys without asking", func(t *testing.T) {
		s, base := newTestServer(t, Config{KeepOldKeys: true, Alg: "ES384"})
		old := s.SigningKid()
		rot := post(t, base, nil)
		if len(rot.Kids) != 2 || rot.Kids[1] != old || rot.Alg != "ES384" {
			t.Errorf("rotation = %+v", rot)
		}
	})
	t.Run("an unknown algorithm is refused and the key stays", func(t *testing.T) {
		s, base := newTestServer(t, Config{})
		old := s.SigningKid()
		resp, err := http.PostForm(base+"/rotate", url.Values{"alg": {"HS256"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || s.SigningKid() != old {
			t.Errorf("status %d, kid %s (old %s)", resp.StatusCode, s.SigningKid(), old)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("a config without issuer was accepted")
	}
	if _, err := New(Config{Issuer: "http://x", Alg: "none"}); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("alg none: err = %v", err)
	}
	if _, err := New(Config{Issuer: "http://x", Alg: "RS256"}); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
