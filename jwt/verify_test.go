package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"github.com/scopegate/scopegate/internal/testjwt"
	"math/big"
	"testing"
	"time"
)

// flipLast changes the last signature character so the signature bytes
// differ but stay canonical base64url.
func flipLast(raw string) string {
	b := []byte(raw)
	i := len(b) - 1
	// Keep trailing-bit canonicality: change a character two from the end.
	i--
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestKnownAnswerVectors(t *testing.T) {
	set := mustParseJWKS(t, testjwt.RFCJWKS, JWKSOptions{AllowOct: true})
	allowed := DefaultAlgs.With(HS256)
	for _, c := range []struct {
		name, raw, kty string
	}{
		{"RFC 7515 A.1 HS256 verifies", testjwt.RFC7515HS256, "oct"},
		{"RFC 7515 A.2 RS256 verifies", testjwt.RFC7515RS256, "RSA"},
		{"RFC 7515 A.3 ES256 verifies", testjwt.RFC7515ES256, "EC"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tk := mustParse(t, c.raw)
			k, err := set.Verify(tk, allowed)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if k.Kty != c.kty {
				t.Fatalf("verified by %s key, want %s", k.Kty, c.kty)
			}
			v := Validator{Issuer: "joe", RequireExp: true}
			claims, err := v.Validate(tk.Payload, time.Unix(1300819380, 0))
			if err != nil || claims.Iss != "joe" || claims.Exp != 1300819380 {
				t.Fatalf("Validate = %+v, %v", claims, err)
			}
			if !ClaimContains(tk.Payload, `http://example\.com/is_root`, []string{"true"}) {
				t.Fatalf("escaped claim path did not find is_root")
			}
			_, err = set.Verify(mustParse(t, flipLast(c.raw)), allowed)
			wantReason(t, err, ReasonBadSignature)
		})
	}
	for _, c := range []struct {
		name, kid, input, sig string
		alg                   Alg
	}{
		{"RFC 8037 A.4 Ed25519 verifies at the signature level", "a4", testjwt.RFC8037Input, testjwt.RFC8037Sig, EdDSA},
		{"RFC 7515 A.4 ES512 verifies at the signature level", "a5", testjwt.RFC7515ES512In, testjwt.RFC7515ES512, ES512},
		{"RFC 7520 4.4 HS256 verifies at the signature level", "018c0ae5-4d9b-471b-bfd6-eef314bc7037", testjwt.RFC7520HS256In, testjwt.RFC7520HS256, HS256},
	} {
		t.Run(c.name, func(t *testing.T) {
			var k *Key
			for _, kk := range set.Keys {
				if kk.Kid == c.kid {
					k = kk
				}
			}
			if k == nil || !k.Algs().Has(c.alg) {
				t.Fatalf("no key %s for %v", c.kid, c.alg)
			}
			sig, ok := decodeB64String(c.sig)
			if !ok {
				t.Fatal("vector signature is not canonical base64url")
			}
			if !verifySignature(k, c.alg, c.input, sig) {
				t.Fatal("signature did not verify")
			}
			sig[len(sig)/2] ^= 1
			if verifySignature(k, c.alg, c.input, sig) {
				t.Fatal("tampered signature verified")
			}
			// Its payload is text, not a claims set, so it is no JWT.
			_, err := Parse(c.input+"."+c.sig, 0)
			wantReason(t, err, ReasonMalformed)
		})
	}
}

var allAlgs = []Alg{RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, HS256, HS384, HS512}

func TestVerifyEveryAlgorithmWithGeneratedKeys(t *testing.T) {
	k := mustKeys(t)
	all := DefaultAlgs | hsAlgs
	for _, alg := range allAlgs {
		t.Run(alg.String()+" verifies and a changed payload does not", func(t *testing.T) {
			set := mustParseJWKS(t, jwks(k.jwkFor(alg, `"kid":"k1"`)), JWKSOptions{AllowOct: true})
			good := makeToken(`{"alg":"`+alg.String()+`","kid":"k1"}`, claimsBase, k.signer(alg))
			if _, err := set.Verify(mustParse(t, good), all); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			parts := bytes.Split([]byte(good), []byte("."))
			forged := string(parts[0]) + "." + b64str(`{"sub":"mallory","exp":2000000000}`) + "." + string(parts[2])
			_, err := set.Verify(mustParse(t, forged), all)
			wantReason(t, err, ReasonBadSignature)
		})
	}
}

func TestVerifyBindsTheAlgorithmToTheKey(t *testing.T) {
	k := mustKeys(t)
	all := DefaultAlgs | hsAlgs
	rsaSet := mustParseJWKS(t, jwks(rsaJWK(&k.rsa.PublicKey, `"kid":"r","alg":"RS256"`)), JWKSOptions{})
	t.Run("a key declared RS256 does not verify PS256", func(t *testing.T) {
		bad := makeToken(`{"alg":"PS256","kid":"r"}`, claimsBase, k.signer(PS256))
		_, err := rsaSet.Verify(mustParse(t, bad), all)
		wantReason(t, err, ReasonNoKey)
		good := makeToken(`{"alg":"RS256","kid":"r"}`, claimsBase, k.signer(RS256))
		if _, err := rsaSet.Verify(mustParse(t, good), all); err != nil {
			t.Fatalf("twin: %v", err)
		}
	})
	t.Run("an RSA key never verifies HS256 made with its public key as secret", func(t *testing.T) {
		undeclared := mustParseJWKS(t, jwks(rsaJWK(&k.rsa.PublicKey, `"kid":"r"`)), JWKSOptions{AllowOct: true})
		secret := k.rsa.PublicKey.N.Bytes()
		bad := makeToken(`{"alg":"HS256","kid":"r"}`, claimsBase, k.signerWith(HS256, secret))
		_, err := undeclared.Verify(mustParse(t, bad), all)
		wantReason(t, err, ReasonNoKey)
		good := makeToken(`{"alg":"PS384","kid":"r"}`, claimsBase, k.signer(PS384))
		if _, err := undeclared.Verify(mustParse(t, good), all); err != nil {
			t.Fatalf("twin: %v", err)
		}
	})
	t.Run("HS256 is refused unless the caller allows it", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(octJWK(k.hmac, `"kid":"h"`)), JWKSOptions{AllowOct: true})
		raw := makeToken(`{"alg":"HS256","kid":"h"}`, claimsBase, k.signer(HS256))
		_, err := set.Verify(mustParse(t, raw), DefaultAlgs)
		wantReason(t, err, ReasonUnsupportedAlg)
		if _, err := set.Verify(mustParse(t, raw), DefaultAlgs.With(HS256)); err != nil {
			t.Fatalf("twin: %v", err)
		}
	})
	t.Run("an algorithm outside the allowed set is refused", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(ecJWK(&k.ec256.PublicKey, "")), JWKSOptions{})
		raw := makeToken(`{"alg":"ES256"}`, claimsBase, k.signer(ES256))
		_, err := set.Verify(mustParse(t, raw), AlgSet(0).With(RS256))
		wantReason(t, err, ReasonUnsupportedAlg)
		if _, err := set.Verify(mustParse(t, raw), AlgSet(0).With(ES256)); err != nil {
			t.Fatalf("twin: %v", err)
		}
	})
	t.Run("an ES384 token is not verified by a P-256 key", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(ecJWK(&k.ec256.PublicKey, "")), JWKSOptions{})
		raw := makeToken(`{"alg":"ES384"}`, claimsBase, k.signer(ES384))
		_, err := set.Verify(mustParse(t, raw), all)
		wantReason(t, err, ReasonNoKey)
	})
	t.Run("a nil key set has no key", func(t *testing.T) {
		var set *KeySet
		raw := makeToken(`{"alg":"ES256"}`, claimsBase, k.signer(ES256))
		_, err := set.Verify(mustParse(t, raw), all)
		wantReason(t, err, ReasonNoKey)
	})
}

func TestVerifySelectsKeysByKid(t *testing.T) {
	k := mustKeys(t)
	signed := func(header string) *Token {
		return mustParse(t, makeToken(header, claimsBase, k.signer(RS256)))
	}
	t.Run("a kid that is not in the set is ErrUnknownKid even if a kid-less key would verify", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(rsaJWK(&k.rsa.PublicKey, "")), JWKSOptions{})
		_, err := set.Verify(signed(`{"alg":"RS256","kid":"new"}`), DefaultAlgs)
		if !errors.Is(err, ErrUnknownKid) {
			t.Fatalf("err = %v, want ErrUnknownKid", err)
		}
		if set.HasKid("new") {
			t.Fatalf("HasKid(new) on a kid-less set")
		}
		if _, err := set.Verify(signed(`{"alg":"RS256"}`), DefaultAlgs); err != nil {
			t.Fatalf("twin without kid: %v", err)
		}
	})
	t.Run("a kid is never tried against keys with another kid", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(rsaJWK(&k.rsa.PublicKey, `"kid":"old"`), rsaJWK(&k.rsa2.PublicKey, `"kid":"new"`)), JWKSOptions{})
		_, err := set.Verify(signed(`{"alg":"RS256","kid":"new"}`), DefaultAlgs)
		wantReason(t, err, ReasonBadSignature)
		key, err := set.Verify(signed(`{"alg":"RS256","kid":"old"}`), DefaultAlgs)
		if err != nil || key.Kid != "old" {
			t.Fatalf("twin: key %v, err %v", key, err)
		}
		if !set.HasKid("old") || !set.HasKid("new") || set.HasKid("other") {
			t.Fatalf("HasKid wrong")
		}
	})
	t.Run("a token without kid is tried against every fitting key", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(ecJWK(&k.ec256.PublicKey, `"kid":"ec"`), rsaJWK(&k.rsa2.PublicKey, `"kid":"a"`), rsaJWK(&k.rsa.PublicKey, `"kid":"b"`)), JWKSOptions{})
		key, err := set.Verify(signed(`{"alg":"RS256"}`), DefaultAlgs)
		if err != nil || key.Kid != "b" {
			t.Fatalf("key %v, err %v", key, err)
		}
	})
	t.Run("a kid whose key has the wrong type has no key", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(ecJWK(&k.ec256.PublicKey, `"kid":"x"`)), JWKSOptions{})
		_, err := set.Verify(signed(`{"alg":"RS256","kid":"x"}`), DefaultAlgs)
		wantReason(t, err, ReasonNoKey)
	})
	t.Run("two keys sharing a kid are both candidates", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(ecJWK(&k.ec256.PublicKey, `"kid":"x"`), rsaJWK(&k.rsa.PublicKey, `"kid":"x"`)), JWKSOptions{})
		if _, err := set.Verify(signed(`{"alg":"RS256","kid":"x"}`), DefaultAlgs); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("header jwk, jku, x5u and x5c do not select the key", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(rsaJWK(&k.rsa2.PublicKey, `"kid":"k"`)), JWKSOptions{})
		hdr := `{"alg":"RS256","kid":"k","jwk":` + rsaJWK(&k.rsa.PublicKey, "") + `,"jku":"https://evil.example/","x5u":"https://evil.example/","x5c":["AAAA"]}`
		_, err := set.Verify(signed(hdr), DefaultAlgs)
		wantReason(t, err, ReasonBadSignature)
	})
}

func TestVerifyRequiresRawECDSASignatures(t *testing.T) {
	k := mustKeys(t)
	set := mustParseJWKS(t, jwks(ecJWK(&k.ec256.PublicKey, ""), ecJWK(&k.ec384.PublicKey, "")), JWKSOptions{})
	t.Run("a DER signature is rejected and its raw twin accepted", func(t *testing.T) {
		der := func(input []byte) []byte {
			h := sha256.Sum256(input)
			sig, err := ecdsa.SignASN1(rand.Reader, k.ec256, h[:])
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}
		_, err := set.Verify(mustParse(t, makeToken(`{"alg":"ES256"}`, claimsBase, der)), DefaultAlgs)
		wantReason(t, err, ReasonBadSignature)
		if _, err := set.Verify(mustParse(t, makeToken(`{"alg":"ES256"}`, claimsBase, k.signer(ES256))), DefaultAlgs); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an ES384 signature of the P-256 size is rejected", func(t *testing.T) {
		short := func(input []byte) []byte { return k.signer(ES384)(input)[:64] }
		_, err := set.Verify(mustParse(t, makeToken(`{"alg":"ES384"}`, claimsBase, short)), DefaultAlgs)
		wantReason(t, err, ReasonBadSignature)
	})
	t.Run("a raw signature padded with a zero byte is rejected", func(t *testing.T) {
		padded := func(input []byte) []byte {
			sig := k.signer(ES256)(input)
			return append(append(append([]byte(nil), sig[:32]...), 0), sig[32:]...)
		}
		_, err := set.Verify(mustParse(t, makeToken(`{"alg":"ES256"}`, claimsBase, padded)), DefaultAlgs)
		wantReason(t, err, ReasonBadSignature)
	})
	t.Run("zero R and S are rejected", func(t *testing.T) {
		zero := func([]byte) []byte { return make([]byte, 64) }
		_, err := set.Verify(mustParse(t, makeToken(`{"alg":"ES256"}`, claimsBase, zero)), DefaultAlgs)
		wantReason(t, err, ReasonBadSignature)
	})
}

func TestRawToDERMatchesASN1(t *testing.T) {
	for _, size := range []int{32, 48, 66} {
		for i := 0; i < 200; i++ {
			raw := make([]byte, 2*size)
			rand.Read(raw)
			switch i % 4 {
			case 1:
				raw[0], raw[1] = 0, 0 // leading zeros in R
			case 2:
				raw[0] |= 0x80 // high bit needs a 0x00 prefix
				raw[size] |= 0x80
			case 3:
				clear(raw[size : 2*size-1]) // tiny S
			}
			want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:size]), new(big.Int).SetBytes(raw[size:])})
			if err != nil {
				t.Fatal(err)
			}
			if got := rawToDER(nil, raw[:size], raw[size:]); !bytes.Equal(got, want) {
				t.Fatalf("size %d case %d: got %x want %x", size, i%4, got, want)
			}
		}
	}
}

func TestEd25519KeyFromSeedMatchesPublicKey(t *testing.T) {
	// Guards the test helper: edJWK must publish the signer's public key.
	k := mustKeys(t)
	set := mustParseJWKS(t, jwks(edJWK(k.ed.Public().(ed25519.PublicKey), "")), JWKSOptions{})
	if !bytes.Equal(set.Keys[0].Public.(ed25519.PublicKey), k.ed.Public().(ed25519.PublicKey)) {
		t.Fatal("Ed25519 key differs")
	}
}
