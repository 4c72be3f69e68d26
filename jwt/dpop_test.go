package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
)

// Known answers: RFC 7638 §3.1 (an RSA key) and RFC 9449 §6.1 (the EC key
// of its examples, whose thumbprint the example token's cnf.jkt carries);
// RFC 9449 §7.1 hashes an example access token into ath.
const (
	rfc7638N          = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	rfc9449JWK        = `{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`
	rfc9449JKT        = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	rfc9449Token      = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	rfc9449ATH        = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
)

func TestThumbprintKnownAnswers(t *testing.T) {
	cases := []struct{ name, jwk, want string }{
		{"the RFC 7638 RSA example", `{"kty":"RSA","n":"` + rfc7638N + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`, rfc7638Thumbprint},
		{"the RFC 9449 EC example", rfc9449JWK, rfc9449JKT},
		{"the RFC 9449 EC example with members reordered, spaced and escaped",
			`{ "crv" : "P-256", "y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA", "k\u0074y":"EC", "x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs", "use":"sig" }`, rfc9449JKT},
	}
	for _, c := range cases {
		t.Run(c.name+" has its published thumbprint", func(t *testing.T) {
			got, err := Thumbprint([]byte(c.jwk))
			if err != nil || got != c.want {
				t.Fatalf("Thumbprint = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	t.Run("the RFC 9449 access token hashes to its published ath", func(t *testing.T) {
		if got := AccessTokenHash(rfc9449Token); got != rfc9449ATH {
			t.Fatalf("AccessTokenHash = %q, want %q", got, rfc9449ATH)
		}
	})
}

func TestThumbprintRejectsWhatItCannotHash(t *testing.T) {
	for name, jwk := range map[string]string{
		"not an object":           `["EC"]`,
		"no kty":                  `{"crv":"P-256","x":"a","y":"b"}`,
		"an unknown kty":          `{"kty":"XYZ","x":"a"}`,
		"a kty that is no string": `{"kty":1}`,
		"an EC key without y":     `{"kty":"EC","crv":"P-256","x":"a"}`,
		"an RSA e of a number":    `{"kty":"RSA","n":"a","e":65537}`,
		"duplicate members":       `{"kty":"OKP","crv":"Ed25519","x":"a","x":"b"}`,
		"invalid JSON":            `{"kty":"EC"`,
	} {
		t.Run(name+" is an error", func(t *testing.T) {
			if got, err := Thumbprint([]byte(jwk)); err == nil {
				t.Fatalf("Thumbprint = %q, want an error", got)
			}
		})
	}
	t.Run("while every key type with its members has one", func(t *testing.T) {
		k := mustKeys(t)
		for _, alg := range []Alg{RS256, ES256, ES384, ES512, EdDSA, HS256} {
			if _, err := Thumbprint([]byte(k.jwkFor(alg, ""))); err != nil {
				t.Errorf("%v: %v", alg, err)
			}
		}
	})
}

// proofHeader is a DPoP proof header for the primary test key of alg.
func (k *testKeys) proofHeader(alg Alg) string {
	return `{"typ":"dpop+jwt","alg":"` + alg.String() + `","jwk":` + k.jwkFor(alg, "") + `}`
}

const proofClaims = `{"jti":"e1j3V_bKic8-LAEB","htm":"GET","htu":"https://api.example.com/orders","iat":1800000000,"ath":"` + rfc9449ATH + `"}`

func TestParseProofAcceptsEveryDefaultAlgorithm(t *testing.T) {
	k := mustKeys(t)
	allowed := algSetOf(DefaultProofAlgs...)
	for _, alg := range DefaultProofAlgs {
		t.Run(alg.String()+" proofs parse with their key's thumbprint", func(t *testing.T) {
			jwk := k.jwkFor(alg, "")
			raw := makeToken(k.proofHeader(alg), proofClaims, k.signer(alg))
			p, err := ParseProof(raw, allowed, 0)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := Thumbprint([]byte(jwk))
			if p.Alg != alg || p.Thumbprint != want || p.JTI != "e1j3V_bKic8-LAEB" || p.HTM != "GET" ||
				p.HTU != "https://api.example.com/orders" || p.IAT != 1800000000 || !p.HasATH || p.HasNonce {
				t.Fatalf("proof = %+v", p)
			}
			if !p.BindsAccessToken(rfc9449Token) || p.BindsAccessToken(rfc9449Token+"x") {
				t.Error("ath binds the wrong token")
			}
		})
	}
}

func TestParseProofRejections(t *testing.T) {
	k := mustKeys(t)
	allowed := algSetOf(DefaultProofAlgs...)
	es := k.signer(ES256)
	ecPub := k.jwkFor(ES256, "")
	hdr := func(members string) string { return `{"typ":"dpop+jwt","alg":"ES256",` + members + `}` }
	ecD, err := k.ec256.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ecPriv := strings.TrimSuffix(ecPub, "}") + `,"d":"` + b64s(ecD) + `"}`
	rsaPriv := strings.TrimSuffix(k.jwkFor(RS256, ""), "}") + `,"d":"AQAB"}`
	edPriv := strings.TrimSuffix(k.jwkFor(EdDSA, ""), "}") + `,"d":"` + b64s(k.ed.Seed()) + `"}`
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []struct {
		name   string
		raw    string
		reason Reason
		twin   string // the same proof done right
	}{
		{"no typ", makeToken(`{"alg":"ES256","jwk":`+ecPub+`}`, proofClaims, es), ReasonMalformed, ""},
		{"typ JWT", makeToken(`{"typ":"JWT","alg":"ES256","jwk":`+ecPub+`}`, proofClaims, es), ReasonMalformed, ""},
		{"a typ that is not a string", makeToken(`{"typ":["dpop+jwt"],"alg":"ES256","jwk":`+ecPub+`}`, proofClaims, es), ReasonMalformed, ""},
		{"typ at+jwt", makeToken(`{"typ":"at+jwt","alg":"ES256","jwk":`+ecPub+`}`, proofClaims, es), ReasonMalformed,
			makeToken(`{"typ":"DPoP+JWT","alg":"ES256","jwk":`+ecPub+`}`, proofClaims, es)},
		{"alg none", b64str(`{"typ":"dpop+jwt","alg":"none","jwk":`+ecPub+`}`) + "." + b64str(proofClaims) + ".", ReasonUnsupportedAlg, ""},
		{"an HMAC alg with an oct jwk", makeToken(`{"typ":"dpop+jwt","alg":"HS256","jwk":`+k.jwkFor(HS256, "")+`}`, proofClaims, k.signer(HS256)), ReasonUnsupportedAlg, ""},
		{"an alg the caller does not allow", makeToken(k.proofHeader(ES384), proofClaims, k.signer(ES384)), ReasonUnsupportedAlg, ""},
		{"no jwk", makeToken(hdr(`"kid":"k1"`), proofClaims, es), ReasonMalformed, ""},
		{"a jwk that is a string", makeToken(hdr(`"jwk":"`+b64str(ecPub)+`"`), proofClaims, es), ReasonMalformed, ""},
		{"an EC jwk with its private d", makeToken(hdr(`"jwk":`+ecPriv), proofClaims, es), ReasonNoKey, ""},
		{"an RSA jwk with its private d", makeToken(`{"typ":"dpop+jwt","alg":"RS256","jwk":`+rsaPriv+`}`, proofClaims, k.signer(RS256)), ReasonNoKey,
			makeToken(k.proofHeader(RS256), proofClaims, k.signer(RS256))},
		{"an Ed25519 jwk with its private d", makeToken(`{"typ":"dpop+jwt","alg":"EdDSA","jwk":`+edPriv+`}`, proofClaims, k.signer(EdDSA)), ReasonNoKey,
			makeToken(k.proofHeader(EdDSA), proofClaims, k.signer(EdDSA))},
		{"a 1024-bit RSA jwk", makeToken(`{"typ":"dpop+jwt","alg":"RS256","jwk":`+rsaJWK(&smallRSA.PublicKey, "")+`}`, proofClaims, k.signerWith(RS256, smallRSA)), ReasonNoKey,
			makeToken(k.proofHeader(RS256), proofClaims, k.signer(RS256))},
		{"a P-384 jwk under ES256", makeToken(hdr(`"jwk":`+k.jwkFor(ES384, "")), proofClaims, es), ReasonUnsupportedAlg, ""},
		{"a signature by another key than the jwk", makeToken(hdr(`"jwk":`+ecPub), proofClaims, k.signerWith(ES256, otherEC)), ReasonBadSignature,
			makeToken(hdr(`"jwk":`+ecJWK(&otherEC.PublicKey, "")), proofClaims, k.signerWith(ES256, otherEC))},
		{"crit", makeToken(hdr(`"jwk":`+ecPub+`,"crit":["exp"]`), proofClaims, es), ReasonCrit, ""},
		{"two segments", b64str(k.proofHeader(ES256)) + "." + b64str(proofClaims), ReasonMalformed, ""},
		{"a duplicate typ", makeToken(hdr(`"jwk":`+ecPub+`,"typ":"JWT"`), proofClaims, es), ReasonMalformed, ""},
		{"no jti", makeToken(hdr(`"jwk":`+ecPub), `{"htm":"GET","htu":"https://a/","iat":1}`, es), ReasonBadClaim, ""},
		{"an empty jti", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"","htm":"GET","htu":"https://a/","iat":1}`, es), ReasonBadClaim, ""},
		{"no htm", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htu":"https://a/","iat":1}`, es), ReasonBadClaim, ""},
		{"an htm that is no string", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htm":1,"htu":"https://a/","iat":1}`, es), ReasonBadClaim, ""},
		{"no htu", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htm":"GET","iat":1}`, es), ReasonBadClaim, ""},
		{"an htu that is no string", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htm":"GET","htu":{},"iat":1}`, es), ReasonBadClaim, ""},
		{"no iat", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htm":"GET","htu":"https://a/"}`, es), ReasonBadClaim, ""},
		{"an iat string", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htm":"GET","htu":"https://a/","iat":"1"}`, es), ReasonBadClaim, ""},
		{"an ath number", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htm":"GET","htu":"https://a/","iat":1,"ath":1}`, es), ReasonBadClaim, ""},
		{"a nonce number", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","htm":"GET","htu":"https://a/","iat":1,"nonce":1}`, es), ReasonBadClaim, ""},
		{"a duplicate jti", makeToken(hdr(`"jwk":`+ecPub), `{"jti":"j","jti":"k","htm":"GET","htu":"https://a/","iat":1}`, es), ReasonMalformed, ""},
	}
	goodTwin := makeToken(hdr(`"jwk":`+ecPub), proofClaims, es)
	for _, c := range cases {
		t.Run("a proof with "+c.name+" is refused", func(t *testing.T) {
			p, err := ParseProof(c.raw, allowed&^AlgSet(0).With(ES384), 0)
			if p != nil {
				t.Fatal("a proof was returned with the error")
			}
			wantReason(t, err, c.reason)
			if !strings.HasPrefix(err.Error(), "DPoP proof") {
				t.Errorf("error %q does not say it is about the DPoP proof", err)
			}
		})
		twin := c.twin
		if twin == "" {
			twin = goodTwin
		}
		t.Run("while the same proof done right for "+c.name+" parses", func(t *testing.T) {
			if _, err := ParseProof(twin, allowed&^AlgSet(0).With(ES384), 0); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("a proof over the size bound is refused", func(t *testing.T) {
		big := makeToken(hdr(`"jwk":`+ecPub), `{"jti":"`+strings.Repeat("j", 600)+`","htm":"GET","htu":"https://a/","iat":1}`, es)
		_, err := ParseProof(big, allowed, 512)
		wantReason(t, err, ReasonTooLarge)
		if _, err := ParseProof(big, allowed, 0); err != nil {
			t.Fatalf("the default bound refused it: %v", err)
		}
	})
}

func TestReadConfirmation(t *testing.T) {
	jkt := rfc9449JKT
	x5t := "A4DtL2JmUMhAsvJj5tKyn64SqzmuXbMrJa0n761y5v0"
	cases := []struct {
		name    string
		payload string
		want    Confirmation
		err     bool
	}{
		{"no cnf is unbound", `{"sub":"a"}`, Confirmation{}, false},
		{"an empty cnf is unbound", `{"cnf":{}}`, Confirmation{}, false},
		{"cnf.jkt binds to a DPoP key", `{"cnf":{"jkt":"` + jkt + `"}}`, Confirmation{JKT: jkt}, false},
		{"cnf.x5t#S256 binds to a certificate", `{"cnf":{"x5t#S256":"` + x5t + `"}}`, Confirmation{X5TS256: x5t}, false},
		{"both bind to both", `{"cnf":{"x5t#S256":"` + x5t + `","jkt":"` + jkt + `"}}`, Confirmation{JKT: jkt, X5TS256: x5t}, false},
		{"a known method next to an unknown one is checked", `{"cnf":{"jkt":"` + jkt + `","kid":"x"}}`, Confirmation{JKT: jkt}, false},
		{"a cnf string is an error", `{"cnf":"` + jkt + `"}`, Confirmation{}, true},
		{"a jkt number is an error", `{"cnf":{"jkt":1}}`, Confirmation{}, true},
		{"a jkt of the wrong length is an error", `{"cnf":{"jkt":"` + jkt[:42] + `"}}`, Confirmation{}, true},
		{"a jkt with non-canonical trailing bits is an error", `{"cnf":{"jkt":"` + jkt[:42] + `J"}}`, Confirmation{}, true},
		{"a padded x5t#S256 is an error", `{"cnf":{"x5t#S256":"` + x5t + `="}}`, Confirmation{}, true},
		{"a jkt written with escapes is an error", `{"cnf":{"jkt":"\u0030` + jkt[1:] + `"}}`, Confirmation{}, true},
		{"only cnf.jwk (a binding not checked here) is an error", `{"cnf":{"jwk":{"kty":"EC"}}}`, Confirmation{}, true},
		{"only the SHA-1 cnf.x5t is an error", `{"cnf":{"x5t":"abc"}}`, Confirmation{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadConfirmation([]byte(c.payload))
			if (err != nil) != c.err || got != c.want {
				t.Fatalf("ReadConfirmation = %+v, %v", got, err)
			}
			if err != nil {
				wantReason(t, err, ReasonBadClaim)
			}
		})
	}
}

// FuzzParseProof checks that ParseProof never panics and that whatever it
// accepts is a proof encoding/json reads the same way: typ dpop+jwt, the
// claims it reports, and a jwk whose thumbprint it reports.
func FuzzParseProof(f *testing.F) {
	k := mustKeys(f)
	for _, alg := range DefaultProofAlgs {
		f.Add(makeToken(k.proofHeader(alg), proofClaims, k.signer(alg)))
	}
	f.Add(makeToken(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+k.jwkFor(ES256, "")+`}`, `{"jti":"j","htm":"GET","htu":"h","iat":1,"nonce":"n"}`, k.signer(ES256)))
	f.Add(makeToken(`{"typ":"dpop+jwt","alg":"HS256","jwk":`+k.jwkFor(HS256, "")+`}`, proofClaims, k.signer(HS256)))
	f.Add("a.b.c")
	allowed := algSetOf(DefaultProofAlgs...)
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := ParseProof(raw, allowed, 0)
		if err != nil {
			if p != nil {
				t.Fatal("proof returned with an error")
			}
			if ReasonOf(err) == ReasonNone {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		segs := strings.Split(raw, ".")
		hb, _ := b64.DecodeString(segs[0])
		pb, _ := b64.DecodeString(segs[1])
		var hdr struct {
			Typ string          `json:"typ"`
			JWK json.RawMessage `json:"jwk"`
		}
		var claims map[string]any
		if decodeJSON(hb, &hdr) != nil || decodeJSON(pb, &claims) != nil {
			t.Fatal("accepted a proof encoding/json cannot read")
		}
		if !strings.EqualFold(hdr.Typ, ProofTyp) || !allowed.Has(p.Alg) {
			t.Fatalf("accepted typ %q alg %v", hdr.Typ, p.Alg)
		}
		if claims["jti"] != p.JTI || claims["htm"] != p.HTM || claims["htu"] != p.HTU {
			t.Fatalf("claims differential: %v vs %+v", claims, p)
		}
		if tp, err := Thumbprint(hdr.JWK); err != nil || tp != p.Thumbprint {
			t.Fatalf("thumbprint differential: %q, %v vs %q", tp, err, p.Thumbprint)
		}
		switch p.Key.Public.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			t.Fatalf("accepted a %T key", p.Key.Public)
		}
	})
}

// FuzzThumbprint checks that Thumbprint never panics, accepts only strict
// objects, and ignores member order, whitespace and members it does not hash.
func FuzzThumbprint(f *testing.F) {
	k := mustKeys(f)
	f.Add([]byte(rfc9449JWK))
	f.Add([]byte(k.jwkFor(RS256, `"kid":"a"`)))
	f.Add([]byte(k.jwkFor(EdDSA, "")))
	f.Add([]byte(k.jwkFor(HS256, "")))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"\u0041","y":"\"\\"}`))
	f.Fuzz(func(t *testing.T, jwk []byte) {
		tp, err := Thumbprint(jwk)
		if err != nil {
			return
		}
		var m map[string]any
		if decodeJSON(jwk, &m) != nil {
			t.Fatal("accepted a JWK encoding/json rejects")
		}
		required := map[string]any{}
		for _, name := range thumbprintMembers[m["kty"].(string)] {
			required[name] = m[name]
		}
		canon, err := json.Marshal(required)
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json escapes <, > and & (and U+2028/9) where RFC 7638
		// does not; compare only where the two canonical forms agree.
		if strings.ContainsAny(string(canon), `<>&\`) || strings.Contains(string(canon), "\u2028") || strings.Contains(string(canon), "\u2029") {
			return
		}
		sum := sha256Sum(canon)
		if want := b64s(sum); tp != want {
			t.Fatalf("Thumbprint = %q, encoding/json's canonical form hashes to %q", tp, want)
		}
	})
}

func sha256Sum(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

// A proof's signature takes the access tokens' path (Key.CheckSignature):
// RS* and ES* to the Verifier, the rest in Go, and ParseProofWith says who
// decided.
func TestParseProofWithAsksTheVerifierAboutRSAAndECDSAProofs(t *testing.T) {
	k := mustKeys(t)
	allowed := algSetOf(DefaultProofAlgs...)
	for _, alg := range DefaultProofAlgs {
		raw := makeToken(k.proofHeader(alg), proofClaims, k.signer(alg))
		if !NativeAlgs.Has(alg) {
			t.Run(alg.String()+" proofs are checked in Go without asking", func(t *testing.T) {
				v := &fakeVerifier{verdict: Invalid}
				_, checks, err := ParseProofWith(raw, allowed, 0, v)
				if err != nil || len(v.calls) != 0 || checks != (Checks{Go: 1}) {
					t.Fatalf("err %v, %d calls, checks %+v", err, len(v.calls), checks)
				}
			})
			continue
		}
		t.Run(alg.String()+" proofs are decided by the verifier", func(t *testing.T) {
			for verdict, want := range map[Verdict]struct {
				reason Reason
				checks Checks
			}{
				Valid:        {0, Checks{Native: 1}},
				Invalid:      {ReasonBadSignature, Checks{Native: 1}},
				Unverifiable: {ReasonUnverifiable, Checks{}},
				Fallback:     {0, Checks{Go: 1}}, // Go checks it, and the signature is good
			} {
				v := &fakeVerifier{verdict: verdict}
				p, checks, err := ParseProofWith(raw, allowed, 0, v)
				if ReasonOf(err) != want.reason || checks != want.checks || len(v.calls) != 1 || (err == nil) != (p != nil) {
					t.Fatalf("verdict %d: err %v, checks %+v, %d calls; want reason %v, checks %+v", verdict, err, checks, len(v.calls), want.reason, want.checks)
				}
			}
		})
	}
}
