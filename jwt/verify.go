package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
)

var (
	errAlgNotAllowed = newError(ReasonUnsupportedAlg, "token algorithm not allowed")
	errNoKey         = newError(ReasonNoKey, "no key can verify this token")
	errBadSignature  = newError(ReasonBadSignature, "token signature is invalid")
)

// pssOptions follows RFC 7518 §3.5: the salt is as long as the hash.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// Verify checks the token's signature against the set and returns the key
// that verified it. The algorithm comes from the key (DESIGN §5): the
// token's alg must be in allowed and among the key's own algorithms. A
// token with a kid is tried only against keys with that exact kid, and
// ErrUnknownKid means there is none (refetch the set, never try others); a
// token without kid is tried against every key whose algorithms fit.
func (ks *KeySet) Verify(t *Token, allowed AlgSet) (*Key, error) {
	if t == nil || t.alg == 0 {
		return nil, errAlgUnknown
	}
	if !allowed.Has(t.alg) {
		return nil, errAlgNotAllowed
	}
	if ks == nil {
		return nil, errNoKey
	}
	kidFound, tried := false, false
	for _, k := range ks.Keys {
		if t.HasKid {
			if !k.HasKid || k.Kid != t.Kid {
				continue
			}
			kidFound = true
		}
		if !k.algs.Has(t.alg) {
			continue
		}
		tried = true
		if verifySignature(k, t.alg, t.signingInput, t.Signature) {
			return k, nil
		}
	}
	switch {
	case t.HasKid && !kidFound:
		return nil, ErrUnknownKid
	case !tried:
		return nil, errNoKey
	}
	return nil, errBadSignature
}

// digest hashes msg into buf and returns the digest.
func digest(h crypto.Hash, msg []byte, buf *[64]byte) []byte {
	switch h {
	case crypto.SHA256:
		*(*[32]byte)(buf[:32]) = sha256.Sum256(msg)
		return buf[:32]
	case crypto.SHA384:
		*(*[48]byte)(buf[:48]) = sha512.Sum384(msg)
		return buf[:48]
	case crypto.SHA512:
		*buf = sha512.Sum512(msg)
		return buf[:64]
	}
	return nil
}

// verifySignature checks one signature with one key. The caller has already
// matched alg against k.algs, so the type assertions hold.
func verifySignature(k *Key, alg Alg, signingInput string, sig []byte) bool {
	msg := stringBytes(signingInput)
	var buf [64]byte
	switch alg {
	case RS256, RS384, RS512:
		pub, ok := k.Public.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(pub, alg.hash(), digest(alg.hash(), msg, &buf), sig) == nil
	case PS256, PS384, PS512:
		pub, ok := k.Public.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(pub, alg.hash(), digest(alg.hash(), msg, &buf), sig, pssOptions) == nil
	case ES256, ES384, ES512:
		pub, ok := k.Public.(*ecdsa.PublicKey)
		// RFC 7518 §3.4: R and S, each exactly the curve's size; DER is
		// not a JWS signature.
		if !ok || k.ecSize == 0 || len(sig) != 2*k.ecSize {
			return false
		}
		var der [2*(3+67) + 3]byte
		return ecdsa.VerifyASN1(pub, digest(alg.hash(), msg, &buf), rawToDER(der[:0], sig[:k.ecSize], sig[k.ecSize:]))
	case EdDSA:
		pub, ok := k.Public.(ed25519.PublicKey)
		return ok && len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
	case HS256, HS384, HS512:
		secret, ok := k.Public.([]byte)
		if !ok {
			return false
		}
		mac := hmac.New(alg.hash().New, secret)
		mac.Write(msg)
		return hmac.Equal(mac.Sum(buf[:0]), sig)
	}
	return false
}

// rawToDER encodes R and S (big-endian, fixed size) as the ASN.1
// SEQUENCE { INTEGER r, INTEGER s } that crypto/ecdsa verifies.
func rawToDER(dst, r, s []byte) []byte {
	r, s = trimInt(r), trimInt(s)
	rl, sl := intLen(r), intLen(s)
	body := 2 + rl + 2 + sl // each INTEGER has a one-byte length (< 128)
	dst = append(dst, 0x30)
	if body >= 0x80 {
		dst = append(dst, 0x81)
	}
	dst = append(dst, byte(body))
	dst = appendInt(dst, r, rl)
	dst = appendInt(dst, s, sl)
	return dst
}

// trimInt drops leading zero bytes, keeping at least one byte.
func trimInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// intLen is the DER content length of a positive integer's bytes.
func intLen(b []byte) int {
	if b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func appendInt(dst, b []byte, l int) []byte {
	dst = append(dst, 0x02, byte(l))
	if l > len(b) {
		dst = append(dst, 0)
	}
	return append(dst, b...)
}
