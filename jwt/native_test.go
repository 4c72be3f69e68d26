package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"testing"
)

func TestSPKIIsWhatX509Marshals(t *testing.T) {
	k := mustKeys(t)
	odd := func(bits int) *big.Int {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return n.Add(n, big.NewInt(0x12345))
	}
	rsaKeys := map[string]*rsa.PublicKey{
		"a 2048-bit key":                  &k.rsa.PublicKey,
		"an 8192-bit modulus (long form)": {N: odd(8192), E: 65537},
		"a 2049-bit modulus":              {N: odd(2049), E: 3},
		"e = 2^31-1":                      {N: odd(3072), E: 1<<31 - 1},
	}
	for name, pub := range rsaKeys {
		t.Run("RSA "+name, func(t *testing.T) {
			set := mustParseJWKS(t, jwks(rsaJWK(pub, "")), JWKSOptions{})
			want, err := x509.MarshalPKIXPublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			if got := set.Keys[0].SPKI(); !bytes.Equal(got, want) {
				t.Fatalf("SPKI\n got %x\nwant %x", got, want)
			}
		})
	}
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		t.Run("EC "+curve.Params().Name, func(t *testing.T) {
			for i := 0; i < 20; i++ {
				priv, err := ecdsa.GenerateKey(curve, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				set := mustParseJWKS(t, jwks(ecJWK(&priv.PublicKey, "")), JWKSOptions{})
				want, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
				if err != nil {
					t.Fatal(err)
				}
				if got := set.Keys[0].SPKI(); !bytes.Equal(got, want) {
					t.Fatalf("SPKI\n got %x\nwant %x", got, want)
				}
			}
		})
	}
	t.Run("Ed25519 and HMAC keys have none", func(t *testing.T) {
		set := mustParseJWKS(t, jwks(k.jwkFor(EdDSA, ""), k.jwkFor(HS256, "")), JWKSOptions{AllowOct: true})
		for _, key := range set.Keys {
			if key.SPKI() != nil {
				t.Fatalf("%s key has an SPKI", key.Kty)
			}
		}
	})
}

// verifierCall is one question a fakeVerifier was asked.
type verifierCall struct {
	hash              string
	spki, sig, signed []byte
}

// fakeVerifier answers every question with verdict and records it.
type fakeVerifier struct {
	verdict Verdict
	calls   []verifierCall
}

func (f *fakeVerifier) VerifySignature(hash string, spki, sig, signed []byte) Verdict {
	f.calls = append(f.calls, verifierCall{hash, bytes.Clone(spki), bytes.Clone(sig), bytes.Clone(signed)})
	return f.verdict
}

func TestCheckSignatureAsksTheVerifierOnlyAboutRSAPKCS1AndECDSA(t *testing.T) {
	k := mustKeys(t)
	all := DefaultAlgs | hsAlgs
	hashes := map[Alg]string{RS256: "sha256", RS384: "sha384", RS512: "sha512", ES256: "sha256", ES384: "sha384", ES512: "sha512"}
	for _, alg := range allAlgs {
		set := mustParseJWKS(t, jwks(k.jwkFor(alg, `"kid":"k1"`)), JWKSOptions{AllowOct: true})
		raw := makeToken(`{"alg":"`+alg.String()+`","kid":"k1"}`, claimsBase, k.signer(alg))
		tk := mustParse(t, raw)
		if !NativeAlgs.Has(alg) {
			t.Run(alg.String()+" is checked in Go without asking", func(t *testing.T) {
				v := &fakeVerifier{verdict: Invalid}
				key, checks, err := set.VerifyWith(tk, all, v)
				if err != nil || key == nil || len(v.calls) != 0 || checks != (Checks{Go: 1}) {
					t.Fatalf("err %v, %d calls, checks %+v", err, len(v.calls), checks)
				}
			})
			continue
		}
		t.Run(alg.String()+" is asked with the hash, the key's SPKI, the signature and the signing input", func(t *testing.T) {
			v := &fakeVerifier{verdict: Valid}
			key, checks, err := set.VerifyWith(tk, all, v)
			if err != nil || key == nil || checks != (Checks{Native: 1}) || len(v.calls) != 1 {
				t.Fatalf("err %v, checks %+v, %d calls", err, checks, len(v.calls))
			}
			c := v.calls[0]
			if c.hash != hashes[alg] || !bytes.Equal(c.spki, set.Keys[0].SPKI()) || string(c.signed) != tk.signingInput {
				t.Fatalf("asked %q with key %x about %q", c.hash, c.spki, c.signed)
			}
			if alg >= ES256 && alg <= ES512 {
				var rs struct{ R, S *big.Int }
				if rest, err := asn1.Unmarshal(c.sig, &rs); err != nil || len(rest) != 0 {
					t.Fatalf("EC signature is not DER: %v", err)
				}
				size := len(tk.Signature) / 2
				if rs.R.Cmp(new(big.Int).SetBytes(tk.Signature[:size])) != 0 || rs.S.Cmp(new(big.Int).SetBytes(tk.Signature[size:])) != 0 {
					t.Fatal("DER signature holds another R or S")
				}
			} else if !bytes.Equal(c.sig, tk.Signature) {
				t.Fatal("RSA signature changed")
			}
		})
	}
}

func TestCheckSignatureFollowsTheVerdict(t *testing.T) {
	k := mustKeys(t)
	set := mustParseJWKS(t, jwks(k.jwkFor(ES256, `"kid":"e"`), k.jwkFor(RS256, `"kid":"r"`)), JWKSOptions{})
	good := mustParse(t, makeToken(`{"alg":"RS256","kid":"r"}`, claimsBase, k.signer(RS256)))
	forged := mustParse(t, makeToken(`{"alg":"RS256","kid":"r"}`, claimsBase, k.signerWith(RS256, k.rsa2)))
	cases := []struct {
		name    string
		verdict Verdict
		tok     *Token
		reason  Reason // ReasonNone: verified
		checks  Checks
	}{
		{"Valid is final: a signature by another key passes", Valid, forged, ReasonNone, Checks{Native: 1}},
		{"Invalid is final: a genuine signature is rejected without Go", Invalid, good, ReasonBadSignature, Checks{Native: 1}},
		{"Fallback lets Go verify a genuine signature", Fallback, good, ReasonNone, Checks{Go: 1}},
		{"Fallback lets Go reject a forged one", Fallback, forged, ReasonBadSignature, Checks{Go: 1}},
		{"Unverifiable rejects as unverifiable, and Go is not asked", Unverifiable, good, ReasonUnverifiable, Checks{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &fakeVerifier{verdict: c.verdict}
			_, checks, err := set.VerifyWith(c.tok, DefaultAlgs, v)
			if c.reason == ReasonNone && err != nil {
				t.Fatalf("err %v", err)
			}
			if c.reason != ReasonNone {
				wantReason(t, err, c.reason)
			}
			if checks != c.checks || len(v.calls) != 1 {
				t.Fatalf("checks %+v, %d calls; want %+v, 1", checks, len(v.calls), c.checks)
			}
		})
	}
	t.Run("a token without kid tried against two keys counts both checks", func(t *testing.T) {
		two := mustParseJWKS(t, jwks(rsaJWK(&k.rsa2.PublicKey, ""), rsaJWK(&k.rsa.PublicKey, "")), JWKSOptions{})
		tok := mustParse(t, makeToken(`{"alg":"RS256"}`, claimsBase, k.signer(RS256)))
		_, checks, err := two.VerifyWith(tok, DefaultAlgs, &fakeVerifier{verdict: Fallback})
		if err != nil || checks != (Checks{Go: 2}) {
			t.Fatalf("err %v, checks %+v", err, checks)
		}
		key, checks, err := two.VerifyWith(tok, DefaultAlgs, &keyedVerifier{valid: two.Keys[1].SPKI()})
		if err != nil || key != two.Keys[1] || checks != (Checks{Native: 2}) {
			t.Fatalf("key %v err %v, checks %+v", key, err, checks)
		}
	})
	t.Run("an unverifiable check does not hide a later key that verifies", func(t *testing.T) {
		two := mustParseJWKS(t, jwks(rsaJWK(&k.rsa2.PublicKey, ""), rsaJWK(&k.rsa.PublicKey, "")), JWKSOptions{})
		tok := mustParse(t, makeToken(`{"alg":"RS256"}`, claimsBase, k.signer(RS256)))
		v := &perKeyVerifier{verdicts: map[string]Verdict{string(two.Keys[0].SPKI()): Unverifiable, string(two.Keys[1].SPKI()): Valid}}
		key, checks, err := two.VerifyWith(tok, DefaultAlgs, v)
		if err != nil || key != two.Keys[1] || checks != (Checks{Native: 1}) {
			t.Fatalf("key %v err %v checks %+v; want the second key, Native 1", key, err, checks)
		}
		v.verdicts[string(two.Keys[1].SPKI())] = Invalid
		if _, _, err := two.VerifyWith(tok, DefaultAlgs, v); ReasonOf(err) != ReasonUnverifiable {
			t.Fatalf("unverifiable then invalid: err %v, want unverifiable", err)
		}
	})
}

// perKeyVerifier answers each key's check with its verdict.
type perKeyVerifier struct{ verdicts map[string]Verdict }

func (v *perKeyVerifier) VerifySignature(_ string, spki, _, _ []byte) Verdict {
	return v.verdicts[string(spki)]
}

// keyedVerifier says Valid for one key and Invalid for every other.
type keyedVerifier struct{ valid []byte }

func (v *keyedVerifier) VerifySignature(_ string, spki, _, _ []byte) Verdict {
	if bytes.Equal(spki, v.valid) {
		return Valid
	}
	return Invalid
}

func TestCheckSignatureJudgesLengthAndRangeBeforeAsking(t *testing.T) {
	k := mustKeys(t)
	set := mustParseJWKS(t, jwks(k.jwkFor(ES256, `"kid":"e"`), k.jwkFor(RS256, `"kid":"r"`), k.jwkFor(ES512, `"kid":"p"`)), JWKSOptions{})
	n256 := elliptic.P256().Params().N
	n521 := elliptic.P521().Params().N
	raw := func(r, s *big.Int, size int) func([]byte) []byte {
		return func([]byte) []byte {
			out := make([]byte, 2*size)
			r.FillBytes(out[:size])
			s.FillBytes(out[size:])
			return out
		}
	}
	one := big.NewInt(1)
	nMinus1 := new(big.Int).Sub(n256, one)
	cases := []struct {
		name   string
		header string
		sign   func([]byte) []byte
		asked  bool
	}{
		{"an RSA signature one byte short is rejected unasked", `{"alg":"RS256","kid":"r"}`, func(in []byte) []byte { return k.signer(RS256)(in)[1:] }, false},
		{"an RSA signature one byte long is rejected unasked", `{"alg":"RS256","kid":"r"}`, func(in []byte) []byte { return append(k.signer(RS256)(in), 0) }, false},
		{"its right-length twin is asked", `{"alg":"RS256","kid":"r"}`, k.signer(RS256), true},
		{"R = 0 is rejected unasked", `{"alg":"ES256","kid":"e"}`, raw(new(big.Int), one, 32), false},
		{"S = 0 is rejected unasked", `{"alg":"ES256","kid":"e"}`, raw(one, new(big.Int), 32), false},
		{"R = n is rejected unasked", `{"alg":"ES256","kid":"e"}`, raw(n256, one, 32), false},
		{"S = n is rejected unasked", `{"alg":"ES256","kid":"e"}`, raw(one, n256, 32), false},
		{"R = S = n-1 is asked", `{"alg":"ES256","kid":"e"}`, raw(nMinus1, nMinus1, 32), true},
		{"R = S = 1 is asked", `{"alg":"ES256","kid":"e"}`, raw(one, one, 32), true},
		{"a P-521 R = n is rejected unasked", `{"alg":"ES512","kid":"p"}`, raw(n521, one, 66), false},
		{"a DER signature is rejected unasked", `{"alg":"ES256","kid":"e"}`, func(in []byte) []byte {
			r, s := new(big.Int).SetBytes(k.signer(ES256)(in)[:32]), big.NewInt(7)
			der, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
			return der
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &fakeVerifier{verdict: Valid}
			tok := mustParse(t, makeToken(c.header, claimsBase, c.sign))
			_, checks, err := set.VerifyWith(tok, DefaultAlgs, v)
			if asked := len(v.calls) == 1; asked != c.asked {
				t.Fatalf("asked %v, want %v", asked, c.asked)
			}
			if c.asked {
				if err != nil || checks != (Checks{Native: 1}) {
					t.Fatalf("err %v checks %+v", err, checks)
				}
				return
			}
			wantReason(t, err, ReasonBadSignature)
			if checks != (Checks{Go: 1}) {
				t.Fatalf("checks %+v, want one Go check", checks)
			}
		})
	}
}

func TestCheckSignatureRefusesAnAlgorithmNotTheKeys(t *testing.T) {
	k := mustKeys(t)
	set := mustParseJWKS(t, jwks(k.jwkFor(RS256, `"alg":"RS256"`)), JWKSOptions{})
	v := &fakeVerifier{verdict: Valid}
	sig := k.signer(RS384)([]byte("a.b"))
	if c := set.Keys[0].CheckSignature(RS384, "a.b", sig, v); c.Valid || len(v.calls) != 0 {
		t.Fatalf("check %+v with %d calls for an algorithm the key does not declare", c, len(v.calls))
	}
	if c := set.Keys[0].CheckSignature(RS256, "a.b", k.signer(RS256)([]byte("a.b")), nil); !c.Valid || c.Native {
		t.Fatalf("twin: %+v", c)
	}
	var nilKey *Key
	if c := nilKey.CheckSignature(RS256, "a.b", sig, v); c.Valid {
		t.Fatal("a nil key verified")
	}
}
