package jwt

import (
	"bytes"
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
	errUnverifiable  = newError(ReasonUnverifiable, "token signature could not be checked")
)

// pssOptions follows RFC 7518 §3.5: the salt is as long as the hash.
var pssOptions = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}

// Verify checks the token's signature against the set and returns the key
// that verified it, checking every signature in Go. It is VerifyWith
// without a Verifier.
func (ks *KeySet) Verify(t *Token, allowed AlgSet) (*Key, error) {
	k, _, err := ks.VerifyWith(t, allowed, nil)
	return k, err
}

// VerifyWith checks the token's signature against the set and returns the
// key that verified it, and how many signature checks the Verifier v and Go
// made (a token without kid may be tried against several keys). The
// algorithm comes from the key (DESIGN §5): the token's alg must be in
// allowed and among the key's own algorithms. A token with a kid is tried
// only against keys with that exact kid, and ErrUnknownKid means there is
// none (refetch the set, never try others); a token without kid is tried
// against every key whose algorithms fit. When no key verifies and v could
// not check a signature it forbade Go to check, the error's reason is
// ReasonUnverifiable. A nil v checks everything in Go.
func (ks *KeySet) VerifyWith(t *Token, allowed AlgSet, v Verifier) (*Key, Checks, error) {
	var checks Checks
	if t == nil || t.alg == 0 {
		return nil, checks, errAlgUnknown
	}
	if !allowed.Has(t.alg) {
		return nil, checks, errAlgNotAllowed
	}
	if ks == nil {
		return nil, checks, errNoKey
	}
	kidFound, tried, unverifiable := false, false, false
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
		c := k.CheckSignature(t.alg, t.signingInput, t.Signature, v)
		if c.Native {
			checks.Native++
		} else if !c.Failed {
			checks.Go++
		}
		if c.Valid {
			return k, checks, nil
		}
		unverifiable = unverifiable || c.Failed
	}
	switch {
	case t.HasKid && !kidFound:
		return nil, checks, ErrUnknownKid
	case !tried:
		return nil, checks, errNoKey
	case unverifiable:
		return nil, checks, errUnverifiable
	}
	return nil, checks, errBadSignature
}

// CheckSignature reports whether sig is a valid alg signature of
// signingInput under k. Everything this package can judge without the
// cryptography is judged here first, whoever does the math: the algorithm
// must be one of the key's (DESIGN §5), an RSA signature exactly as long as
// the modulus, an ECDSA signature exactly R || S of the curve's size with R
// and S in [1, n-1]. Then RS* and ES* go to v when v is not nil (see
// Verifier); everything else, and whatever v leaves unchecked, is verified
// in Go. It serves any (key, alg, input, signature), such as a DPoP proof.
func (k *Key) CheckSignature(alg Alg, signingInput string, sig []byte, v Verifier) Check {
	if k == nil || !k.algs.Has(alg) {
		return Check{}
	}
	switch alg {
	case RS256, RS384, RS512, PS256, PS384, PS512:
		if len(sig) != k.rsaSize {
			return Check{}
		}
	case ES256, ES384, ES512:
		// RFC 7518 §3.4: R and S, each exactly the curve's size; DER is
		// not a JWS signature.
		if k.ecSize == 0 || len(sig) != 2*k.ecSize || !inScalarRange(sig[:k.ecSize], k.ecOrder) || !inScalarRange(sig[k.ecSize:], k.ecOrder) {
			return Check{}
		}
	}
	if v != nil && NativeAlgs.Has(alg) && k.spki != nil {
		signed := stringBytes(signingInput)
		var verdict Verdict
		if alg == ES256 || alg == ES384 || alg == ES512 {
			var der [2*(3+67) + 3]byte
			verdict = v.VerifySignature(alg.hashName(), k.spki, rawToDER(der[:0], sig[:k.ecSize], sig[k.ecSize:]), signed)
		} else {
			verdict = v.VerifySignature(alg.hashName(), k.spki, sig, signed)
		}
		switch verdict {
		case Valid:
			return Check{Valid: true, Native: true}
		case Invalid:
			return Check{Native: true}
		case Unverifiable:
			return Check{Failed: true}
		}
	}
	return Check{Valid: verifySignature(k, alg, signingInput, sig)}
}

// inScalarRange reports whether the big-endian x (as long as n) is in
// [1, n-1].
func inScalarRange(x, n []byte) bool {
	zero := true
	for _, b := range x {
		if b != 0 {
			zero = false
			break
		}
	}
	return !zero && bytes.Compare(x, n) < 0
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

// verifySignature checks one signature with one key in Go. The caller has
// already matched alg against k.algs, so the type assertions hold.
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
// SEQUENCE { INTEGER r, INTEGER s } that crypto/ecdsa verifies, with the
// DER helpers the SPKI encoder uses (spki.go).
func rawToDER(dst, r, s []byte) []byte {
	r, padR := positiveInt(r)
	s, padS := positiveInt(s)
	dst = appendHeader(dst, derSequence, tlvSize(intContentLen(r, padR))+tlvSize(intContentLen(s, padS)))
	dst = appendInteger(dst, r, padR)
	return appendInteger(dst, s, padS)
}
