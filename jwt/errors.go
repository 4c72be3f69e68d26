package jwt

import "errors"

// Reason classifies why a token or key set was rejected, so callers can map
// each failure to an HTTP answer without matching strings.
type Reason uint8

// Reasons. The zero value ReasonNone is what ReasonOf reports for nil and for
// errors that did not come from this package.
const (
	ReasonNone           Reason = iota
	ReasonMalformed             // not a well-formed compact JWS / JSON / JWKS
	ReasonUnsupportedAlg        // alg unknown, "none", or not allowed by the caller
	ReasonUnknownKid            // the token's kid is not in the key set (refetch, then reject)
	ReasonNoKey                 // no key in the set can verify this alg
	ReasonBadSignature          // no candidate key verified the signature
	ReasonExpired               // now > exp + skew
	ReasonNotYetValid           // now < nbf - skew
	ReasonIssuedInFuture        // iat > now + skew
	ReasonLifetime              // exp - iat exceeds the maximum lifetime, or iat/exp missing for that check
	ReasonMissingExp            // exp required but absent
	ReasonBadIssuer             // iss missing or different from the configured issuer
	ReasonBadAudience           // aud missing, of the wrong type, or matching no configured audience
	ReasonBadClaim              // a registered claim has the wrong JSON type
	ReasonCrit                  // the header has "crit" (no extension is understood)
	ReasonTooLarge              // token or key set over its size bound
	ReasonUnverifiable          // a Verifier could not check the signature and forbade checking it in Go
)

var reasonNames = [...]string{
	ReasonNone:           "none",
	ReasonMalformed:      "malformed",
	ReasonUnsupportedAlg: "unsupported_alg",
	ReasonUnknownKid:     "unknown_kid",
	ReasonNoKey:          "no_key",
	ReasonBadSignature:   "bad_signature",
	ReasonExpired:        "expired",
	ReasonNotYetValid:    "not_yet_valid",
	ReasonIssuedInFuture: "issued_in_future",
	ReasonLifetime:       "lifetime",
	ReasonMissingExp:     "missing_exp",
	ReasonBadIssuer:      "bad_issuer",
	ReasonBadAudience:    "bad_audience",
	ReasonBadClaim:       "bad_claim",
	ReasonCrit:           "crit",
	ReasonTooLarge:       "too_large",
	ReasonUnverifiable:   "unverifiable",
}

// String returns a stable snake_case name for logs and metrics.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Error is the error type of this package. Its message is short and safe to
// send to a client: it is always written by this package and never contains
// token or key content.
type Error struct {
	Reason Reason // what callers branch on (metrics, retry on unknown kid)
	Detail string // the message; "" falls back to the Reason's name
}

// Error returns the client-safe description.
func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return "token rejected: " + e.Reason.String()
}

// Is makes errors.Is match any *Error with the same Reason, so
// errors.Is(err, ErrUnknownKid) holds whatever the detail says.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// ErrUnknownKid is returned by KeySet.Verify when the token names a kid the
// set does not hold; the caller may refetch the key set and try again.
var ErrUnknownKid = &Error{Reason: ReasonUnknownKid, Detail: "token signed with an unknown key id"}

// ReasonOf returns the Reason of err if it is (or wraps) an *Error, and
// ReasonNone otherwise.
func ReasonOf(err error) Reason {
	// This package's errors come unwrapped on the request path; errors.As
	// walks with reflection, microseconds in wasm on every rejected token.
	if e, ok := err.(*Error); ok {
		return e.Reason
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonNone
}

// newError makes a package-level error value; errors are created once so the
// rejection path does not allocate.
func newError(r Reason, detail string) *Error { return &Error{Reason: r, Detail: detail} }
