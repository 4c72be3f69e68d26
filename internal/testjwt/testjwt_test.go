package testjwt

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
)

// An independent JOSE library must accept every token these helpers mint;
// otherwise scopegate's own tests would prove nothing.
func TestSignedTokensVerifyWithAnIndependentLibrary(t *testing.T) {
	now := time.Now()
	for _, alg := range Algorithms {
		t.Run(alg+" tokens verify with golang-jwt", func(t *testing.T) {
			k := CachedKey(alg, "k-"+alg)
			tok := k.Sign(Claims("https://idp", "alice", now, "read", "write"), nil)
			parsed, err := gjwt.Parse(tok, func(*gjwt.Token) (any, error) { return k.Public(), nil },
				gjwt.WithValidMethods([]string{alg}))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got := parsed.Header["kid"]; got != "k-"+alg {
				t.Errorf("kid = %v", got)
			}
			claims := parsed.Claims.(gjwt.MapClaims)
			if claims["scope"] != "read write" || claims["sub"] != "alice" {
				t.Errorf("claims = %v", claims)
			}
		})
		t.Run(alg+" tokens fail with another key", func(t *testing.T) {
			tok := CachedKey(alg, "a").Sign(map[string]any{"sub": "x"}, nil)
			other := NewKey(alg, "b")
			if _, err := gjwt.Parse(tok, func(*gjwt.Token) (any, error) { return other.Public(), nil },
				gjwt.WithValidMethods([]string{alg})); err == nil {
				t.Fatal("verified with the wrong key")
			}
		})
	}
}

func TestJWKCarriesTheFieldsOfItsKeyType(t *testing.T) {
	cases := map[string][]string{
		"RS256": {"kty", "n", "e", "alg", "kid", "use"},
		"ES512": {"kty", "crv", "x", "y", "alg", "kid", "use"},
		"EdDSA": {"kty", "crv", "x", "alg", "kid", "use"},
		"HS256": {"kty", "k", "alg", "kid", "use"},
	}
	for alg, fields := range cases {
		t.Run(alg+" JWK has "+strings.Join(fields, ","), func(t *testing.T) {
			var doc struct{ Keys []map[string]any }
			if err := json.Unmarshal(JWKS(CachedKey(alg, "x")), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Keys) != 1 {
				t.Fatalf("keys = %d", len(doc.Keys))
			}
			for _, f := range fields {
				if _, ok := doc.Keys[0][f]; !ok {
					t.Errorf("missing %q in %v", f, doc.Keys[0])
				}
			}
		})
	}
	t.Run("P-521 coordinates are 66 bytes", func(t *testing.T) {
		x := CachedKey("ES512", "x").JWK()["x"].(string)
		if len(x) != 88 { // 66 bytes unpadded base64url
			t.Errorf("len(x) = %d", len(x))
		}
	})
}

func TestHeaderOverridesReplaceAndRemoveMembers(t *testing.T) {
	k := CachedKey("ES256", "kid1")
	tok := k.Sign(map[string]any{"sub": "x"}, map[string]any{"kid": nil, "typ": "at+jwt", "crit": []string{"b64"}})
	p, _, err := gjwt.NewParser().ParseUnverified(tok, gjwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Header["kid"]; ok {
		t.Error("kid not removed")
	}
	if p.Header["typ"] != "at+jwt" || p.Header["crit"] == nil {
		t.Errorf("header = %v", p.Header)
	}
	if k.WithKid("other").Kid != "other" || k.Kid != "kid1" {
		t.Error("WithKid must copy")
	}
	if got := len(JWKSOf()); got != len(`{"keys":[]}`) {
		t.Errorf("empty JWKS = %s", JWKSOf())
	}
}
