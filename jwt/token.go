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
// (RFC 7515 §2 and Appendix C: one encoding per byte string). Only its
// DecodedLen is used: decodeB64 below decodes.
var b64 = base64.RawURLEncoding.Strict()

// b64Value maps a base64url character to its 6 bits; every other byte
// (padding, CR and LF included) maps to 0xff.
var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeB64 decodes a canonical unpadded base64url string (what b64
// accepts, nothing more) into dst, which must have room for
// b64.DecodedLen(len(s)) bytes. It decodes four characters per step with
// one validity test: in wasm it is about twice as fast as encoding/base64,
// and every token's three segments pass through it.
func decodeB64(dst []byte, s string) ([]byte, bool) {
	n := len(s)
	if n%4 == 1 || len(dst) < n/4*3+(n%4*3)/4 {
		return nil, false
	}
	i, j := 0, 0
	for ; i+4 <= n; i, j = i+4, j+3 {
		q := s[i : i+4]
		a, b, c, d := b64Value[q[0]], b64Value[q[1]], b64Value[q[2]], b64Value[q[3]]
		if a|b|c|d >= 64 {
			return nil, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		out := dst[j : j+3 : j+3]
		out[0], out[1], out[2] = byte(v>>16), byte(v>>8), byte(v)
	}
	switch n - i {
	case 2:
		a, b := b64Value[s[i]], b64Value[s[i+1]]
		if a|b >= 64 || b&0x0f != 0 {
			return nil, false
		}
		dst[j] = a<<2 | b>>4
		j++
	case 3:
		a, b, c := b64Value[s[i]], b64Value[s[i+1]], b64Value[s[i+2]]
		if a|b|c >= 64 || c&0x03 != 0 {
			return nil, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[j], dst[j+1] = byte(v>>10), byte(v>>2)
		j += 2
	}
	return dst[:j:j], true
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
