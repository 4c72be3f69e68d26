package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"strings"
	"testing"
)

func TestParseJWKSBuildsReadyKeys(t *testing.T) {
	k := mustKeys(t)
	data := jwks(
		rsaJWK(&k.rsa.PublicKey, `"kid":"r","use":"sig","alg":"PS256","key_ops":["verify"],"x5t":"ignored"`),
		ecJWK(&k.ec256.PublicKey, `"kid":"e256"`),
		ecJWK(&k.ec384.PublicKey, `"kid":"e384"`),
		ecJWK(&k.ec521.PublicKey, `"kid":"e521"`),
		edJWK(k.ed.Public().(ed25519.PublicKey), `"kid":"ed"`),
		octJWK(k.hmac, `"kid":"h"`),
	)
	set := mustParseJWKS(t, data, JWKSOptions{AllowOct: true})
	if len(set.Keys) != 6 {
		t.Fatalf("got %d keys", len(set.Keys))
	}
	want := []struct {
		kid, kty, alg, crv string
		algs               AlgSet
	}{
		{"r", "RSA", "PS256", "", AlgSet(0).With(PS256)},
		{"e256", "EC", "", "P-256", AlgSet(0).With(ES256)},
		{"e384", "EC", "", "P-384", AlgSet(0).With(ES384)},
		{"e521", "EC", "", "P-521", AlgSet(0).With(ES512)},
		{"ed", "OKP", "", "Ed25519", AlgSet(0).With(EdDSA)},
		{"h", "oct", "", "", hsAlgs},
	}
	for i, w := range want {
		got := set.Keys[i]
		if got.Kid != w.kid || !got.HasKid || got.Kty != w.kty || got.Alg != w.alg || got.Crv != w.crv || got.Algs() != w.algs {
			t.Errorf("key %d = %+v (algs %v), want %+v", i, got, got.Algs(), w)
		}
	}
	if pub, ok := set.Keys[0].Public.(*rsa.PublicKey); !ok || !pub.Equal(&k.rsa.PublicKey) {
		t.Errorf("RSA public key not rebuilt")
	}
	if pub, ok := set.Keys[3].Public.(*ecdsa.PublicKey); !ok || !pub.Equal(&k.ec521.PublicKey) {
		t.Errorf("P-521 public key not rebuilt")
	}
	if _, ok := set.Keys[4].Public.(ed25519.PublicKey); !ok {
		t.Errorf("Ed25519 key type %T", set.Keys[4].Public)
	}
	if secret, ok := set.Keys[5].Public.([]byte); !ok || string(secret) != string(k.hmac) {
		t.Errorf("oct key not kept")
	}
}

// fakeModulus returns an odd number of exactly bits bits (not a real
// modulus; ParseJWKS only checks size and parity).
func fakeModulus(bits int) string {
	b := make([]byte, (bits+7)/8)
	for i := range b {
		b[i] = 0xa5
	}
	top := bits % 8
	if top == 0 {
		top = 8
	}
	b[0] = 1 << (top - 1)
	b[0] |= 1 << (top - 1)
	b[len(b)-1] |= 1
	return b64s(b)
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	k := mustKeys(t)
	anchor := edJWK(k.ed2.Public().(ed25519.PublicKey), `"kid":"anchor"`)
	ec := func(extra string) string { return ecJWK(&k.ec256.PublicKey, extra) }
	ecRaw, _ := k.ec256.PublicKey.Bytes()
	x, y := b64s(ecRaw[1:33]), b64s(ecRaw[33:])
	yBad := append([]byte(nil), ecRaw[33:]...)
	yBad[31] ^= 1
	p521, _ := k.ec521.PublicKey.Bytes()
	ed := b64s(k.ed.Public().(ed25519.PublicKey))
	cases := []struct {
		name     string
		bad      string
		twin     string
		allowOct bool
		reason   string
	}{
		{name: "an RSA modulus under 2048 bits is skipped", bad: `{"kty":"RSA","kid":"bad","n":"` + fakeModulus(2047) + `","e":"AQAB"}`, twin: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"AQAB"}`, reason: "fewer than 2048"},
		{name: "an RSA modulus over 8192 bits is skipped", bad: `{"kty":"RSA","n":"` + fakeModulus(8193) + `","e":"AQAB"}`, twin: `{"kty":"RSA","n":"` + fakeModulus(8192) + `","e":"AQAB"}`, reason: "more than 8192"},
		{name: "an even RSA modulus is skipped", bad: `{"kty":"RSA","n":"` + b64s(append(k.rsa.N.Bytes()[:255:255], k.rsa.N.Bytes()[255]&^1)) + `","e":"AQAB"}`, twin: rsaJWK(&k.rsa.PublicKey, ""), reason: "even"},
		{name: "an even RSA exponent is skipped", bad: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"AQAA"}`, twin: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"AQAB"}`, reason: "exponent"},
		{name: "an RSA exponent of one is skipped", bad: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"AQ"}`, twin: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"Aw"}`, reason: "exponent"},
		{name: "an RSA exponent over 31 bits is skipped", bad: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"gAAAAQ"}`, twin: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"f____w"}`, reason: "exponent"},
		{name: "an RSA key with private material is skipped", bad: rsaJWK(&k.rsa.PublicKey, `"d":"AQAB"`), twin: rsaJWK(&k.rsa.PublicKey, ""), reason: "private"},
		{name: "an RSA key without n is skipped", bad: `{"kty":"RSA","e":"AQAB"}`, twin: rsaJWK(&k.rsa.PublicKey, ""), reason: "missing n"},
		{name: "padded base64url in n is skipped", bad: `{"kty":"RSA","n":"` + fakeModulus(2048) + `=","e":"AQAB"}`, twin: `{"kty":"RSA","n":"` + fakeModulus(2048) + `","e":"AQAB"}`, reason: "base64url"},
		{name: "an RSA key declaring ES256 is skipped", bad: rsaJWK(&k.rsa.PublicKey, `"alg":"ES256"`), twin: rsaJWK(&k.rsa.PublicKey, `"alg":"RS256"`), reason: "does not fit"},
		{name: "an RSA key declaring HS256 is skipped", bad: rsaJWK(&k.rsa.PublicKey, `"alg":"HS256"`), twin: rsaJWK(&k.rsa.PublicKey, `"alg":"PS512"`), allowOct: true, reason: "does not fit"},
		{name: "an EC point off the curve is skipped", bad: `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + b64s(yBad) + `"}`, twin: `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}`, reason: "not on the curve"},
		{name: "a short EC coordinate is skipped", bad: `{"kty":"EC","crv":"P-256","x":"` + b64s(ecRaw[2:33]) + `","y":"` + y + `"}`, twin: ec(""), reason: "32 bytes"},
		{name: "a P-521 coordinate of 65 bytes is skipped", bad: `{"kty":"EC","crv":"P-521","x":"` + b64s(p521[2:67]) + `","y":"` + b64s(p521[67:]) + `"}`, twin: ecJWK(&k.ec521.PublicKey, ""), reason: "66 bytes"},
		{name: "an unsupported curve is skipped", bad: `{"kty":"EC","crv":"secp256k1","x":"` + x + `","y":"` + y + `"}`, twin: ec(""), reason: "unsupported EC crv"},
		{name: "an EC key without crv is skipped", bad: `{"kty":"EC","x":"` + x + `","y":"` + y + `"}`, twin: ec(""), reason: "crv"},
		{name: "a P-256 key declaring ES384 is skipped", bad: ec(`"alg":"ES384"`), twin: ec(`"alg":"ES256"`), reason: "does not fit"},
		{name: "an EC key with private material is skipped", bad: ec(`"d":"AAAA"`), twin: ec(""), reason: "private"},
		{name: "an Ed448 key is skipped", bad: `{"kty":"OKP","crv":"Ed448","x":"` + ed + `"}`, twin: `{"kty":"OKP","crv":"Ed25519","x":"` + ed + `"}`, reason: "unsupported OKP crv"},
		{name: "a short Ed25519 key is skipped", bad: `{"kty":"OKP","crv":"Ed25519","x":"` + ed[:40] + `"}`, twin: `{"kty":"OKP","crv":"Ed25519","x":"` + ed + `"}`, reason: "32 bytes"},
		{name: "an Ed25519 key declaring ES256 is skipped", bad: `{"kty":"OKP","crv":"Ed25519","alg":"ES256","x":"` + ed + `"}`, twin: `{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","x":"` + ed + `"}`, reason: "does not fit"},
		{name: "an oct key is skipped unless allowed", bad: octJWK(k.hmac, ""), twin: ec(""), reason: "oct"},
		{name: "an oct key under 256 bits is skipped", bad: octJWK(k.hmac[:31], ""), twin: octJWK(k.hmac[:32], ""), allowOct: true, reason: "256 bits"},
		{name: "a 32-byte oct key declaring HS512 is skipped", bad: octJWK(k.hmac[:32], `"alg":"HS512"`), twin: octJWK(k.hmac[:32], `"alg":"HS256"`), allowOct: true, reason: "does not fit"},
		{name: "an oct key declaring RS256 is skipped", bad: octJWK(k.hmac, `"alg":"RS256"`), twin: octJWK(k.hmac, `"alg":"HS512"`), allowOct: true, reason: "does not fit"},
		{name: "use enc is skipped", bad: ec(`"use":"enc"`), twin: ec(`"use":"sig"`), reason: "use"},
		{name: "a non-string use is skipped", bad: ec(`"use":1`), twin: ec(`"use":"sig"`), reason: "use"},
		{name: "key_ops without verify is skipped", bad: ec(`"key_ops":["sign"]`), twin: ec(`"key_ops":["sign","verify"]`), reason: "key_ops"},
		{name: "key_ops that is not an array is skipped", bad: ec(`"key_ops":"verify"`), twin: ec(`"key_ops":["verify"]`), reason: "key_ops"},
		{name: "an unknown alg is skipped", bad: ec(`"alg":"ES256K"`), twin: ec(`"alg":"ES256"`), reason: "unsupported alg"},
		{name: "alg none is skipped", bad: ec(`"alg":"none"`), twin: ec(`"alg":"ES256"`), reason: "unsupported alg"},
		{name: "an unknown kty is skipped", bad: `{"kty":"XYZ"}`, twin: ec(""), reason: "unsupported kty"},
		{name: "a key without kty is skipped", bad: `{"x":"` + ed + `","crv":"Ed25519"}`, twin: `{"kty":"OKP","x":"` + ed + `","crv":"Ed25519"}`, reason: "kty"},
		{name: "a non-string kid is skipped", bad: ec(`"kid":5`), twin: ec(`"kid":"5"`), reason: "kid"},
		{name: "a key that is not an object is skipped", bad: `"key"`, twin: ec(""), reason: "not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, skipped, err := ParseJWKS(jwks(c.bad, anchor), JWKSOptions{AllowOct: c.allowOct})
			if err != nil {
				t.Fatalf("the rest of the set must load: %v", err)
			}
			if len(set.Keys) != 1 || set.Keys[0].Kid != "anchor" {
				t.Fatalf("keys = %d, want only the anchor", len(set.Keys))
			}
			if len(skipped) != 1 || skipped[0].Index != 0 || !strings.Contains(skipped[0].Reason, c.reason) {
				t.Fatalf("skipped = %+v, want index 0 with %q", skipped, c.reason)
			}
			set, skipped, err = ParseJWKS(jwks(c.twin, anchor), JWKSOptions{AllowOct: c.allowOct})
			if err != nil || len(set.Keys) != 2 || len(skipped) != 0 {
				t.Fatalf("valid twin: %d keys, skipped %+v, err %v", len(set.Keys), skipped, err)
			}
		})
	}
	t.Run("a skipped key reports its kid", func(t *testing.T) {
		_, skipped, _ := ParseJWKS(jwks(ec(`"kid":"k-9","use":"enc"`), anchor), JWKSOptions{})
		if len(skipped) != 1 || skipped[0].Kid != "k-9" {
			t.Fatalf("skipped = %+v", skipped)
		}
	})
}

func TestParseJWKSRejectsUnusableSets(t *testing.T) {
	k := mustKeys(t)
	good := ecJWK(&k.ec256.PublicKey, "")
	one := jwks(good)
	cases := []struct {
		name   string
		bad    []byte
		badOp  JWKSOptions
		twin   []byte
		twinOp JWKSOptions
		reason Reason
	}{
		{name: "a set over MaxBytes is too large", bad: one, badOp: JWKSOptions{MaxBytes: len(one) - 1}, twin: one, twinOp: JWKSOptions{MaxBytes: len(one)}, reason: ReasonTooLarge},
		{name: "a set over MaxKeys is too large", bad: jwks(good, good, good), badOp: JWKSOptions{MaxKeys: 2}, twin: jwks(good, good), twinOp: JWKSOptions{MaxKeys: 2}, reason: ReasonTooLarge},
		{name: "a set that is not JSON is malformed", bad: []byte(`{"keys":[` + good + `]`), twin: one, reason: ReasonMalformed},
		{name: "a set with a duplicate member is malformed", bad: []byte(`{"keys":[],"keys":[` + good + `]}`), twin: one, reason: ReasonMalformed},
		{name: "a set that is an array is malformed", bad: []byte(`[` + good + `]`), twin: one, reason: ReasonMalformed},
		{name: "a set without keys is malformed", bad: []byte(`{"key":[` + good + `]}`), twin: one, reason: ReasonMalformed},
		{name: "a set whose keys is not an array is malformed", bad: []byte(`{"keys":` + good + `}`), twin: one, reason: ReasonMalformed},
		{name: "an empty set has no key", bad: []byte(`{"keys":[]}`), twin: one, reason: ReasonNoKey},
		{name: "a set whose keys are all skipped has no key", bad: jwks(ecJWK(&k.ec256.PublicKey, `"use":"enc"`)), twin: one, reason: ReasonNoKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set, _, err := ParseJWKS(c.bad, c.badOp)
			if set != nil {
				t.Errorf("got a set with an error")
			}
			wantReason(t, err, c.reason)
			if _, _, err := ParseJWKS(c.twin, c.twinOp); err != nil {
				t.Fatalf("valid twin: %v", err)
			}
		})
	}
	t.Run("the no-usable-key error names the skip reasons", func(t *testing.T) {
		_, skipped, err := ParseJWKS(jwks(ecJWK(&k.ec256.PublicKey, `"use":"enc"`)), JWKSOptions{})
		if err == nil || !strings.Contains(err.Error(), `use is "enc"`) || len(skipped) != 1 {
			t.Fatalf("err = %v, skipped %+v", err, skipped)
		}
	})
}
