package devidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
)

// Algorithms lists the JWS algorithms the development provider can sign with.
var Algorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// signingKey is one private key with the metadata its JWK publishes.
type signingKey struct {
	alg    string
	kid    string
	signer crypto.Signer
}

// newSigningKey generates a key for alg. RSA keys are 2048 bits, the minimum
// scopegate accepts; EC keys use the curve the algorithm names.
func newSigningKey(alg, kid string) (*signingKey, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("devidp: unsupported signing algorithm %q (supported: %v)", alg, Algorithms)
	}
	if err != nil {
		return nil, fmt.Errorf("devidp: generating %s key: %w", alg, err)
	}
	return &signingKey{alg: alg, kid: kid, signer: signer}, nil
}

// hashFor returns the digest an RSA or ECDSA algorithm signs; EdDSA signs the
// message itself and gets 0.
func hashFor(alg string) crypto.Hash {
	switch alg[len(alg)-3:] {
	case "256":
		return crypto.SHA256
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return 0
}

// sign returns the JWS signature over input (the "header.payload" text).
func (k *signingKey) sign(input []byte) ([]byte, error) {
	if k.alg == "EdDSA" {
		return ed25519.Sign(k.signer.(ed25519.PrivateKey), input), nil
	}
	h := hashFor(k.alg).New()
	h.Write(input)
	digest := h.Sum(nil)
	switch priv := k.signer.(type) {
	case *rsa.PrivateKey:
		if k.alg[0] == 'P' {
			// RFC 7518 §3.5: the salt is as long as the hash.
			return rsa.SignPSS(rand.Reader, priv, hashFor(k.alg), digest,
				&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.SignPKCS1v15(rand.Reader, priv, hashFor(k.alg), digest)
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest)
		if err != nil {
			return nil, err
		}
		// JWS wants R || S, each left-padded to the curve's byte size (RFC 7518 §3.4).
		size := (priv.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	return nil, errors.New("devidp: key type does not match algorithm " + k.alg)
}

// jwk returns the public half of the key as a JWK object.
func (k *signingKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid, "alg": k.alg, "use": "sig"}
	switch pub := k.signer.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(pub.N.Bytes())
		m["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		m["crv"] = pub.Curve.Params().Name
		// Bytes is the uncompressed point 0x04 || X || Y, both of the curve's size.
		point, _ := pub.Bytes()
		size := (len(point) - 1) / 2
		m["x"] = b64(point[1 : 1+size])
		m["y"] = b64(point[1+size:])
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(pub)
	}
	return m
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
