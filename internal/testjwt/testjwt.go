// Package testjwt builds signing keys, JWKS documents, signed tokens and
// DPoP proofs for tests, benchmarks, the development identity provider and
// the dpop client command. It never verifies anything: it is the "identity
// provider" (and client) side of every scopegate test.
//
// Key generation cannot fail in practice, so the helpers panic on errors
// instead of threading a testing.TB through every call.
package testjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"math/big"
	"sync"
	"time"
)

// Algorithms lists every JWS algorithm scopegate knows, asymmetric first.
var Algorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
}

// Key is a signing key for one JWS algorithm together with its key id.
type Key struct {
	Alg    string        // JWS algorithm, e.g. "RS256"
	Kid    string        // key id; "" makes a kid-less JWK and token header
	Signer crypto.Signer // RSA, ECDSA or Ed25519 private key; nil for HS*
	Secret []byte        // HMAC secret for HS*; nil otherwise
}

// NewKey generates a fresh key for alg (RSA keys are 2048 bits; EC keys use
// the algorithm's curve; HS* secrets are as long as the hash).
func NewKey(alg, kid string) *Key {
	k := &Key{Alg: alg, Kid: kid}
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k.Signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k.Signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k.Signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		k.Signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k.Signer, err = ed25519.GenerateKey(rand.Reader)
	case "HS256", "HS384", "HS512":
		k.Secret = make([]byte, hashFor(alg).Size())
		_, err = rand.Read(k.Secret)
	default:
		panic("testjwt: unknown algorithm " + alg)
	}
	if err != nil {
		panic("testjwt: generating " + alg + " key: " + err.Error())
	}
	return k
}

var (
	cacheMu sync.Mutex
	cache   = map[[2]string]*Key{}
)

// CachedKey returns the same key for the same (alg, kid) for the life of the
// process, so test suites do not pay for RSA key generation again and again.
// Use NewKey when a test needs a key nobody else has (rotation, wrong key).
func CachedKey(alg, kid string) *Key {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	id := [2]string{alg, kid}
	if k, ok := cache[id]; ok {
		return k
	}
	k := NewKey(alg, kid)
	cache[id] = k
	return k
}

// WithKid returns a copy of k that carries another key id (same key material).
func (k *Key) WithKid(kid string) *Key {
	c := *k
	c.Kid = kid
	return &c
}

// Public returns the public half: *rsa.PublicKey, *ecdsa.PublicKey,
// ed25519.PublicKey, or the []byte secret for HS*.
func (k *Key) Public() any {
	if k.Signer == nil {
		return k.Secret
	}
	return k.Signer.Public()
}

// JWK returns the key as a JWK object with "kty", "use":"sig", "alg" and,
// when set, "kid". HS* keys are exported as "oct" with their secret in "k".
// Callers may edit the map (e.g. delete "alg") before encoding it with JWKSOf.
func (k *Key) JWK() map[string]any {
	m := map[string]any{"use": "sig", "alg": k.Alg}
	if k.Kid != "" {
		m["kid"] = k.Kid
	}
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes() // 0x04 || X || Y, each the curve's size
		if err != nil {
			panic("testjwt: encoding EC key: " + err.Error())
		}
		size := (len(raw) - 1) / 2
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		m["x"] = b64(raw[1 : 1+size])
		m["y"] = b64(raw[1+size:])
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(pub)
	case []byte:
		m["kty"] = "oct"
		m["k"] = b64(pub)
	}
	return m
}

// JWKS returns {"keys":[...]} holding the public JWK of every key.
func JWKS(keys ...*Key) []byte {
	jwks := make([]map[string]any, len(keys))
	for i, k := range keys {
		jwks[i] = k.JWK()
	}
	return JWKSOf(jwks...)
}

// JWKSOf encodes hand-made (possibly edited or broken) JWK objects as a JWKS.
func JWKSOf(jwks ...map[string]any) []byte {
	if jwks == nil {
		jwks = []map[string]any{}
	}
	return mustJSON(map[string]any{"keys": jwks})
}

// Sign mints a compact JWS over claims. The header starts as
// {"alg": k.Alg, "typ": "JWT", "kid": k.Kid (when set)}; every entry of
// header overrides it, and a nil value removes the member (e.g. "kid": nil).
func (k *Key) Sign(claims map[string]any, header map[string]any) string {
	h := map[string]any{"alg": k.Alg, "typ": "JWT"}
	if k.Kid != "" {
		h["kid"] = k.Kid
	}
	for name, v := range header {
		if v == nil {
			delete(h, name)
			continue
		}
		h[name] = v
	}
	return k.SignRaw(mustJSON(h), mustJSON(claims))
}

// SignRaw signs exactly the given header and payload bytes, for tests that
// need JSON the map-based Sign cannot produce (duplicate members, non-objects).
// The signature follows k.Alg whatever the header says.
func (k *Key) SignRaw(header, payload []byte) string {
	input := b64(header) + "." + b64(payload)
	return input + "." + b64(k.signature([]byte(input)))
}

func (k *Key) signature(input []byte) []byte {
	switch k.Alg {
	case "HS256", "HS384", "HS512":
		mac := hmac.New(hashFor(k.Alg).New, k.Secret)
		mac.Write(input)
		return mac.Sum(nil)
	case "EdDSA":
		return ed25519.Sign(k.Signer.(ed25519.PrivateKey), input)
	}
	h := hashFor(k.Alg)
	d := h.New()
	d.Write(input)
	digest := d.Sum(nil)
	var (
		sig []byte
		err error
	)
	switch k.Alg {
	case "RS256", "RS384", "RS512":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.Signer.(*rsa.PrivateKey), h, digest)
	case "PS256", "PS384", "PS512":
		sig, err = rsa.SignPSS(rand.Reader, k.Signer.(*rsa.PrivateKey), h, digest,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256", "ES384", "ES512":
		priv := k.Signer.(*ecdsa.PrivateKey)
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, priv, digest)
		if err == nil {
			size := (priv.Curve.Params().BitSize + 7) / 8
			sig = append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
		}
	}
	if err != nil {
		panic("testjwt: signing with " + k.Alg + ": " + err.Error())
	}
	return sig
}

// Claims returns a typical access-token payload: iss, sub, iat = now,
// exp = now + 1h, and scope (space-delimited) when scopes are given.
func Claims(iss, sub string, now time.Time, scopes ...string) map[string]any {
	c := map[string]any{
		"iss": iss,
		"sub": sub,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	if len(scopes) > 0 {
		s := scopes[0]
		for _, sc := range scopes[1:] {
			s += " " + sc
		}
		c["scope"] = s
	}
	return c
}

func hashFor(alg string) crypto.Hash {
	switch alg[len(alg)-3:] {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("testjwt: encoding JSON: " + err.Error())
	}
	return b
}

// Keep the hash implementations linked in for crypto.Hash.New.
var _ = []func() hash.Hash{sha256.New, sha512.New}

// PublicJWK returns the key's public JWK with only its key members (kty,
// crv, x, y / n, e) — what a client puts in a DPoP proof's jwk header.
func (k *Key) PublicJWK() map[string]any {
	m := k.JWK()
	delete(m, "use")
	delete(m, "alg")
	delete(m, "kid")
	return m
}

// Thumbprint returns the key's RFC 7638 JWK SHA-256 thumbprint (base64url),
// the cnf.jkt of tokens bound to it. It is computed here with encoding/json
// (sorted keys, no whitespace), independently of the jwt package's own.
func (k *Key) Thumbprint() string {
	jwk := k.PublicJWK()
	required := map[string]any{}
	for _, name := range map[string][]string{
		"EC": {"crv", "kty", "x", "y"}, "RSA": {"e", "kty", "n"}, "OKP": {"crv", "kty", "x"}, "oct": {"k", "kty"},
	}[jwk["kty"].(string)] {
		required[name] = jwk[name]
	}
	sum := sha256.Sum256(mustJSON(required))
	return b64(sum[:])
}

// DPoPHeader is the protected header of a DPoP proof by k: typ dpop+jwt,
// the public JWK, no kid. Tests edit it (a nil value removes a member when
// passed to Sign) to build broken proofs.
func (k *Key) DPoPHeader() map[string]any {
	return map[string]any{"typ": "dpop+jwt", "jwk": k.PublicJWK(), "kid": nil}
}

// DPoPClaims are the claims of a proof for one request (RFC 9449 §4.2): a
// fresh random jti, htm, htu, iat, and ath when accessToken is not empty,
// nonce when nonce is not empty.
func DPoPClaims(method, uri, accessToken, nonce string, iat time.Time) map[string]any {
	var id [16]byte
	rand.Read(id[:])
	c := map[string]any{"jti": b64(id[:]), "htm": method, "htu": uri, "iat": iat.Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = b64(sum[:])
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return c
}

// DPoPProof mints a DPoP proof by k for one request.
func (k *Key) DPoPProof(method, uri, accessToken, nonce string, iat time.Time) string {
	return k.Sign(DPoPClaims(method, uri, accessToken, nonce, iat), k.DPoPHeader())
}
