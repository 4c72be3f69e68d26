package jwt

import (
	"crypto"
	"errors"
	"strings"

	// The hash implementations are linked in explicitly: crypto.Hash.New
	// panics for hashes that were never imported.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Alg is a JWS signature algorithm (RFC 7518 §3, RFC 8037 for EdDSA).
// The zero value is not an algorithm.
type Alg uint8

// The supported algorithms.
const (
	RS256 Alg = iota + 1
	RS384
	RS512
	ES256
	ES384
	ES512
	PS256
	PS384
	PS512
	EdDSA
	HS256
	HS384
	HS512
	algEnd
)

var algNames = [...]string{
	RS256: "RS256", RS384: "RS384", RS512: "RS512",
	ES256: "ES256", ES384: "ES384", ES512: "ES512",
	PS256: "PS256", PS384: "PS384", PS512: "PS512",
	EdDSA: "EdDSA",
	HS256: "HS256", HS384: "HS384", HS512: "HS512",
}

// String returns the JOSE name of the algorithm ("RS256", ...), or "" for an
// invalid value.
func (a Alg) String() string {
	if a > 0 && a < algEnd {
		return algNames[a]
	}
	return ""
}

// ParseAlg looks up a JOSE algorithm name. Names are case-sensitive, as in
// RFC 7515; "none" is never an algorithm here.
func ParseAlg(name string) (Alg, bool) {
	for a := RS256; a < algEnd; a++ {
		if algNames[a] == name {
			return a, true
		}
	}
	return 0, false
}

// hash returns the digest the algorithm signs (0 for EdDSA, which signs the
// message itself).
func (a Alg) hash() crypto.Hash {
	switch a {
	case RS256, ES256, PS256, HS256:
		return crypto.SHA256
	case RS384, ES384, PS384, HS384:
		return crypto.SHA384
	case RS512, ES512, PS512, HS512:
		return crypto.SHA512
	}
	return 0
}

// AlgSet is a set of algorithms, one bit per Alg.
type AlgSet uint32

// Has reports whether a is in the set.
func (s AlgSet) Has(a Alg) bool { return a > 0 && a < algEnd && s&(1<<a) != 0 }

// With returns the set with a added.
func (s AlgSet) With(a Alg) AlgSet { return s | 1<<a }

// String lists the algorithms, space-separated, in a fixed order.
func (s AlgSet) String() string {
	var b strings.Builder
	for a := RS256; a < algEnd; a++ {
		if s.Has(a) {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(a.String())
		}
	}
	return b.String()
}

func algSetOf(algs ...Alg) AlgSet {
	var s AlgSet
	for _, a := range algs {
		s = s.With(a)
	}
	return s
}

// Algorithm families, used to bind algorithms to key types.
var (
	rsaAlgs = algSetOf(RS256, RS384, RS512, PS256, PS384, PS512)
	hsAlgs  = algSetOf(HS256, HS384, HS512)
)

// DefaultAlgs is every asymmetric algorithm; HMAC must be asked for
// explicitly.
const DefaultAlgs AlgSet = 1<<RS256 | 1<<RS384 | 1<<RS512 | 1<<PS256 | 1<<PS384 | 1<<PS512 |
	1<<ES256 | 1<<ES384 | 1<<ES512 | 1<<EdDSA

// ParseAlgSet builds a set from JOSE names. An unknown name (including
// "none") or an empty list is an error naming the problem.
func ParseAlgSet(names []string) (AlgSet, error) {
	if len(names) == 0 {
		return 0, errors.New("no algorithms listed")
	}
	var s AlgSet
	for _, n := range names {
		a, ok := ParseAlg(n)
		if !ok {
			return 0, errors.New("unsupported algorithm " + quote(n) + " (supported: " + (DefaultAlgs | hsAlgs).String() + ")")
		}
		s = s.With(a)
	}
	return s, nil
}

// quote renders a configuration value for an error message without fmt.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "..."
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[c>>4])
			b.WriteByte("0123456789abcdef"[c&15])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
