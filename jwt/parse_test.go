package jwt

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

const (
	hdrRS256   = `{"alg":"RS256","kid":"k1"}`
	claimsBase = `{"iss":"https://idp.example","sub":"alice","exp":2000000000,"canary":"c4n4ry"}`
	sigBytes   = "\xfb\xff\x00signature"
)

// tok assembles a token from raw header and payload texts and a fixed
// signature; Parse does not look at the signature's value.
func tok(header, payload string) string {
	return b64str(header) + "." + b64str(payload) + "." + b64str(sigBytes)
}

func TestParseAcceptsAWellFormedToken(t *testing.T) {
	raw := tok(`{"alg":"ES256","kid":"key-1","typ":"JWT","jku":"https://evil.example/jwks","x5u":"https://evil.example/x5u","jwk":{"kty":"oct","k":"AAAA"},"x5c":["AAAA"]}`, claimsBase)
	got, err := Parse(raw, 0)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got.Alg != "ES256" || got.Algorithm() != ES256 {
		t.Errorf("alg = %q/%v, want ES256", got.Alg, got.Algorithm())
	}
	if !got.HasKid || got.Kid != "key-1" {
		t.Errorf("kid = %q (has %v), want key-1", got.Kid, got.HasKid)
	}
	if string(got.Payload) != claimsBase {
		t.Errorf("payload = %s", got.Payload)
	}
	if string(got.Signature) != sigBytes {
		t.Errorf("signature = %q", got.Signature)
	}
	if got.Raw != raw || got.signingInput != raw[:strings.LastIndexByte(raw, '.')] {
		t.Errorf("raw or signing input not kept")
	}
}

func TestParseKid(t *testing.T) {
	t.Run("a token without kid has HasKid false", func(t *testing.T) {
		got := mustParse(t, tok(`{"alg":"RS256"}`, claimsBase))
		if got.HasKid || got.Kid != "" {
			t.Fatalf("kid = %q, has %v", got.Kid, got.HasKid)
		}
	})
	t.Run("an empty kid is still a kid", func(t *testing.T) {
		got := mustParse(t, tok(`{"alg":"RS256","kid":""}`, claimsBase))
		if !got.HasKid || got.Kid != "" {
			t.Fatalf("kid = %q, has %v", got.Kid, got.HasKid)
		}
	})
	t.Run("an escaped kid is decoded", func(t *testing.T) {
		got := mustParse(t, tok(`{"alg":"RS256","kid":"a\u002fb\"c"}`, claimsBase))
		if got.Kid != `a/b"c` {
			t.Fatalf("kid = %q", got.Kid)
		}
	})
}

// TestParseRejects has one case per rejection reason, each with a valid twin
// that differs only in the rejected detail.
func TestParseRejects(t *testing.T) {
	valid := tok(hdrRS256, claimsBase)
	hdr, pay, sig := b64str(hdrRS256), b64str(claimsBase), b64str(sigBytes)
	short := b64str(`{"a":1}`) // 7 bytes: unpadded length 10, padded 12
	nest := func(n int) string {
		return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	cases := []struct {
		name     string
		bad      string
		twin     string
		maxBytes int
		reason   Reason
		err      error // when set, the exact error value expected
	}{
		{name: "an empty token is malformed", bad: "", twin: valid, reason: ReasonMalformed},
		{name: "a token over maxBytes is too large", bad: valid, twin: valid, maxBytes: len(valid) - 1, reason: ReasonTooLarge},
		{name: "two segments are malformed", bad: hdr + "." + pay, twin: valid, reason: ReasonMalformed, err: errSegments},
		{name: "four segments are malformed", bad: valid + "." + sig, twin: valid, reason: ReasonMalformed, err: errSegments},
		{name: "five segments are a JWE and say so", bad: hdr + ".." + pay + "." + pay + "." + sig, twin: valid, reason: ReasonMalformed, err: errJWE},
		{name: "an empty header segment is malformed", bad: "." + pay + "." + sig, twin: valid, reason: ReasonMalformed},
		{name: "an empty payload segment is malformed", bad: hdr + ".." + sig, twin: valid, reason: ReasonMalformed},
		{name: "an empty signature is an unsecured token", bad: hdr + "." + pay + ".", twin: valid, reason: ReasonUnsupportedAlg},
		{name: "padding is rejected", bad: hdr + "." + short + "==." + sig, twin: hdr + "." + short + "." + sig, reason: ReasonMalformed, err: errBase64},
		{name: "standard-alphabet bytes are rejected", bad: hdr + "." + pay + "." + strings.NewReplacer("-", "+", "_", "/").Replace(sig), twin: valid, reason: ReasonMalformed, err: errBase64},
		{name: "a newline inside a segment is rejected", bad: hdr[:4] + "\n" + hdr[4:] + "." + pay + "." + sig, twin: valid, reason: ReasonMalformed, err: errBase64},
		{name: "a space inside a segment is rejected", bad: hdr + "." + pay + ". " + sig, twin: valid, reason: ReasonMalformed, err: errBase64},
		{name: "non-canonical trailing bits are rejected", bad: hdr + "." + pay + ".QR", twin: hdr + "." + pay + ".QQ", reason: ReasonMalformed, err: errBase64},
		{name: "an impossible base64 length is rejected", bad: hdr + "." + pay + ".QUJDR", twin: hdr + "." + pay + ".QUJD", reason: ReasonMalformed, err: errBase64},
		{name: "a header that is an array is rejected", bad: tok(`["alg","RS256"]`, claimsBase), twin: valid, reason: ReasonMalformed, err: errHeaderObj},
		{name: "a header that is not JSON is rejected", bad: tok(`{"alg":"RS256",}`, claimsBase), twin: valid, reason: ReasonMalformed, err: errHeaderSyntax},
		{name: "trailing data after the header object is rejected", bad: tok(`{"alg":"RS256"}{}`, claimsBase), twin: valid, reason: ReasonMalformed, err: errHeaderSyntax},
		{name: "a payload that is a string is rejected", bad: tok(hdrRS256, `"claims"`), twin: valid, reason: ReasonMalformed, err: errClaimsObj},
		{name: "a payload that is a number is rejected", bad: tok(hdrRS256, `123`), twin: valid, reason: ReasonMalformed, err: errClaimsObj},
		{name: "a payload with invalid UTF-8 is rejected", bad: tok(hdrRS256, "{\"sub\":\"a\xffb\"}"), twin: tok(hdrRS256, `{"sub":"aéb"}`), reason: ReasonMalformed, err: errClaimsSyntax},
		{name: "a payload with a lone surrogate escape is rejected", bad: tok(hdrRS256, `{"sub":"\ud800"}`), twin: tok(hdrRS256, `{"sub":"\ud83d\ude00"}`), reason: ReasonMalformed, err: errClaimsSyntax},
		{name: "a payload with a raw control character is rejected", bad: tok(hdrRS256, "{\"sub\":\"a\nb\"}"), twin: tok(hdrRS256, `{"sub":"a\nb"}`), reason: ReasonMalformed, err: errClaimsSyntax},
		{name: "a payload with a leading-zero number is rejected", bad: tok(hdrRS256, `{"exp":01}`), twin: tok(hdrRS256, `{"exp":1}`), reason: ReasonMalformed, err: errClaimsSyntax},
		{name: "a duplicate header member is rejected", bad: tok(`{"alg":"RS256","alg":"none"}`, claimsBase), twin: tok(`{"alg":"RS256","alx":"none"}`, claimsBase), reason: ReasonMalformed, err: errHeaderDup},
		{name: "a duplicate header member spelled with an escape is rejected", bad: tok(`{"alg":"RS256","\u0061lg":"HS256"}`, claimsBase), twin: tok(`{"alg":"RS256","\u0061lx":"HS256"}`, claimsBase), reason: ReasonMalformed, err: errHeaderDup},
		{name: "a duplicate payload member is rejected", bad: tok(hdrRS256, `{"sub":"alice","sub":"admin"}`), twin: tok(hdrRS256, `{"sub":"alice","sun":"admin"}`), reason: ReasonMalformed, err: errClaimsDup},
		{name: "a duplicate member in a nested object is rejected", bad: tok(hdrRS256, `{"a":{"b":1,"b":2}}`), twin: tok(hdrRS256, `{"a":{"b":1,"c":2},"c":{"b":3}}`), reason: ReasonMalformed, err: errClaimsDup},
		{name: "a duplicate member in an object inside an array is rejected", bad: tok(hdrRS256, `{"a":[{"b":1},{"c":1,"c":2}]}`), twin: tok(hdrRS256, `{"a":[{"c":1},{"c":2}]}`), reason: ReasonMalformed, err: errClaimsDup},
		{name: "a duplicate among many members is rejected", bad: tok(hdrRS256, manyMembers(40, "m7")), twin: tok(hdrRS256, manyMembers(40, "")), reason: ReasonMalformed, err: errClaimsDup},
		{name: "a duplicate among more members than are compared pairwise is rejected", bad: tok(hdrRS256, manyMembers(100, "m7")), twin: tok(hdrRS256, manyMembers(100, "")), reason: ReasonMalformed, err: errClaimsDup},
		{name: "an escaped duplicate among many members is rejected", bad: tok(hdrRS256, manyMembers(100, `m99`)), twin: tok(hdrRS256, manyMembers(100, `m100`)), reason: ReasonMalformed, err: errClaimsDup},
		{name: "nesting deeper than 32 is rejected", bad: tok(hdrRS256, nest(32)), twin: tok(hdrRS256, nest(31)), reason: ReasonMalformed, err: errClaimsDepth},
		{name: "a header without alg is rejected", bad: tok(`{"typ":"JWT"}`, claimsBase), twin: tok(`{"typ":"JWT","alg":"RS256"}`, claimsBase), reason: ReasonMalformed, err: errNoAlg},
		{name: "a non-string alg is rejected", bad: tok(`{"alg":256}`, claimsBase), twin: tok(`{"alg":"RS256"}`, claimsBase), reason: ReasonMalformed, err: errAlgType},
		{name: "alg none is rejected", bad: tok(`{"alg":"none"}`, claimsBase), twin: valid, reason: ReasonUnsupportedAlg, err: errAlgNone},
		{name: "alg None is rejected", bad: tok(`{"alg":"None"}`, claimsBase), twin: valid, reason: ReasonUnsupportedAlg, err: errAlgNone},
		{name: "alg NONE is rejected", bad: tok(`{"alg":"NONE"}`, claimsBase), twin: valid, reason: ReasonUnsupportedAlg, err: errAlgNone},
		{name: "alg nOnE is rejected", bad: tok(`{"alg":"nOnE"}`, claimsBase), twin: valid, reason: ReasonUnsupportedAlg, err: errAlgNone},
		{name: "an unknown alg is rejected", bad: tok(`{"alg":"RS1"}`, claimsBase), twin: valid, reason: ReasonUnsupportedAlg, err: errAlgUnknown},
		{name: "alg names are case-sensitive", bad: tok(`{"alg":"rs256"}`, claimsBase), twin: valid, reason: ReasonUnsupportedAlg, err: errAlgUnknown},
		{name: "a crit header is rejected", bad: tok(`{"alg":"RS256","crit":["exp"],"exp":1}`, claimsBase), twin: tok(`{"alg":"RS256","exp":1}`, claimsBase), reason: ReasonCrit},
		{name: "b64 false is rejected", bad: tok(`{"alg":"RS256","b64":false}`, claimsBase), twin: tok(`{"alg":"RS256","b64":true}`, claimsBase), reason: ReasonMalformed, err: errB64},
		{name: "a non-string kid is rejected", bad: tok(`{"alg":"RS256","kid":7}`, claimsBase), twin: tok(`{"alg":"RS256","kid":"7"}`, claimsBase), reason: ReasonMalformed, err: errKidType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			max := c.maxBytes
			_, err := Parse(c.bad, max)
			wantReason(t, err, c.reason)
			if c.err != nil && err != c.err {
				t.Errorf("error = %q, want %q", err, c.err)
			}
			if strings.Contains(err.Error(), "c4n4ry") || (len(c.bad) > 8 && strings.Contains(err.Error(), c.bad[:8])) {
				t.Errorf("error %q echoes the token", err)
			}
			if max > 0 {
				max++
			}
			if _, err := Parse(c.twin, max); err != nil {
				t.Errorf("valid twin rejected: %v", err)
			}
		})
	}
}

// manyMembers renders an object with n members m0..m(n-1), plus a repeat of
// dup at the end when dup is not empty.
func manyMembers(n int, dup string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"m` + itoa(i) + `":` + itoa(i))
	}
	if dup != "" {
		b.WriteString(`,"` + dup + `":0`)
	} else {
		b.WriteString(`,"last":0`)
	}
	b.WriteString("}")
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

func TestErrorsMatchByReason(t *testing.T) {
	_, err := Parse(tok(`{"alg":"none"}`, claimsBase), 0)
	if !errors.Is(err, &Error{Reason: ReasonUnsupportedAlg}) {
		t.Errorf("errors.Is by reason failed for %v", err)
	}
	if errors.Is(err, ErrUnknownKid) {
		t.Errorf("unsupported alg matched ErrUnknownKid")
	}
	wrapped := errors.Join(errors.New("context"), ErrUnknownKid)
	if !errors.Is(wrapped, ErrUnknownKid) || ReasonOf(wrapped) != ReasonUnknownKid {
		t.Errorf("wrapped ErrUnknownKid not recognised")
	}
	if ReasonOf(nil) != ReasonNone || ReasonOf(errors.New("other")) != ReasonNone {
		t.Errorf("foreign errors must have ReasonNone")
	}
	for r := ReasonMalformed; r <= ReasonTooLarge; r++ {
		if r.String() == "unknown" || r.String() == "" {
			t.Errorf("reason %d has no name", r)
		}
		if (&Error{Reason: r}).Error() == "" {
			t.Errorf("reason %d has an empty message", r)
		}
	}
}

// TestDecodeB64IsStrictBase64URL compares the token decoder with
// encoding/base64's strict raw URL decoder on every short string over an
// alphabet of valid, padding and stray characters, and on random strings.
func TestDecodeB64IsStrictBase64URL(t *testing.T) {
	ref := base64.RawURLEncoding.Strict()
	check := func(s string) {
		want, err := ref.DecodeString(s)
		wantOK := err == nil && !strings.ContainsAny(s, "\r\n")
		got, ok := decodeB64String(s)
		if ok != wantOK || (ok && !bytes.Equal(got, want)) {
			t.Fatalf("decodeB64(%q) = %x, %v; encoding/base64 says %x, %v", s, got, ok, want, wantOK)
		}
	}
	chars := "AQgw_-9=\n+/ \x80"
	var walk func(prefix string, depth int)
	walk = func(prefix string, depth int) {
		check(prefix)
		if depth == 0 {
			return
		}
		for i := 0; i < len(chars); i++ {
			walk(prefix+chars[i:i+1], depth-1)
		}
	}
	walk("", 5)
	buf := make([]byte, 64)
	for i := 0; i < 20000; i++ {
		rand.Read(buf)
		s := base64.RawURLEncoding.EncodeToString(buf[:i%64])
		check(s)
		if len(s) > 0 {
			b := []byte(s)
			b[i%len(b)] = chars[i%len(chars)]
			check(string(b))
		}
	}
}

func TestParseIntoReusesTheToken(t *testing.T) {
	var reused Token
	first := tok(`{"alg":"RS256","kid":"k1"}`, `{"sub":"alice","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`)
	if err := ParseInto(&reused, first, 0); err != nil {
		t.Fatal(err)
	}
	kept, sub := reused.Payload, reused.Kid
	t.Run("a second token leaves nothing of the first", func(t *testing.T) {
		if err := ParseInto(&reused, tok(`{"alg":"ES256"}`, `{"iss":"https://idp"}`), 0); err != nil {
			t.Fatal(err)
		}
		if reused.HasKid || reused.Kid != "" || reused.Alg != "ES256" {
			t.Errorf("kid %q (has %v), alg %s", reused.Kid, reused.HasKid, reused.Alg)
		}
		if c, err := reused.Confirmation(); err != nil || c.Bound() {
			t.Errorf("the first token's cnf is still read: %+v %v", c, err)
		}
		if iss, ok := reused.Issuer(); !ok || iss != "https://idp" {
			t.Errorf("Issuer() = %q, %v", iss, ok)
		}
	})
	t.Run("what was kept of the first stays intact", func(t *testing.T) {
		if !strings.Contains(string(kept), `"sub":"alice"`) || sub != "k1" {
			t.Errorf("payload %s, kid %q", kept, sub)
		}
	})
	t.Run("a rejected token is an error, as with Parse", func(t *testing.T) {
		if err := ParseInto(&reused, tok(`{"alg":"none"}`, claimsBase), 0); err != errAlgNone {
			t.Errorf("error %v, want %v", err, errAlgNone)
		}
	})
}
