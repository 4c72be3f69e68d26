package jwt

import (
	"crypto/sha256"
	"strings"
)

// DPoP proofs (RFC 9449 §4): a compact JWS the client signs for each
// request with the key its access token is bound to, carrying that public
// key in the header. This file does the JOSE half of RFC 9449 §4.3 — the
// proof is a well-formed JWS with typ dpop+jwt, an allowed asymmetric alg,
// a public jwk, a signature by that key, and the claims of §4.2 — and the
// RFC 7638 thumbprint that binds the key to the token's cnf.jkt. What
// depends on the request (htm, htu, iat window, jti replay, nonce, ath
// against the presented token) is the caller's.

// DefaultProofMaxBytes bounds a DPoP proof: a header with an RSA-4096 jwk
// and the claims fit in well under half of it.
const DefaultProofMaxBytes = 8192

// DefaultProofAlgs are the proof algorithms accepted by default (DESIGN §3
// dpop.algorithms), in the order the challenge lists them.
var DefaultProofAlgs = []Alg{ES256, ES384, ES512, RS256, PS256, EdDSA}

// ProofTyp is the media type a DPoP proof's typ header names.
const ProofTyp = "dpop+jwt"

// Proof is a DPoP proof whose structure and signature were checked. Strings
// may share memory with the proof's decoded payload, which is never modified.
type Proof struct {
	Alg Alg
	// Key is the header's jwk as a ready public key.
	Key *Key
	// Thumbprint is the RFC 7638 JWK SHA-256 thumbprint of Key, base64url:
	// what a bound token's cnf.jkt must equal.
	Thumbprint string
	JTI        string  // unique identifier of the proof
	HTM        string  // the HTTP method the proof was made for
	HTU        string  // the HTTP URI the proof was made for, as sent
	IAT        float64 // creation time, seconds since the epoch
	ATH        string  // base64url SHA-256 of the access token, if HasATH
	HasATH     bool
	Nonce      string // the server-provided nonce, if HasNonce
	HasNonce   bool
}

var (
	errProofTyp       = newError(ReasonMalformed, "DPoP proof typ is not dpop+jwt")
	errProofSymmetric = newError(ReasonUnsupportedAlg, "DPoP proof uses a symmetric algorithm")
	errProofAlg       = newError(ReasonUnsupportedAlg, "DPoP proof algorithm not allowed")
	errProofNoJWK     = newError(ReasonMalformed, "DPoP proof header has no jwk object")
	errProofKeyAlg    = newError(ReasonUnsupportedAlg, "DPoP proof alg does not fit its jwk")
	errProofSignature = newError(ReasonBadSignature, "DPoP proof signature is invalid")
	// errProofUnverifiable: the Verifier could not check the proof's
	// signature and forbade Go to (see Unverifiable).
	errProofUnverifiable = newError(ReasonUnverifiable, "DPoP proof signature could not be checked")
	errProofJTI          = newError(ReasonBadClaim, "DPoP proof has no jti string")
	errProofHTM          = newError(ReasonBadClaim, "DPoP proof has no htm string")
	errProofHTU          = newError(ReasonBadClaim, "DPoP proof has no htu string")
	errProofIAT          = newError(ReasonBadClaim, "DPoP proof has no numeric iat")
	errProofATH          = newError(ReasonBadClaim, "DPoP proof ath is not a string")
	errProofNonce        = newError(ReasonBadClaim, "DPoP proof nonce is not a string")
)

// ParseProof checks a DPoP proof as far as it can be checked without the
// request: the compact JWS rules of Parse (canonical base64url, strict JSON
// without duplicates, no crit, no none), typ dpop+jwt, an alg that is
// asymmetric and in allowed, a jwk header member that is a usable public
// key (no private members, RSA of 2048 bits or more, a point on its curve)
// whose type fits alg, a valid signature by that key, and the claims jti,
// htm, htu (strings) and iat (a number), with ath and nonce strings when
// present. The signature is checked by the same code that checks access
// tokens, in Go. maxBytes <= 0 means DefaultProofMaxBytes.
func ParseProof(raw string, allowed AlgSet, maxBytes int) (*Proof, error) {
	p, _, err := ParseProofWith(raw, allowed, maxBytes, nil)
	return p, err
}

// ParseProofWith is ParseProof with the proof's signature checked as
// Key.CheckSignature does: RS* and ES* by v when v is not nil. It also
// reports who checked the signature. A signature v answered Unverifiable
// for is an error with ReasonUnverifiable.
func ParseProofWith(raw string, allowed AlgSet, maxBytes int, v Verifier) (*Proof, Checks, error) {
	var checks Checks
	if maxBytes <= 0 {
		maxBytes = DefaultProofMaxBytes
	}
	t, err := Parse(raw, maxBytes)
	if err != nil {
		return nil, checks, proofError(err)
	}
	var typ, jwk []byte // nil when absent
	var hasJWK bool
	it := newMemberIter(t.Header)
	for {
		name, v, ok := it.next()
		if !ok {
			break
		}
		switch {
		case name.equalString("typ"):
			typ = v
		case name.equalString("jwk"):
			jwk, hasJWK = v, true
		}
	}
	if s, ok := stringValue(typ); !ok || !strings.EqualFold(s.str(), ProofTyp) {
		return nil, checks, errProofTyp
	}
	if hsAlgs.Has(t.alg) {
		return nil, checks, errProofSymmetric
	}
	if !allowed.Has(t.alg) {
		return nil, checks, errProofAlg
	}
	if !hasJWK || kindOf(jwk) != kindObject {
		return nil, checks, errProofNoJWK
	}
	key, why := parseJWK(jwk, false)
	if why != "" {
		return nil, checks, newError(ReasonNoKey, "DPoP proof jwk is not a usable public key: "+why)
	}
	if !key.algs.Has(t.alg) {
		return nil, checks, errProofKeyAlg
	}
	switch c := key.CheckSignature(t.alg, t.signingInput, t.Signature, v); {
	case c.Failed:
		return nil, checks, errProofUnverifiable
	case c.Native:
		checks.Native++
		if !c.Valid {
			return nil, checks, errProofSignature
		}
	default:
		checks.Go++
		if !c.Valid {
			return nil, checks, errProofSignature
		}
	}
	p := &Proof{Alg: t.alg, Key: key}
	if err := p.readClaims(t.Payload); err != nil {
		return nil, checks, err
	}
	// parseJWK accepted the key, so the members the thumbprint needs are
	// present strings.
	if p.Thumbprint, err = Thumbprint(jwk); err != nil {
		return nil, checks, err
	}
	return p, checks, nil
}

// proofError rewords a Parse error for a proof, keeping its reason.
func proofError(err error) error {
	if e, ok := err.(*Error); ok {
		return &Error{Reason: e.Reason, Detail: "DPoP proof: " + e.Error()}
	}
	return err
}

// readClaims reads the RFC 9449 §4.2 claims in one pass over the payload
// (already checked to be a strict object without duplicate names).
func (p *Proof) readClaims(payload []byte) error {
	var hasJTI, hasHTM, hasHTU, hasIAT bool
	it := newMemberIter(payload)
	for {
		name, v, ok := it.next()
		if !ok {
			break
		}
		raw := name.decoded() // the raw bytes themselves when unescaped
		switch string(raw) {
		case "jti":
			s, ok := stringValue(v)
			if !ok || len(s.raw) == 0 {
				return errProofJTI
			}
			p.JTI, hasJTI = s.str(), true
		case "htm":
			s, ok := stringValue(v)
			if !ok {
				return errProofHTM
			}
			p.HTM, hasHTM = s.str(), true
		case "htu":
			s, ok := stringValue(v)
			if !ok {
				return errProofHTU
			}
			p.HTU, hasHTU = s.str(), true
		case "iat":
			f, ok := numericDate(v)
			if !ok {
				return errProofIAT
			}
			p.IAT, hasIAT = f, true
		case "ath":
			s, ok := stringValue(v)
			if !ok {
				return errProofATH
			}
			p.ATH, p.HasATH = s.str(), true
		case "nonce":
			s, ok := stringValue(v)
			if !ok {
				return errProofNonce
			}
			p.Nonce, p.HasNonce = s.str(), true
		}
	}
	switch {
	case !hasJTI:
		return errProofJTI
	case !hasHTM:
		return errProofHTM
	case !hasHTU:
		return errProofHTU
	case !hasIAT:
		return errProofIAT
	}
	return nil
}

// BindsAccessToken reports whether the proof's ath is the hash of token
// (RFC 9449 §4.3 step 12): a proof made for one token cannot carry another.
func (p *Proof) BindsAccessToken(token string) bool {
	return p.HasATH && p.ATH == AccessTokenHash(token)
}

// AccessTokenHash is the ath of a proof presented with token: base64url of
// the SHA-256 of its ASCII bytes (RFC 9449 §4.2).
func AccessTokenHash(token string) string {
	sum := sha256.Sum256(stringBytes(token))
	return b64.EncodeToString(sum[:])
}

var (
	errThumbprintJWK  = newError(ReasonMalformed, "JWK is not a JSON object")
	errThumbprintKty  = newError(ReasonMalformed, "JWK has no supported kty for a thumbprint")
	errThumbprintPart = newError(ReasonMalformed, "JWK lacks a string member its thumbprint needs")
)

// thumbprintMembers lists, for each kty, the members an RFC 7638 thumbprint
// hashes, in lexicographic order (kty among them).
var thumbprintMembers = map[string][]string{
	"EC":  {"crv", "kty", "x", "y"},
	"RSA": {"e", "kty", "n"},
	"OKP": {"crv", "kty", "x"},
	"oct": {"k", "kty"},
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of a JWK (a JSON
// object), base64url: the SHA-256 of the key's required members, sorted, as
// JSON without whitespace. Other members are ignored. The JWK need not be a
// usable key; only its members' presence and types are checked.
func Thumbprint(jwk []byte) (string, error) {
	if checkObject(jwk) != jsonOK {
		return "", errThumbprintJWK
	}
	ktyVal, ok := member(jwk, "kty")
	if !ok {
		return "", errThumbprintKty
	}
	kty, ok := stringValue(ktyVal)
	if !ok {
		return "", errThumbprintKty
	}
	names := thumbprintMembers[kty.str()]
	if names == nil {
		return "", errThumbprintKty
	}
	buf := make([]byte, 0, 256)
	buf = append(buf, '{')
	for i, name := range names {
		v, ok := member(jwk, name)
		if !ok {
			return "", errThumbprintPart
		}
		s, ok := stringValue(v)
		if !ok {
			return "", errThumbprintPart
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, name...)
		buf = append(buf, `":"`...)
		buf = appendJSONString(buf, s.decoded())
		buf = append(buf, '"')
	}
	buf = append(buf, '}')
	sum := sha256.Sum256(buf)
	return b64.EncodeToString(sum[:]), nil
}

// appendJSONString appends s escaped as the inside of a JSON string, with
// the minimal escapes (RFC 8259 §7) that RFC 7638 §3.3 asks for.
func appendJSONString(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
