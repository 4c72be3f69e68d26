package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"strings"
	"sync"
	"testing"
)

// testKeys holds one private key per key type, generated once per test
// process (RSA generation is slow).
type testKeys struct {
	rsa, rsa2           *rsa.PrivateKey
	ec256, ec384, ec521 *ecdsa.PrivateKey
	ec256b              *ecdsa.PrivateKey
	ed, ed2             ed25519.PrivateKey
	hmac                []byte
}

var (
	keysOnce sync.Once
	keys     *testKeys
)

func mustKeys(tb testing.TB) *testKeys {
	tb.Helper()
	keysOnce.Do(func() {
		k := &testKeys{hmac: make([]byte, 64)}
		var err error
		if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		for _, p := range []struct {
			dst   **ecdsa.PrivateKey
			curve elliptic.Curve
		}{{&k.ec256, elliptic.P256()}, {&k.ec384, elliptic.P384()}, {&k.ec521, elliptic.P521()}, {&k.ec256b, elliptic.P256()}} {
			if *p.dst, err = ecdsa.GenerateKey(p.curve, rand.Reader); err != nil {
				panic(err)
			}
		}
		if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
		if _, k.ed2, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
		if _, err = rand.Read(k.hmac); err != nil {
			panic(err)
		}
		keys = k
	})
	return keys
}

func b64s(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64str(s string) string { return b64s([]byte(s)) }

// signer returns a function that signs a JWS signing input with alg using
// the matching test key (the primary one of its type).
func (k *testKeys) signer(alg Alg) func(input []byte) []byte {
	return k.signerWith(alg, nil)
}

// signerWith signs with an explicit private key (nil: the primary key for
// alg's type).
func (k *testKeys) signerWith(alg Alg, priv any) func(input []byte) []byte {
	return func(input []byte) []byte {
		h := alg.hash()
		var digest []byte
		if h != 0 {
			hh := h.New()
			hh.Write(input)
			digest = hh.Sum(nil)
		}
		switch alg {
		case RS256, RS384, RS512, PS256, PS384, PS512:
			key := k.rsa
			if p, ok := priv.(*rsa.PrivateKey); ok {
				key = p
			}
			var sig []byte
			var err error
			if alg >= PS256 {
				sig, err = rsa.SignPSS(rand.Reader, key, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			} else {
				sig, err = rsa.SignPKCS1v15(nil, key, h, digest)
			}
			if err != nil {
				panic(err)
			}
			return sig
		case ES256, ES384, ES512:
			key := map[Alg]*ecdsa.PrivateKey{ES256: k.ec256, ES384: k.ec384, ES512: k.ec521}[alg]
			if p, ok := priv.(*ecdsa.PrivateKey); ok {
				key = p
			}
			r, s, err := ecdsa.Sign(rand.Reader, key, digest)
			if err != nil {
				panic(err)
			}
			size := (key.Curve.Params().BitSize + 7) / 8
			out := make([]byte, 2*size)
			r.FillBytes(out[:size])
			s.FillBytes(out[size:])
			return out
		case EdDSA:
			key := k.ed
			if p, ok := priv.(ed25519.PrivateKey); ok {
				key = p
			}
			return ed25519.Sign(key, input)
		case HS256, HS384, HS512:
			secret := k.hmac
			if p, ok := priv.([]byte); ok {
				secret = p
			}
			m := hmac.New(h.New, secret)
			m.Write(input)
			return m.Sum(nil)
		}
		panic("no signer for " + alg.String())
	}
}

// makeToken builds a compact JWS from raw header and payload JSON texts.
func makeToken(header, payload string, sign func([]byte) []byte) string {
	input := b64str(header) + "." + b64str(payload)
	return input + "." + b64s(sign([]byte(input)))
}

// rsaJWK renders an RSA public key as a JWK; extra is inserted verbatim
// (e.g. `"kid":"a","alg":"RS256"`).
func rsaJWK(pub *rsa.PublicKey, extra string) string {
	return jwkObject(`"kty":"RSA","n":"`+b64s(pub.N.Bytes())+`","e":"`+b64s(big.NewInt(int64(pub.E)).Bytes())+`"`, extra)
}

func ecJWK(pub *ecdsa.PublicKey, extra string) string {
	size := (pub.Curve.Params().BitSize + 7) / 8
	raw, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	crv := pub.Curve.Params().Name
	return jwkObject(`"kty":"EC","crv":"`+crv+`","x":"`+b64s(raw[1:1+size])+`","y":"`+b64s(raw[1+size:])+`"`, extra)
}

func edJWK(pub ed25519.PublicKey, extra string) string {
	return jwkObject(`"kty":"OKP","crv":"Ed25519","x":"`+b64s(pub)+`"`, extra)
}

func octJWK(secret []byte, extra string) string {
	return jwkObject(`"kty":"oct","k":"`+b64s(secret)+`"`, extra)
}

func jwkObject(base, extra string) string {
	if extra == "" {
		return "{" + base + "}"
	}
	return "{" + base + "," + extra + "}"
}

func jwks(keys ...string) []byte {
	return []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`)
}

// publicFor returns the primary public key for alg's key type.
func (k *testKeys) jwkFor(alg Alg, extra string) string {
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		return rsaJWK(&k.rsa.PublicKey, extra)
	case ES256:
		return ecJWK(&k.ec256.PublicKey, extra)
	case ES384:
		return ecJWK(&k.ec384.PublicKey, extra)
	case ES512:
		return ecJWK(&k.ec521.PublicKey, extra)
	case EdDSA:
		return edJWK(k.ed.Public().(ed25519.PublicKey), extra)
	case HS256, HS384, HS512:
		return octJWK(k.hmac, extra)
	}
	panic("no key for " + alg.String())
}

func mustParseJWKS(tb testing.TB, data []byte, opts JWKSOptions) *KeySet {
	tb.Helper()
	ks, skipped, err := ParseJWKS(data, opts)
	if err != nil {
		tb.Fatalf("ParseJWKS: %v", err)
	}
	if len(skipped) > 0 {
		tb.Fatalf("ParseJWKS skipped keys: %+v", skipped)
	}
	return ks
}

func mustParse(tb testing.TB, raw string) *Token {
	tb.Helper()
	tok, err := Parse(raw, 0)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return tok
}

// wantReason fails unless err carries reason.
func wantReason(tb testing.TB, err error, reason Reason) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want reason %v", reason)
	}
	if got := ReasonOf(err); got != reason {
		tb.Fatalf("got reason %v (%v), want %v", got, err, reason)
	}
}
