package jwt

import (
	"encoding/base64"
	"strings"
)

// DefaultMaxTokenBytes is the token size bound Parse applies when given
// maxBytes <= 0 (the same as the filter's max_token_bytes default).
const DefaultMaxTokenBytes = 16384

// Token is a parsed, not yet verified, compact JWS. Header and Payload are
// the decoded JSON texts (checked to be strict JSON objects); they share one
// buffer with Signature and are never modified, so strings read from them
// may alias them.
type Token struct {
	Raw    string // the compact serialization as received
	Alg    string // the header's alg, one of the supported names
	Kid    string // the header's kid, if HasKid
	HasKid bool   // distinguishes an absent kid from "", which JWKS keys may also carry
	Header []byte // the decoded protected header, a JSON object
	// Payload is the decoded claims set, a JSON object.
	Payload []byte
	// Signature is the decoded signature.
	Signature []byte

	alg          Alg
	signingInput string     // header "." payload, as received
	claims       claimIndex // where Payload's top-level members are, recorded by Parse's strict check
}

// Algorithm returns the token's alg as an Alg.
func (t *Token) Algorithm() Alg { return t.alg }

var (
	errTooLarge     = newError(ReasonTooLarge, "token too large")
	errEmptyToken   = newError(ReasonMalformed, "empty token")
	errJWE          = newError(ReasonMalformed, "encrypted tokens (JWE) are not supported")
	errSegments     = newError(ReasonMalformed, "token must have three dot-separated segments")
	errBase64       = newError(ReasonMalformed, "token segment is not canonical unpadded base64url")
	errEmptySeg     = newError(ReasonMalformed, "token has an empty header or payload")
	errUnsigned     = newError(ReasonUnsupportedAlg, "unsigned tokens are not accepted")
	errNoAlg        = newError(ReasonMalformed, "token header has no alg")
	errAlgType      = newError(ReasonMalformed, "token header alg is not a string")
	errAlgNone      = newError(ReasonUnsupportedAlg, "unsecured tokens (alg none) are not accepted")
	errAlgUnknown   = newError(ReasonUnsupportedAlg, "unsupported token algorithm")
	errCrit         = newError(ReasonCrit, "token header has critical extensions (crit) that are not understood")
	errB64          = newError(ReasonMalformed, "unencoded payloads (b64) are not supported")
	errKidType      = newError(ReasonMalformed, "token header kid is not a string")
	errHeaderSyntax = newError(ReasonMalformed, "token header is not valid JSON")
	errHeaderDup    = newError(ReasonMalformed, "token header has a duplicate member name")
	errHeaderDepth  = newError(ReasonMalformed, "token header is nested too deeply")
	errHeaderObj    = newError(ReasonMalformed, "token header is not a JSON object")
	errClaimsSyntax = newError(ReasonMalformed, "token payload is not valid JSON")
	errClaimsDup    = newError(ReasonMalformed, "token payload has a duplicate member name")
	errClaimsDepth  = newError(ReasonMalformed, "token payload is nested too deeply")
	errClaimsObj    = newError(ReasonMalformed, "token payload is not a JSON object")
)

func headerError(f jsonFault) error {
	switch f {
	case jsonDuplicate:
		return errHeaderDup
	case jsonTooDeep:
		return errHeaderDepth
	case jsonNotObject:
		return errHeaderObj
	}
	return errHeaderSyntax
}

func payloadError(f jsonFault) error {
	switch f {
	case jsonDuplicate:
		return errClaimsDup
	case jsonTooDeep:
		return errClaimsDepth
	case jsonNotObject:
		return errClaimsObj
	}
	return errClaimsSyntax
}

// b64 is base64url without padding, rejecting non-zero trailing bits
// (RFC 7515 §2 and Appendix C: one encoding per byte string).
var b64 = base64.RawURLEncoding.Strict()

// hasLineBreak reports whether s holds CR or LF: the standard decoder
// silently skips those two bytes (and rejects every other byte outside the
// alphabet), so checking for them first makes decoding exact. IndexByte
// runs as assembly even in wasm, where a byte-by-byte table check of the
// whole token cost several microseconds per Parse.
func hasLineBreak(s string) bool {
	return strings.IndexByte(s, '\n') >= 0 || strings.IndexByte(s, '\r') >= 0
}

// decodeB64 decodes a canonical unpadded base64url string into dst, which
// must have room for b64.DecodedLen(len(s)) bytes.
func decodeB64(dst []byte, s string) ([]byte, bool) {
	if hasLineBreak(s) {
		return nil, false
	}
	n, err := b64.Decode(dst, stringBytes(s))
	if err != nil {
		return nil, false
	}
	return dst[:n:n], true
}

// decodeB64String decodes into a new buffer.
func decodeB64String(s string) ([]byte, bool) {
	return decodeB64(make([]byte, b64.DecodedLen(len(s))), s)
}

// Parse decodes a compact JWS and checks everything that can be checked
// without a key: three segments of canonical unpadded base64url, header and
// payload strict JSON objects without duplicate member names and at most 32
// levels deep, a supported alg (never "none"), no crit, no b64:false. The
// header's jku, x5u, jwk and x5c are ignored: keys come only from the
// caller's key set. maxBytes <= 0 means DefaultMaxTokenBytes.
func Parse(raw string, maxBytes int) (*Token, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxTokenBytes
	}
	if len(raw) > maxBytes {
		return nil, errTooLarge
	}
	if raw == "" {
		return nil, errEmptyToken
	}
	// Exactly two dots. IndexByte (assembly even in wasm) finds them; the
	// full count only runs for the rare token that has more.
	d1 := strings.IndexByte(raw, '.')
	d2 := -1
	if d1 >= 0 {
		if i := strings.IndexByte(raw[d1+1:], '.'); i >= 0 {
			d2 = d1 + 1 + i
		}
	}
	switch {
	case d2 < 0:
		return nil, errSegments
	case strings.IndexByte(raw[d2+1:], '.') >= 0:
		if strings.Count(raw, ".") == 4 {
			return nil, errJWE
		}
		return nil, errSegments
	}
	hSeg, pSeg, sSeg := raw[:d1], raw[d1+1:d2], raw[d2+1:]
	if hSeg == "" || pSeg == "" {
		return nil, errEmptySeg
	}
	if sSeg == "" {
		return nil, errUnsigned
	}

	// One allocation holds all three decoded segments.
	hn, pn, sn := b64.DecodedLen(len(hSeg)), b64.DecodedLen(len(pSeg)), b64.DecodedLen(len(sSeg))
	buf := make([]byte, hn+pn+sn)
	header, ok := decodeB64(buf[:hn], hSeg)
	if !ok {
		return nil, errBase64
	}
	payload, ok := decodeB64(buf[hn:hn+pn], pSeg)
	if !ok {
		return nil, errBase64
	}
	sig, ok := decodeB64(buf[hn+pn:], sSeg)
	if !ok {
		return nil, errBase64
	}
	if f := checkObject(header); f != jsonOK {
		return nil, headerError(f)
	}
	t := &Token{Raw: raw, Header: header, Payload: payload, Signature: sig, signingInput: raw[:d2]}
	if f := checkObjectIndexed(payload, &t.claims); f != jsonOK {
		return nil, payloadError(f)
	}

	it := newMemberIter(header)
	hasAlg := false
	for {
		name, v, ok := it.next()
		if !ok {
			break
		}
		switch {
		case name.equalString("alg"):
			s, ok := stringValue(v)
			if !ok {
				return nil, errAlgType
			}
			hasAlg = true
			algName := s.str()
			a, ok := ParseAlg(algName)
			if !ok {
				if strings.EqualFold(algName, "none") {
					return nil, errAlgNone
				}
				return nil, errAlgUnknown
			}
			t.alg, t.Alg = a, a.String()
		case name.equalString("crit"):
			return nil, errCrit
		case name.equalString("b64"):
			// RFC 7797: b64:false changes what is signed. It is not
			// supported; an explicit true changes nothing.
			if string(v) != "true" {
				return nil, errB64
			}
		case name.equalString("kid"):
			s, ok := stringValue(v)
			if !ok {
				return nil, errKidType
			}
			t.Kid, t.HasKid = s.str(), true
		}
	}
	if !hasAlg {
		return nil, errNoAlg
	}
	return t, nil
}
