package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	gjwt "github.com/golang-jwt/jwt/v5"
)

// benchPayload is shaped like a Keycloak access token.
const benchPayload = `{"exp":2000000000,"iat":1700000000,"jti":"2f3c1a9e-6a7b-4c1d-9e8f-0a1b2c3d4e5f","iss":"https://idp.example.com/realms/demo","aud":["orders-api","account"],"sub":"7c9e6679-7425-40de-944b-e07fc1f90ae7","typ":"Bearer","azp":"web","session_state":"b1e2c3d4-aaaa-bbbb-cccc-ddddeeeeffff","acr":"1","allowed-origins":["https://app.example.com"],"realm_access":{"roles":["offline_access","default-roles-demo","uma_authorization","admin"]},"resource_access":{"account":{"roles":["manage-account","view-profile"]}},"scope":"openid profile email kong_api_access orders:read","sid":"b1e2c3d4-aaaa-bbbb-cccc-ddddeeeeffff","email_verified":true,"name":"Alice Example","preferred_username":"alice","given_name":"Alice","family_name":"Example","email":"alice@example.com","https://example.com/roles":["editor"]}`

var benchValidator = Validator{Issuer: "https://idp.example.com/realms/demo", Audiences: []string{"orders-api"}, ClockSkew: time.Minute, RequireExp: true}

var benchNow = time.Unix(1_700_000_100, 0)

// stdlibVerifier returns the bare crypto check for alg over the same key and
// bytes, precomputing whatever a caller of crypto/* could precompute (the
// DER form of an ECDSA signature), so it is the floor our overhead is
// measured against.
func stdlibVerifier(b *testing.B, k *testKeys, alg Alg, raw string) func() bool {
	i := strings.LastIndexByte(raw, '.')
	input := []byte(raw[:i])
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	switch alg {
	case RS256:
		return func() bool {
			h := sha256.Sum256(input)
			return rsa.VerifyPKCS1v15(&k.rsa.PublicKey, crypto.SHA256, h[:], sig) == nil
		}
	case PS256:
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return func() bool {
			h := sha256.Sum256(input)
			return rsa.VerifyPSS(&k.rsa.PublicKey, crypto.SHA256, h[:], sig, opts) == nil
		}
	case ES256, ES384, ES512:
		pub := map[Alg]*ecdsa.PublicKey{ES256: &k.ec256.PublicKey, ES384: &k.ec384.PublicKey, ES512: &k.ec521.PublicKey}[alg]
		n := len(sig) / 2
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
		if err != nil {
			b.Fatal(err)
		}
		return func() bool {
			var h []byte
			switch alg {
			case ES256:
				s := sha256.Sum256(input)
				h = s[:]
			case ES384:
				s := sha512.Sum384(input)
				h = s[:]
			default:
				s := sha512.Sum512(input)
				h = s[:]
			}
			return ecdsa.VerifyASN1(pub, h, der)
		}
	case EdDSA:
		pub := k.ed.Public().(ed25519.PublicKey)
		return func() bool { return ed25519.Verify(pub, input, sig) }
	case HS256:
		return func() bool {
			m := hmac.New(sha256.New, k.hmac)
			m.Write(input)
			return hmac.Equal(m.Sum(nil), sig)
		}
	}
	b.Fatalf("no stdlib verifier for %v", alg)
	return nil
}

func golangJWTKey(k *testKeys, alg Alg) any {
	switch alg {
	case RS256, PS256:
		return &k.rsa.PublicKey
	case ES256:
		return &k.ec256.PublicKey
	case ES384:
		return &k.ec384.PublicKey
	case ES512:
		return &k.ec521.PublicKey
	case EdDSA:
		return k.ed.Public()
	case HS256:
		return k.hmac
	}
	return nil
}

// BenchmarkVerify measures a cache miss per algorithm: scopegate's
// Parse+Verify+Validate, the bare crypto check (stdlib, the baseline), and
// golang-jwt/v5's parse-and-verify with the equivalent claim checks.
func BenchmarkVerify(b *testing.B) {
	k := mustKeys(b)
	for _, alg := range []Alg{RS256, PS256, ES256, ES384, ES512, EdDSA, HS256} {
		raw := makeToken(`{"alg":"`+alg.String()+`","kid":"k1","typ":"JWT"}`, benchPayload, k.signer(alg))
		set := mustParseJWKS(b, jwks(k.jwkFor(alg, `"kid":"k1","use":"sig"`)), JWKSOptions{AllowOct: true})
		allowed := DefaultAlgs.With(HS256)
		b.Run(alg.String(), func(b *testing.B) {
			b.Run("scopegate", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					t, err := Parse(raw, 0)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := set.Verify(t, allowed); err != nil {
						b.Fatal(err)
					}
					if _, err := benchValidator.Validate(t.Payload, benchNow); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("stdlib", func(b *testing.B) { benchStdlib(b, k, alg, raw) })
			b.Run("golangjwt", func(b *testing.B) {
				key := golangJWTKey(k, alg)
				parser := gjwt.NewParser(gjwt.WithValidMethods([]string{alg.String()}), gjwt.WithIssuer(benchValidator.Issuer),
					gjwt.WithAudience("orders-api"), gjwt.WithLeeway(time.Minute), gjwt.WithExpirationRequired())
				keyFunc := func(*gjwt.Token) (any, error) { return key, nil }
				b.ReportAllocs()
				for b.Loop() {
					if _, err := parser.Parse(raw, keyFunc); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkParse measures decoding and strict checking without a signature
// check, against encoding/json decoding into maps (stdlib) and golang-jwt's
// ParseUnverified.
func BenchmarkParse(b *testing.B) {
	k := mustKeys(b)
	raw := makeToken(`{"alg":"RS256","kid":"k1","typ":"JWT"}`, benchPayload, k.signer(RS256))
	b.Run("scopegate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(raw, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			segs := strings.Split(raw, ".")
			var hdr, claims map[string]any
			h, err1 := base64.RawURLEncoding.DecodeString(segs[0])
			p, err2 := base64.RawURLEncoding.DecodeString(segs[1])
			_, err3 := base64.RawURLEncoding.DecodeString(segs[2])
			if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(h, &hdr) != nil || json.Unmarshal(p, &claims) != nil {
				b.Fatal("decode failed")
			}
		}
	})
	b.Run("golangjwt", func(b *testing.B) {
		parser := gjwt.NewParser()
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := parser.ParseUnverified(raw, gjwt.MapClaims{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkClaims measures the per-request checks that also run on a cache
// hit, against decoding the claims with encoding/json (stdlib).
func BenchmarkClaims(b *testing.B) {
	payload := []byte(benchPayload)
	b.Run("validate", func(b *testing.B) {
		b.Run("scopegate", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := benchValidator.Validate(payload, benchNow); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("stdlib", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var c struct {
					Iss, Sub      string
					Aud           any
					Exp, Nbf, Iat float64
				}
				if err := json.Unmarshal(payload, &c); err != nil || c.Iss != benchValidator.Issuer {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("scopes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if len(Scopes(payload, []string{"scope", "scp"})) != 5 {
				b.Fatal("scopes")
			}
		}
	})
	b.Run("claim_contains", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !ClaimContains(payload, "realm_access.roles", []string{"admin"}) {
				b.Fatal("claim")
			}
		}
	})
	b.Run("claim_header_value", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := ClaimHeaderValue(payload, "sub"); !ok {
				b.Fatal("claim")
			}
		}
	})
}

// BenchmarkParseJWKS measures the once-per-fetch cost of building keys.
func BenchmarkParseJWKS(b *testing.B) {
	k := mustKeys(b)
	data := jwks(k.jwkFor(RS256, `"kid":"r1","use":"sig","alg":"RS256"`), rsaJWK(&k.rsa2.PublicKey, `"kid":"r2","use":"sig"`),
		k.jwkFor(ES256, `"kid":"e1"`), k.jwkFor(EdDSA, `"kid":"d1"`))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseJWKS(data, JWKSOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseProof measures a DPoP proof's JOSE checks (parse, jwk,
// signature, claims, thumbprint) against the bare signature check of the
// same bytes (stdlib).
func BenchmarkParseProof(b *testing.B) {
	k := mustKeys(b)
	allowed := algSetOf(DefaultProofAlgs...)
	for _, alg := range []Alg{ES256, EdDSA} {
		raw := makeToken(k.proofHeader(alg), proofClaims, k.signer(alg))
		b.Run(alg.String(), func(b *testing.B) {
			b.Run("scopegate", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := ParseProof(raw, allowed, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("stdlib", func(b *testing.B) { benchStdlib(b, k, alg, raw) })
		})
	}
}

// benchStdlib is a "stdlib" baseline: the bare signature check of raw.
func benchStdlib(b *testing.B, k *testKeys, alg Alg, raw string) {
	verify := stdlibVerifier(b, k, alg, raw)
	b.ReportAllocs()
	for b.Loop() {
		if !verify() {
			b.Fatal("stdlib verification failed")
		}
	}
}
