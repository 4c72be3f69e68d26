package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"math/big"
	"strconv"
	"strings"
)

// Bounds applied by ParseJWKS when JWKSOptions leaves them zero.
const (
	DefaultJWKSMaxBytes = 512 << 10
	DefaultJWKSMaxKeys  = 100
)

// RSA modulus bounds: below 2048 bits is too weak (RFC 7518 §3.3); above
// 8192 bits makes each verification a denial-of-service lever.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// Key is one usable verification key from a JWKS, parsed once into a ready
// Go public key.
type Key struct {
	Kid string // "" when the JWK had no kid (see HasKid)
	Kty string // "RSA", "EC", "OKP" or "oct"
	Alg string // the JWK's declared alg, "" if it declared none
	Crv string // "P-256", "P-384", "P-521", "Ed25519"; "" for RSA and oct
	// Public is *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, or
	// []byte for oct (HMAC) keys.
	Public any
	// HasKid distinguishes an absent kid from an empty one; kid-less keys are
	// never candidates for a token that names a kid.
	HasKid bool

	algs    AlgSet // the algorithms this key may verify (DESIGN §5)
	ecSize  int    // EC: byte length of R and of S in a raw signature
	ecOrder []byte // EC: the curve's order n, ecSize bytes big-endian (R and S must be in [1, n-1])
	rsaSize int    // RSA: byte length of the modulus, which every signature has exactly
	spki    []byte // RSA and EC: DER SubjectPublicKeyInfo for a native Verifier, built once here
}

// Algs returns the algorithms the key may verify: its declared alg, or
// every algorithm its type and curve allow.
func (k *Key) Algs() AlgSet { return k.algs }

// KeySet is the usable keys of one JWKS document.
type KeySet struct {
	Keys []*Key // in document order; Verify returns the first that verifies
}

// SkippedKey records a JWK that was left out of a KeySet and why, so the
// caller can log it.
type SkippedKey struct {
	Index  int    // position in the document's "keys" array
	Kid    string // the JWK's kid, if it had a readable one
	Reason string // short explanation, safe to log
}

// JWKSOptions bounds and configures ParseJWKS.
type JWKSOptions struct {
	MaxBytes int  // document size bound; 0 means DefaultJWKSMaxBytes
	MaxKeys  int  // bound on the "keys" array length; 0 means DefaultJWKSMaxKeys
	AllowOct bool // accept symmetric (kty "oct") keys; only for local key sets with HS* allowed
}

// ParseJWKS parses a JSON Web Key Set (RFC 7517 §5). Keys that cannot or must
// not be used are skipped with a reason while the rest load; an error means
// the document itself is unusable (too large, not strict JSON, no "keys"
// array, too many keys) or that no usable key remained.
func ParseJWKS(data []byte, opts JWKSOptions) (*KeySet, []SkippedKey, error) {
	maxBytes, maxKeys := opts.MaxBytes, opts.MaxKeys
	if maxBytes <= 0 {
		maxBytes = DefaultJWKSMaxBytes
	}
	if maxKeys <= 0 {
		maxKeys = DefaultJWKSMaxKeys
	}
	if len(data) > maxBytes {
		return nil, nil, newError(ReasonTooLarge, "key set is "+strconv.Itoa(len(data))+" bytes, over the limit of "+strconv.Itoa(maxBytes))
	}
	if f := checkObject(data); f != jsonOK {
		return nil, nil, newError(ReasonMalformed, "key set: "+f.String())
	}
	keysVal, ok := member(data, "keys")
	if !ok {
		return nil, nil, newError(ReasonMalformed, `key set has no "keys" member`)
	}
	if kindOf(keysVal) != kindArray {
		return nil, nil, newError(ReasonMalformed, `key set "keys" is not an array`)
	}
	ks := &KeySet{}
	var skipped []SkippedKey
	it := newArrayIter(keysVal)
	for i := 0; ; i++ {
		v, ok := it.next()
		if !ok {
			break
		}
		if i >= maxKeys {
			return nil, skipped, newError(ReasonTooLarge, "key set has more than "+strconv.Itoa(maxKeys)+" keys")
		}
		k, reason := parseJWK(v, opts.AllowOct)
		if reason != "" {
			sk := SkippedKey{Index: i, Reason: reason}
			if kv, ok := member(v, "kid"); ok {
				if s, ok := stringValue(kv); ok {
					sk.Kid = strings.Clone(s.str())
				}
			}
			skipped = append(skipped, sk)
			continue
		}
		ks.Keys = append(ks.Keys, k)
	}
	if len(ks.Keys) == 0 {
		msg := "key set has no usable key"
		for i, s := range skipped {
			if i == 3 {
				msg += "; ..."
				break
			}
			msg += "; key " + strconv.Itoa(s.Index) + ": " + s.Reason
		}
		return nil, skipped, newError(ReasonNoKey, msg)
	}
	return ks, skipped, nil
}

// HasKid reports whether some key in the set carries exactly this kid.
func (ks *KeySet) HasKid(kid string) bool {
	if ks == nil {
		return false
	}
	for _, k := range ks.Keys {
		if k.HasKid && k.Kid == kid {
			return true
		}
	}
	return false
}

// jwkString reads an optional string member; present-but-not-a-string is
// reported as bad.
func jwkString(obj []byte, name string) (s string, present, bad bool) {
	v, ok := member(obj, name)
	if !ok {
		return "", false, false
	}
	js, ok := stringValue(v)
	if !ok {
		return "", true, true
	}
	// Keys outlive the document buffer's owner, so copy.
	return strings.Clone(js.str()), true, false
}

// jwkBytes decodes a required base64url member.
func jwkBytes(obj []byte, name string) ([]byte, string) {
	s, present, bad := jwkString(obj, name)
	switch {
	case !present:
		return nil, "missing " + name
	case bad:
		return nil, name + " is not a string"
	}
	b, ok := decodeB64String(s)
	if !ok {
		return nil, name + " is not canonical unpadded base64url"
	}
	return b, ""
}

func hasAnyMember(obj []byte, names ...string) bool {
	for _, n := range names {
		if _, ok := member(obj, n); ok {
			return true
		}
	}
	return false
}

// parseJWK builds a Key from one JWK, or says why it is skipped.
func parseJWK(obj []byte, allowOct bool) (*Key, string) {
	if kindOf(obj) != kindObject {
		return nil, "not a JSON object"
	}
	k := &Key{}
	var present, bad bool
	if k.Kty, present, bad = jwkString(obj, "kty"); !present || bad {
		return nil, "missing or non-string kty"
	}
	if k.Kid, k.HasKid, bad = jwkString(obj, "kid"); bad {
		return nil, "kid is not a string"
	}
	if use, present, bad := jwkString(obj, "use"); bad {
		return nil, "use is not a string"
	} else if present && use != "sig" {
		return nil, "use is " + quote(use) + ", not \"sig\""
	}
	if ops, ok := member(obj, "key_ops"); ok {
		if kindOf(ops) != kindArray {
			return nil, "key_ops is not an array"
		}
		verify := false
		it := newArrayIter(ops)
		for {
			v, ok := it.next()
			if !ok {
				break
			}
			s, ok := stringValue(v)
			if !ok {
				return nil, "key_ops holds a non-string"
			}
			if s.equalString("verify") {
				verify = true
			}
		}
		if !verify {
			return nil, "key_ops does not include \"verify\""
		}
	}
	var declared Alg
	if k.Alg, present, bad = jwkString(obj, "alg"); bad {
		return nil, "alg is not a string"
	} else if present {
		a, ok := ParseAlg(k.Alg)
		if !ok {
			return nil, "unsupported alg " + quote(k.Alg)
		}
		declared = a
	}

	var reason string
	switch k.Kty {
	case "RSA":
		reason = parseRSA(k, obj)
	case "EC":
		reason = parseEC(k, obj)
	case "OKP":
		reason = parseOKP(k, obj)
	case "oct":
		if !allowOct {
			return nil, "symmetric (oct) keys are not allowed here"
		}
		reason = parseOct(k, obj)
	default:
		return nil, "unsupported kty " + quote(k.Kty)
	}
	if reason != "" {
		return nil, reason
	}
	if declared != 0 {
		// DESIGN §5: a key is used only with the alg it declares, and that
		// alg must fit its type and curve.
		if !k.algs.Has(declared) {
			return nil, "alg " + declared.String() + " does not fit kty " + k.Kty + crvSuffix(k.Crv)
		}
		k.algs = AlgSet(0).With(declared)
	}
	return k, ""
}

func crvSuffix(crv string) string {
	if crv == "" {
		return ""
	}
	return " crv " + crv
}

// jwkBytesPair decodes the two base64url members every public key is made
// of (RSA n and e, EC x and y), reporting the first one that is missing or
// malformed.
func jwkBytesPair(obj []byte, first, second string) (a, b []byte, why string) {
	if a, why = jwkBytes(obj, first); why != "" {
		return nil, nil, why
	}
	if b, why = jwkBytes(obj, second); why != "" {
		return nil, nil, why
	}
	return a, b, ""
}

func parseRSA(k *Key, obj []byte) string {
	if hasAnyMember(obj, "d", "p", "q", "dp", "dq", "qi", "oth") {
		return "contains private key material"
	}
	n, e, why := jwkBytesPair(obj, "n", "e")
	if why != "" {
		return why
	}
	N := new(big.Int).SetBytes(n)
	bits := N.BitLen()
	switch {
	case bits < minRSABits:
		return "RSA modulus is " + strconv.Itoa(bits) + " bits, fewer than " + strconv.Itoa(minRSABits)
	case bits > maxRSABits:
		return "RSA modulus is " + strconv.Itoa(bits) + " bits, more than " + strconv.Itoa(maxRSABits)
	case N.Bit(0) == 0:
		return "RSA modulus is even"
	}
	for len(e) > 0 && e[0] == 0 {
		e = e[1:]
	}
	if len(e) == 0 || len(e) > 4 {
		return "RSA exponent out of range"
	}
	var E uint64
	for _, b := range e {
		E = E<<8 | uint64(b)
	}
	if E < 3 || E&1 == 0 || E > 1<<31-1 {
		return "RSA exponent out of range"
	}
	pub := &rsa.PublicKey{N: N, E: int(E)}
	k.Public = pub
	k.algs = rsaAlgs
	k.rsaSize = (bits + 7) / 8
	k.spki = rsaSPKI(pub)
	return ""
}

// curveInfo maps a JWK crv to its curve, coordinate size and algorithm.
func curveInfo(crv string) (elliptic.Curve, int, Alg) {
	switch crv {
	case "P-256":
		return elliptic.P256(), 32, ES256
	case "P-384":
		return elliptic.P384(), 48, ES384
	case "P-521":
		return elliptic.P521(), 66, ES512
	}
	return nil, 0, 0
}

// curveKeyCrv checks what EC and OKP keys share before their curves part
// ways: no private scalar d (a JWKS that leaks one is refused rather than
// trusted), and a string crv naming the curve.
func curveKeyCrv(obj []byte) (crv, why string) {
	if hasAnyMember(obj, "d") {
		return "", "contains private key material"
	}
	crv, present, bad := jwkString(obj, "crv")
	if !present || bad {
		return "", "missing or non-string crv"
	}
	return crv, ""
}

func parseEC(k *Key, obj []byte) string {
	crv, why := curveKeyCrv(obj)
	if why != "" {
		return why
	}
	curve, size, alg := curveInfo(crv)
	if curve == nil {
		return "unsupported EC crv " + quote(crv)
	}
	k.Crv = crv
	x, y, why := jwkBytesPair(obj, "x", "y")
	if why != "" {
		return why
	}
	if len(x) != size || len(y) != size {
		return "EC coordinates must be " + strconv.Itoa(size) + " bytes for " + crv
	}
	point := make([]byte, 0, 1+2*size)
	point = append(point, 4)
	point = append(point, x...)
	point = append(point, y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return "EC point is not on the curve " + crv
	}
	k.Public = pub
	k.ecSize = size
	k.ecOrder = curve.Params().N.FillBytes(make([]byte, size))
	k.algs = AlgSet(0).With(alg)
	k.spki = ecSPKI(curveOID(crv), point)
	return ""
}

func parseOKP(k *Key, obj []byte) string {
	crv, why := curveKeyCrv(obj)
	if why != "" {
		return why
	}
	if crv != "Ed25519" {
		return "unsupported OKP crv " + quote(crv)
	}
	k.Crv = crv
	x, why := jwkBytes(obj, "x")
	if why != "" {
		return why
	}
	if len(x) != ed25519.PublicKeySize {
		return "Ed25519 x must be 32 bytes"
	}
	k.Public = ed25519.PublicKey(x)
	k.algs = AlgSet(0).With(EdDSA)
	return ""
}

func parseOct(k *Key, obj []byte) string {
	secret, why := jwkBytes(obj, "k")
	if why != "" {
		return why
	}
	// RFC 7518 §3.2: the key must be at least as long as the hash output.
	if len(secret) < 32 {
		return "oct key shorter than 256 bits"
	}
	k.algs = AlgSet(0).With(HS256)
	if len(secret) >= 48 {
		k.algs = k.algs.With(HS384)
	}
	if len(secret) >= 64 {
		k.algs = k.algs.With(HS512)
	}
	k.Public = secret
	return ""
}
