package jwt

import (
	"math"
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
	return v.validate(membersOf(payload, nil), now)
}

// ValidateToken is Validate on the token's payload, reading its claims
// where Parse found them instead of scanning the payload again.
func (v *Validator) ValidateToken(t *Token, now time.Time) (Claims, error) {
	it := membersOf(t.Payload, &t.claims)
	if it.idx != nil {
		// Only the registered claims, in payload order: a payload with two
		// mistyped claims reports the first, as a scan does.
		it.filtered, it.only = true, t.registered.validated
	}
	return v.validate(it, now)
}

func (v *Validator) validate(it topMembers, now time.Time) (Claims, error) {
	var c Claims
	var aud []byte
	var hasIss, hasSub, hasAud bool
	for {
		name, val, ok := it.next()
		if !ok {
			break
		}
		raw := name.raw
		if name.escaped {
			raw = name.decoded()
		}
		if len(raw) != 3 {
			continue
		}
		switch string(raw) {
		case "iss":
			if err := stringClaim(val, &c.Iss, &hasIss); err != nil {
				return c, err
			}
		case "sub":
			if err := stringClaim(val, &c.Sub, &hasSub); err != nil {
				return c, err
			}
		case "aud":
			if hasAud {
				return c, errClaimDup
			}
			aud, hasAud = val, true
		case "exp", "nbf", "iat":
			f, ok := numericDate(val)
			if !ok {
				return c, errClaimNumber
			}
			var dst *float64
			var has *bool
			switch raw[0] {
			case 'e':
				dst, has = &c.Exp, &c.HasExp
			case 'n':
				dst, has = &c.Nbf, &c.HasNbf
			default:
				dst, has = &c.Iat, &c.HasIat
			}
			if *has {
				return c, errClaimDup
			}
			*dst, *has = f, true
		}
	}
	if hasAud && !audienceWellTyped(aud) {
		return c, errAudType
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
	if v.Issuer != "" && (!hasIss || c.Iss != v.Issuer) {
		return c, errIssuer
	}
	if len(v.Audiences) > 0 && (!hasAud || !audienceMatches(aud, v.Audiences)) {
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

// audienceWellTyped: aud is a string or an array of strings (RFC 7519 §4.1.3).
func audienceWellTyped(aud []byte) bool {
	switch kindOf(aud) {
	case kindString:
		return true
	case kindArray:
		it := newArrayIter(aud)
		for {
			e, ok := it.next()
			if !ok {
				return !it.bad
			}
			if kindOf(e) != kindString {
				return false
			}
		}
	}
	return false
}

func audienceMatches(aud []byte, want []string) bool {
	if kindOf(aud) == kindString {
		s, ok := stringValue(aud)
		return ok && containsString(want, s.str())
	}
	it := newArrayIter(aud)
	for {
		e, ok := it.next()
		if !ok {
			return false
		}
		if s, ok := stringValue(e); ok && containsString(want, s.str()) {
			return true
		}
	}
}

func containsString(list []string, s string) bool {
	for _, w := range list {
		if w == s {
			return true
		}
	}
	return false
}
