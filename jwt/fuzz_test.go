package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"github.com/scopegate/scopegate/internal/testjwt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// decodeJSON is encoding/json with numbers kept as text: JSON numbers
// beyond float64's range are valid JSON, just not valid float64s.
func decodeJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// FuzzParse checks that Parse never panics, and that whatever it accepts is
// JSON that encoding/json reads the same way (no parser differential on
// alg and kid), in canonical base64url.
func FuzzParse(f *testing.F) {
	k := mustKeys(f)
	for _, seed := range []string{
		testjwt.RFC7515HS256, testjwt.RFC7515RS256, testjwt.RFC7515ES256, testjwt.RFC8037Input + "." + testjwt.RFC8037Sig,
		makeToken(`{"alg":"EdDSA","kid":"k1"}`, claimsBase, k.signer(EdDSA)),
		makeToken(`{"alg":"PS256","kid":"k\u00e9"}`, `{"scope":"a b","aud":["x"],"exp":1.5}`, k.signer(PS256)),
		tok(`{"alg":"none"}`, claimsBase), tok(`{"alg":"RS256","crit":["b64"],"b64":false}`, claimsBase),
		tok(`{"alg":"RS256","alg":"HS256"}`, claimsBase), tok(hdrRS256, `{"a":{"a":{"a":[[[[1]]]]}}}`),
		"a.b.c.d.e", "..", "", "eyJhbGciOiJSUzI1NiJ9.e30.QQ",
	} {
		f.Add(seed)
	}
	set := mustParseJWKS(f, jwks(k.jwkFor(ES256, `"kid":"k1"`), k.jwkFor(HS256, ""), k.jwkFor(EdDSA, "")), JWKSOptions{AllowOct: true})
	v := Validator{Issuer: "https://idp.example", Audiences: []string{"x"}, ClockSkew: time.Minute, MaxLifetime: time.Hour, RequireExp: true}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := Parse(raw, 0)
		if err != nil {
			if got != nil {
				t.Fatal("token returned with an error")
			}
			if ReasonOf(err) == ReasonNone {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		var hdr map[string]any
		if err := decodeJSON(got.Header, &hdr); err != nil {
			t.Fatalf("accepted header encoding/json rejects: %v", err)
		}
		var claims map[string]any
		if err := decodeJSON(got.Payload, &claims); err != nil {
			t.Fatalf("accepted payload encoding/json rejects: %v", err)
		}
		if hdr["alg"] != got.Alg {
			t.Fatalf("alg differential: %v vs %q", hdr["alg"], got.Alg)
		}
		if kid, ok := hdr["kid"]; ok != got.HasKid || (ok && kid != got.Kid) {
			t.Fatalf("kid differential: %v vs %q", kid, got.Kid)
		}
		if _, ok := hdr["crit"]; ok {
			t.Fatal("crit accepted")
		}
		segs := strings.Split(raw, ".")
		if b64s(got.Header) != segs[0] || b64s(got.Payload) != segs[1] || b64s(got.Signature) != segs[2] {
			t.Fatal("a segment was not canonical base64url")
		}
		set.Verify(got, DefaultAlgs|hsAlgs)
		ClaimContains(got.Payload, "realm_access.roles", []string{"admin"})
		sameClaimReading(t, got, v)
	})
}

// FuzzParseJWKS checks that ParseJWKS never panics, respects its bounds, and
// returns keys whose Go types match their kty.
func FuzzParseJWKS(f *testing.F) {
	k := mustKeys(f)
	f.Add(testjwt.RFCJWKS)
	f.Add(jwks(k.jwkFor(RS256, `"kid":"r","alg":"RS256","use":"sig"`), k.jwkFor(ES384, `"key_ops":["verify"]`), k.jwkFor(ES512, ""), k.jwkFor(EdDSA, ""), k.jwkFor(HS512, `"alg":"HS384"`)))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"RSA","n":"AQAB","e":"AQAB","d":"x"},7,null]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxKeys = 8
		set, skipped, err := ParseJWKS(data, JWKSOptions{MaxKeys: maxKeys, AllowOct: true})
		if err != nil {
			if set != nil {
				t.Fatal("set returned with an error")
			}
			if ReasonOf(err) == ReasonNone {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatal("accepted a set encoding/json rejects")
		}
		if len(set.Keys) == 0 || len(set.Keys)+len(skipped) > maxKeys {
			t.Fatalf("%d keys, %d skipped", len(set.Keys), len(skipped))
		}
		for _, key := range set.Keys {
			ok := false
			switch key.Kty {
			case "RSA":
				pub, isRSA := key.Public.(*rsa.PublicKey)
				ok = isRSA && pub.N.BitLen() >= minRSABits && key.Algs()&^rsaAlgs == 0
			case "EC":
				_, ok = key.Public.(*ecdsa.PublicKey)
				ok = ok && key.ecSize > 0
			case "OKP":
				pub, isEd := key.Public.(ed25519.PublicKey)
				ok = isEd && len(pub) == ed25519.PublicKeySize && key.Algs() == AlgSet(0).With(EdDSA)
			case "oct":
				secret, isOct := key.Public.([]byte)
				ok = isOct && len(secret) >= 32 && key.Algs()&^hsAlgs == 0
			}
			if !ok || key.Algs() == 0 {
				t.Fatalf("key %+v has a public key of type %T", key, key.Public)
			}
		}
	})
}

// FuzzClaimPath checks that claim lookups never panic on any payload or
// path, and agree with encoding/json for plain top-level names.
func FuzzClaimPath(f *testing.F) {
	f.Add([]byte(pathPayload), "realm_access.roles", "admin")
	f.Add([]byte(pathPayload), `https://example\.com/roles`, "editor")
	f.Add([]byte(pathPayload), "scope", "openid")
	f.Add([]byte(`{"a":"b"}`), `a\`, "b")
	f.Add([]byte(`{"n":1e2,"s":"x y"}`), "n", "100")
	f.Add([]byte(`[1,2]`), "0", "1")
	f.Fuzz(func(t *testing.T, payload []byte, path, value string) {
		contains := ClaimContains(payload, path, []string{value})
		header, hok := ClaimHeaderValue(payload, path)
		Scopes(payload, []string{path, "scope"})
		if CheckClaimPath(path) != nil {
			if contains || hok {
				t.Fatal("a malformed path found something")
			}
			return
		}
		if checkObject(payload) != jsonOK || strings.ContainsAny(path, `.\`) {
			return
		}
		var m map[string]any
		if err := decodeJSON(payload, &m); err != nil {
			t.Fatalf("strict object rejected by encoding/json: %v", err)
		}
		got, present := m[path]
		if s, isString := got.(string); isString && present {
			if hok != (utf8.ValidString(s) && headerSafe([]byte(s))) || (hok && header != s) {
				t.Fatalf("ClaimHeaderValue(%q) = %q, %v; encoding/json says %q", path, header, hok, s)
			}
			if (s == value) != contains {
				t.Fatalf("ClaimContains(%q) = %v for the string %q: strings compare whole", value, contains, s)
			}
		}
		if !present && (hok || contains) {
			t.Fatalf("found a claim encoding/json does not see")
		}
	})
}

// FuzzStrictJSON compares the strict scanner with encoding/json: whatever it
// accepts, encoding/json accepts as an object; syntax it rejects,
// encoding/json rejects too (except what strictness adds: surrogate and
// UTF-8 rules, duplicates and depth, which are separate faults).
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2,{"b":null}],"c":"\u00e9"}`, `{"a":1,"a":2}`, `{"a":-0.5e+3}`, `[1]`, `{"a":01}`, `{"a":"\ud800"}`, " {\"x\":true} "} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fault := checkObject(data)
		valid := json.Valid(data)
		if fault == jsonOK {
			var m map[string]any
			if !valid || decodeJSON(data, &m) != nil {
				t.Fatalf("strict scanner accepted what encoding/json rejects")
			}
		}
		if fault == jsonSyntax && valid && utf8.Valid(data) && !bytes.Contains(data, []byte(`\u`)) {
			t.Fatalf("strict scanner rejected valid JSON as a syntax error")
		}
		if fault == jsonNotObject && !valid {
			t.Fatalf("invalid JSON reported as a non-object")
		}
	})
}

// sameClaimReading checks that reading a parsed token's claims through the
// index Parse recorded finds exactly what scanning its payload finds.
func sameClaimReading(t *testing.T, tok *Token, v Validator) {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	c1, err1 := v.Validate(tok.Payload, now)
	c2, err2 := v.ValidateToken(tok, now)
	if c1 != c2 || err1 != err2 {
		t.Fatalf("Validate %+v %v, ValidateToken %+v %v", c1, err1, c2, err2)
	}
	names := []string{"scope", "scp"}
	if s1, s2 := Scopes(tok.Payload, names), tok.Scopes(names); !slices.Equal(s1, s2) {
		t.Fatalf("Scopes %q vs %q", s1, s2)
	}
	for _, path := range []string{"sub", "iss", "realm_access.roles", `a\.b`} {
		h1, ok1 := ClaimHeaderValue(tok.Payload, path)
		h2, ok2 := tok.ClaimHeaderValue(path)
		if h1 != h2 || ok1 != ok2 {
			t.Fatalf("ClaimHeaderValue(%s) %q %v vs %q %v", path, h1, ok1, h2, ok2)
		}
	}
	want, wantOK := "", false
	if raw, ok := member(tok.Payload, "iss"); ok {
		if s, ok := stringValue(raw); ok {
			want, wantOK = s.str(), true
		}
	}
	if got, ok := tok.StringClaim("iss"); got != want || ok != wantOK {
		t.Fatalf("StringClaim(iss) %q %v, want %q %v", got, ok, want, wantOK)
	}
	if got, ok := tok.Issuer(); got != want || ok != wantOK {
		t.Fatalf("Issuer() %q %v, want %q %v", got, ok, want, wantOK)
	}
	cnf1, err1 := ReadConfirmation(tok.Payload)
	cnf2, err2 := tok.Confirmation()
	if cnf1 != cnf2 || err1 != err2 {
		t.Fatalf("ReadConfirmation %+v %v, Confirmation %+v %v", cnf1, err1, cnf2, err2)
	}
}
