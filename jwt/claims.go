package jwt

import (
	"math"
	"math/bits"
	"strconv"
	"time"
)

// Validator checks the registered claims of a verified token (RFC 7519 §4.1).
type Validator struct {
	// Issuer, when not empty, must equal iss exactly.
	Issuer string
	// Audiences, when not empty, must contain one of the token's aud values
	// (exact string match).
	Audiences []string
	// ClockSkew is allowed both ways on exp, nbf and iat.
	ClockSkew time.Duration
	// MaxLifetime, when > 0, requires iat and exp with exp - iat <= MaxLifetime.
	MaxLifetime time.Duration
	// RequireExp rejects tokens without exp.
	RequireExp bool
}

// Claims are the registered claims Validate read. Iss and Sub may share
// memory with the payload, which must not be modified afterwards (Token
// payloads never are).
type Claims struct {
	Iss, Sub               string  // "" when absent
	Exp, Nbf, Iat          float64 // seconds since the epoch; fractions allowed
	HasExp, HasNbf, HasIat bool    // presence, since 0 is a valid NumericDate
}

var (
	errClaimType     = newError(ReasonBadClaim, "token has a claim of the wrong type")
	errClaimNumber   = newError(ReasonBadClaim, "token time claim is not a number")
	errClaimDup      = newError(ReasonBadClaim, "token has a duplicate registered claim")
	errPayloadObj    = newError(ReasonMalformed, "token payload is not a JSON object")
	errMissingExp    = newError(ReasonMissingExp, "token has no expiry (exp)")
	errExpired       = newError(ReasonExpired, "token expired")
	errNotYetValid   = newError(ReasonNotYetValid, "token not yet valid")
	errIatFuture     = newError(ReasonIssuedInFuture, "token issued in the future")
	errLifetimeNeeds = newError(ReasonLifetime, "token lacks iat or exp needed to bound its lifetime")
	errLifetime      = newError(ReasonLifetime, "token lifetime too long")
	errIssuer        = newError(ReasonBadIssuer, "token issuer not accepted")
	errAudType       = newError(ReasonBadAudience, "token audience (aud) is not a string or array of strings")
	errAudience      = newError(ReasonBadAudience, "token audience not accepted")
)

// The registered claims Validator reads, as the three bytes of their names
// read little-endian.
const (
	claimISS = 'i' | 's'<<8 | 's'<<16
	claimSUB = 's' | 'u'<<8 | 'b'<<16
	claimAUD = 'a' | 'u'<<8 | 'd'<<16
	claimEXP = 'e' | 'x'<<8 | 'p'<<16
	claimNBF = 'n' | 'b'<<8 | 'f'<<16
	claimIAT = 'i' | 'a'<<8 | 't'<<16
	claimCNF = 'c' | 'n'<<8 | 'f'<<16 // read by Token.Confirmation
)

// numericDate reads a JSON number (integer or fraction, RFC 7519 §2).
func numericDate(v []byte) (float64, bool) {
	if kindOf(v) != kindNumber {
		return 0, false
	}
	if len(v) <= 15 {
		// The usual NumericDate, a plain integer, read exactly (below 2^53)
		// without strconv, which costs microseconds in wasm.
		var n int64
		i := 0
		for ; i < len(v) && isDigit(v[i]); i++ {
			n = n*10 + int64(v[i]-'0')
		}
		if i == len(v) {
			return float64(n), true
		}
	}
	f, err := strconv.ParseFloat(bytesString(v), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// stringClaim stores a string-valued registered claim (iss, sub) in dst.
// The type is checked before duplication so a claim that is both mistyped
// and repeated reports the type error, as it always has.
func stringClaim(val []byte, dst *string, has *bool) error {
	s, ok := stringValue(val)
	if !ok {
		return errClaimType
	}
	if *has {
		return errClaimDup
	}
	*dst, *has = s.str(), true
	return nil
}

// Validate reads iss, sub, aud, exp, nbf and iat from payload in one pass
// and checks them at time now: types first (exp/nbf/iat must be JSON
// numbers, iss/sub strings, aud a string or array of strings), then exp is
// required (if RequireExp), then time (valid while now <= exp+skew and
// now >= nbf-skew; iat later than now+skew is rejected; MaxLifetime), then
// issuer and audience. The first failure is returned; the Claims read so
// far are returned with it, so a denial can be logged with sub and iss.
func (v *Validator) Validate(payload []byte, now time.Time) (Claims, error) {
	if kindOf(trimLeftWS(payload)) != kindObject {
		return Claims{}, errPayloadObj
	}
	var r claimReader
	it := newMemberIter(payload)
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		raw := name.decoded() // the raw bytes themselves when unescaped
		if err := r.member(raw, val); err != nil {
			return r.c, err
		}
	}
	return v.check(&r, now)
}

// ValidateToken is Validate on the token's payload, reading only its
// registered claims where Parse found them, in payload order (a payload
// with two mistyped claims reports the first, as a scan does).
func (v *Validator) ValidateToken(t *Token, now time.Time) (Claims, error) {
	if t.claims.overflow {
		return v.Validate(t.Payload, now)
	}
	var r claimReader
	for m := t.registered.validated; m != 0; m &= m - 1 {
		c := &t.claims.members[bits.TrailingZeros32(m)]
		name := jsonString{raw: t.Payload[c.name.start:c.name.end], escaped: c.name.escaped}.decoded()
		if err := r.member(name, t.Payload[c.valueStart:c.valueEnd]); err != nil {
			return r.c, err
		}
	}
	return v.check(&r, now)
}

// claimReader collects the registered claims of a payload, member by member.
type claimReader struct {
	c                      Claims
	aud                    []byte
	hasIss, hasSub, hasAud bool
}

// member reads one top-level member (its decoded name and raw value): a
// registered claim of the wrong type, or one seen before, is an error.
func (r *claimReader) member(name, val []byte) error {
	if len(name) != 3 {
		return nil
	}
	c := &r.c
	// The names as numbers: one integer switch instead of string
	// comparisons, which are calls in wasm.
	switch uint32(name[0]) | uint32(name[1])<<8 | uint32(name[2])<<16 {
	case claimISS:
		return stringClaim(val, &c.Iss, &r.hasIss)
	case claimSUB:
		return stringClaim(val, &c.Sub, &r.hasSub)
	case claimAUD:
		if r.hasAud {
			return errClaimDup
		}
		r.aud, r.hasAud = val, true
	case claimEXP, claimNBF, claimIAT:
		f, ok := numericDate(val)
		if !ok {
			return errClaimNumber
		}
		var dst *float64
		var has *bool
		switch name[0] {
		case 'e':
			dst, has = &c.Exp, &c.HasExp
		case 'n':
			dst, has = &c.Nbf, &c.HasNbf
		default:
			dst, has = &c.Iat, &c.HasIat
		}
		if *has {
			return errClaimDup
		}
		*dst, *has = f, true
	}
	return nil
}

// check judges the claims r read at time now.
func (v *Validator) check(r *claimReader, now time.Time) (Claims, error) {
	c := r.c
	var audOK, audMatch bool
	if r.hasAud {
		if audOK, audMatch = audiences(r.aud, v.Audiences); !audOK {
			return c, errAudType
		}
	}

	if v.RequireExp && !c.HasExp {
		return c, errMissingExp
	}
	t := float64(now.Unix()) + float64(now.Nanosecond())/1e9
	skew := v.ClockSkew.Seconds()
	if c.HasExp && t > c.Exp+skew {
		return c, errExpired
	}
	if c.HasNbf && t < c.Nbf-skew {
		return c, errNotYetValid
	}
	if c.HasIat && c.Iat > t+skew {
		return c, errIatFuture
	}
	if v.MaxLifetime > 0 {
		if !c.HasIat || !c.HasExp {
			return c, errLifetimeNeeds
		}
		if c.Exp-c.Iat > v.MaxLifetime.Seconds() {
			return c, errLifetime
		}
	}
	if v.Issuer != "" && (!r.hasIss || c.Iss != v.Issuer) {
		return c, errIssuer
	}
	if len(v.Audiences) > 0 && !audMatch {
		return c, errAudience
	}
	return c, nil
}

func trimLeftWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}

// audiences reads aud in one pass: whether it is a string or an array of
// strings (RFC 7519 §4.1.3), and whether one of them is in want.
func audiences(aud []byte, want []string) (wellTyped, match bool) {
	switch kindOf(aud) {
	case kindString:
		s, ok := stringValue(aud)
		return ok, ok && containsString(want, s.str())
	case kindArray:
		it := newArrayIter(aud)
		for {
			e, ok := it.next()
			if !ok {
				return !it.bad, match && !it.bad
			}
			s, ok := stringValue(e)
			if !ok {
				return false, false
			}
			match = match || containsString(want, s.str())
		}
	}
	return false, false
}

func containsString(list []string, s string) bool {
	for _, w := range list {
		if w == s {
			return true
		}
	}
	return false
}
