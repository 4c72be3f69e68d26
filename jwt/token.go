package jwt

import "strings"

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
	signingInput string           // header "." payload, as received
	claims       claimIndex       // where Payload's top-level members are, recorded by Parse's strict check
	registered   registeredClaims // which of them the filter reads on every miss (when claims did not overflow)
	scratch      *strictScratch   // the strict check's memory, kept for the next ParseInto
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

// Parse decodes a compact JWS and checks everything that can be checked
// without a key: three segments of canonical unpadded base64url, header and
// payload strict JSON objects without duplicate member names and at most 32
// levels deep, a supported alg (never "none"), no crit, no b64:false. The
// header's jku, x5u, jwk and x5c are ignored: keys come only from the
// caller's key set. maxBytes <= 0 means DefaultMaxTokenBytes.
func Parse(raw string, maxBytes int) (*Token, error) { return parse(raw, maxBytes, nil) }

// ParseInto is Parse into a Token the caller provides, so a caller that
// parses a token per request can reuse one (the payload buffer is still
// new for each token: what the caller keeps of a token stays valid). On an
// error *t holds nothing useful.
func ParseInto(t *Token, raw string, maxBytes int) error {
	_, err := parse(raw, maxBytes, t)
	return err
}

// parse is Parse, into t when it is not nil.
func parse(raw string, maxBytes int, t *Token) (*Token, error) {
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

	// One allocation holds all three decoded segments (and the decoder's
	// slack after the last).
	hn, pn, sn := b64DecodedLen(len(hSeg)), b64DecodedLen(len(pSeg)), b64DecodedLen(len(sSeg))
	buf := make([]byte, hn+pn+sn+b64Slack)
	header, ok := decodeB64(buf, hSeg)
	if !ok {
		return nil, errBase64
	}
	payload, ok := decodeB64(buf[hn:], pSeg)
	if !ok {
		return nil, errBase64
	}
	sig, ok := decodeB64(buf[hn+pn:], sSeg)
	if !ok {
		return nil, errBase64
	}
	fresh := t == nil
	if fresh {
		t = new(Token)
	}
	// Field by field: the claim index's members past its count are never
	// read, and zeroing the whole Token (~900 bytes) twice per token is
	// measurable in wasm.
	t.Raw, t.Alg, t.Kid, t.HasKid, t.alg = raw, "", "", false, 0
	t.Header, t.Payload, t.Signature, t.signingInput = header, payload, sig, raw[:d2]
	t.claims.reset()
	t.registered = registeredClaims{}
	// A fresh Token's check works in memory on this stack, zeroed once for
	// the header and the payload; a reused one keeps its own.
	var err error
	if fresh {
		var sc strictScratch
		err = t.check(&sc)
	} else {
		if t.scratch == nil {
			t.scratch = new(strictScratch)
		}
		err = t.check(t.scratch)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// check applies the strict JSON rules to the decoded header and payload and
// reads the header. The header's members are read from the index its
// strict check records (t.claims, for the moment). Their verdict waits
// until the payload has been checked: a token with a malformed payload is
// malformed whatever its header says, as it always was.
func (t *Token) check(sc *strictScratch) error {
	if f := checkStrict(t.Header, &t.claims, sc); f != jsonOK {
		return headerError(f)
	}
	hasAlg, headerErr := t.readHeader()
	t.claims.reset()
	if f := checkStrict(t.Payload, &t.claims, sc); f != jsonOK {
		return payloadError(f)
	}
	if !t.claims.overflow {
		t.registered = registeredOf(t.Payload, &t.claims)
	}
	if headerErr != nil {
		return headerErr
	}
	if !hasAlg {
		return errNoAlg
	}
	return nil
}

// readHeader reads alg, kid, crit and b64 from the header, in member order
// (the first member that breaks a rule decides the error), through the
// index t.claims holds for it.
func (t *Token) readHeader() (hasAlg bool, err error) {
	if t.claims.overflow {
		it := newMemberIter(t.Header)
		for {
			name, v, ok := it.next()
			if !ok {
				return hasAlg, nil
			}
			if err := t.headerMember(name.decoded(), v, &hasAlg); err != nil {
				return hasAlg, err
			}
		}
	}
	for i := 0; i < t.claims.n; i++ {
		c := &t.claims.members[i]
		name := jsonString{raw: t.Header[c.name.start:c.name.end], escaped: c.name.escaped}.decoded()
		if err := t.headerMember(name, t.Header[c.valueStart:c.valueEnd], &hasAlg); err != nil {
			return hasAlg, err
		}
	}
	return hasAlg, nil
}

// The header members Parse reads, as the three bytes of their names read
// little-endian.
const (
	headerALG = 'a' | 'l'<<8 | 'g'<<16
	headerKID = 'k' | 'i'<<8 | 'd'<<16
	headerB64 = 'b' | '6'<<8 | '4'<<16
)

// headerMember reads one header member (its decoded name and raw value).
func (t *Token) headerMember(name, v []byte, hasAlg *bool) error {
	switch len(name) {
	case 3:
		switch uint32(name[0]) | uint32(name[1])<<8 | uint32(name[2])<<16 {
		case headerALG:
			s, ok := stringValue(v)
			if !ok {
				return errAlgType
			}
			*hasAlg = true
			algName := s.str()
			a, ok := ParseAlg(algName)
			if !ok {
				if strings.EqualFold(algName, "none") {
					return errAlgNone
				}
				return errAlgUnknown
			}
			t.alg, t.Alg = a, a.String()
		case headerB64:
			// RFC 7797: b64:false changes what is signed. It is not
			// supported; an explicit true changes nothing.
			if string(v) != "true" {
				return errB64
			}
		case headerKID:
			s, ok := stringValue(v)
			if !ok {
				return errKidType
			}
			t.Kid, t.HasKid = s.str(), true
		}
	case 4:
		if string(name) == "crit" {
			return errCrit
		}
	}
	return nil
}
