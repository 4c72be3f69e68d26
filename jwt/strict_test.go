package jwt

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// The parser was rewritten for speed (strict.go, base64.go, Parse); the
// tests below hold it to the one it replaced (parseref_test.go): the same
// error value for every rejected input, the same token and claim index for
// every accepted one.

// strictSamples are JSON texts that reach the strict rules: realistic
// headers and payloads, and the edge cases of each rule.
var strictSamples = []string{
	`{}`, ` { } `, `{"a":1}`, `[]`, `[1]`, `"s"`, `1`, `-0.5e+3`, `true`, `null`, ``, ` `, `{`, `}`, `{"a"}`, `{"a":}`,
	`{"alg":"RS256","typ":"JWT","kid":"k1"}`,
	`{"exp":1700003600,"iat":1700000000,"jti":"x","iss":"https://idp.example.com/realms/demo","aud":["orders-api","account"],"sub":"7c9e6679-7425-40de-944b-e07fc1f90ae7","realm_access":{"roles":["offline_access","uma_authorization"]},"scope":"openid profile email","email_verified":true,"name":"Zoë Example","n":null,"f":-1.5E-7}`,
	"{\"a\" : [ 1 , 2 ,\t{\"b\" :\n\"c\"} ] ,\r\"d\":{}}",
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"\u0061":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"a":[{"b":1},{"b":1,"b":2}]}`,
	`{"a":{"b":1},"b":{"a":1}}`, `{"ab":1,"ba":2,"aab":3,"abb":4}`, `{"":1,"":2}`, `{"":1,"a":2}`,
	`{"a":"\ud83d\ude00","b":"\ud800"}`, `{"a":"\udc00"}`, `{"a":"\ud800\u0041"}`, `{"a":"\uZZZZ"}`, `{"a":"\x"}`,
	`{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":1e+}`, `{"a":.5}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`, `{"a":falsey}`,
	`{"a":1,}`, `{"a":[1,]}`, `{"a":[1}`, `{"a":{1]}`, `{"a":1}x`, `{"a":1}{}`, `[{"a":1,"a":2}]`, `[1] x`, `["\ud800"]`,
	"{\"a\":\"\x01\"}", "{\"a\":\"\x7f\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xef\xbf\xbd\"}",
	"{\"\xc3\xa9\":1,\"\\u00e9\":2}", `{"a\"b":1,"a\u0022b":2}`, `{"a/b":1,"a\/b":2}`,
	`{"0123456789abcdef":"0123456789abcdef0123456789","0123456789abcdeF":1}`,
	strings.Repeat("[", 32) + strings.Repeat("]", 32), strings.Repeat("[", 33) + strings.Repeat("]", 33),
	`{"a":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`, `{"a":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`,
	`{"a":` + strings.Repeat(`{"a":`, 31) + `1` + strings.Repeat("}", 31) + `}`,
	`{"a":` + strings.Repeat(`{"a":`, 32) + `1` + strings.Repeat("}", 32) + `}`,
	manyMembers(40, "m7"), manyMembers(40, ""), manyMembers(100, "m7"), manyMembers(100, ""), manyMembers(100, `m99`), manyMembers(100, `m100`),
	manyMembers(64, "m63"), manyMembers(65, "m0"), manyMembers(70, `\u006d69`),
	`{"x":` + manyMembers(70, "m3") + `,"y":` + manyMembers(70, "") + `}`,
	`{"x":` + manyMembers(70, "") + `,"x":1}`,
}

// mutations returns s with one byte deleted, doubled or replaced by each of
// a few bytes that matter to JSON, at every position.
func mutations(s string) []string {
	const repl = "\"\\{}[]:, 0-e.tnu\x01\x80\xff"
	var out []string
	for i := 0; i < len(s); i++ {
		out = append(out, s[:i]+s[i+1:], s[:i]+s[i:i+1]+s[i:])
		for j := 0; j < len(repl); j++ {
			out = append(out, s[:i]+repl[j:j+1]+s[i+1:])
		}
	}
	return out
}

// randomJSON strings together pieces of JSON at random: mostly nonsense,
// sometimes valid, often almost valid.
func randomJSON(r *rand.Rand) string {
	pieces := []string{`{`, `}`, `[`, `]`, `:`, `,`, ` `, `"a"`, `"b"`, `"a"`, `"\u0061"`, `1`, `-2.5e3`, `true`, `null`, `"\ud800"`, `"é"`, `0`, `{"a":`, `"a":1`}
	var b strings.Builder
	for n := r.IntN(14); n >= 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// sameStrictCheck fails unless checkStrict and the reference agree on data:
// the same fault, and the same index of top-level members.
func sameStrictCheck(t *testing.T, data []byte) {
	t.Helper()
	var got, want claimIndex
	var sc strictScratch
	gf, wf := checkStrict(data, &got, &sc), refCheckObject(data, &want)
	if gf != wf {
		t.Fatalf("checkStrict(%q) = %v, the reference says %v", data, gf, wf)
	}
	if gf == jsonOK && !sameIndex(&got, &want) {
		t.Fatalf("checkStrict(%q) indexed %+v, the reference %+v", data, got, want)
	}
	if f := checkStrict(data, nil, &sc); f != wf {
		t.Fatalf("checkStrict(%q) without an index = %v, the reference says %v", data, f, wf)
	}
}

func TestStrictCheckMatchesTheReference(t *testing.T) {
	t.Run("on the edge cases of every rule", func(t *testing.T) {
		for _, s := range strictSamples {
			sameStrictCheck(t, []byte(s))
		}
	})
	t.Run("on every one-byte mutation of them", func(t *testing.T) {
		for _, s := range strictSamples {
			if len(s) > 400 {
				continue
			}
			for _, m := range mutations(s) {
				sameStrictCheck(t, []byte(m))
			}
		}
	})
	t.Run("on random pieces of JSON", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 100000; i++ {
			sameStrictCheck(t, []byte(randomJSON(r)))
		}
	})
	t.Run("on the fuzz corpora", func(t *testing.T) {
		for _, s := range fuzzCorpus(t, "FuzzStrictJSON") {
			sameStrictCheck(t, []byte(s))
		}
	})
}

// FuzzStrictCheckMatchesTheReference compares the strict check with the
// recursive scanner it replaced on any input.
func FuzzStrictCheckMatchesTheReference(f *testing.F) {
	for _, s := range strictSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { sameStrictCheck(t, data) })
}

// sameParse fails unless Parse and the reference agree on raw: the same
// error value, or tokens alike in every field.
func sameParse(t *testing.T, raw string) {
	t.Helper()
	got, err := Parse(raw, 0)
	want, wantErr := refParse(raw, 0)
	if err != wantErr {
		t.Fatalf("Parse(%q): error %v, the reference %v", raw, err, wantErr)
	}
	// ParseInto a Token that held another one gives the same answer.
	reused := staleToken()
	if err := ParseInto(reused, raw, 0); err != wantErr || (err == nil && !sameToken(reused, want)) {
		t.Fatalf("ParseInto(%q) into a used Token = %+v, %v; the reference %+v, %v", raw, reused, err, want, wantErr)
	}
	if err != nil {
		return
	}
	if !sameToken(got, want) {
		t.Fatalf("Parse(%q) = %+v, the reference %+v", raw, got, want)
	}
}

// staleToken is a Token that held a token with a kid, claims and every
// registered claim, for ParseInto to overwrite.
func staleToken() *Token {
	var t Token
	if err := ParseInto(&t, tok(`{"alg":"ES256","kid":"stale"}`, `{"iss":"i","sub":"s","aud":"a","exp":1,"nbf":1,"iat":1,"cnf":{},"x":{"y":1}}`), 0); err != nil {
		panic(err)
	}
	return &t
}

// sameToken reports whether two parsed tokens are alike in every field.
// The reference does not note the registered claims: they are compared
// with what registeredOf finds in its index.
func sameToken(got, want *Token) bool {
	registered := registeredClaims{}
	if !want.claims.overflow {
		registered = registeredOf(want.Payload, &want.claims)
	}
	return got.Raw == want.Raw && got.Alg == want.Alg && got.alg == want.alg && got.Kid == want.Kid && got.HasKid == want.HasKid &&
		got.signingInput == want.signingInput && bytes.Equal(got.Header, want.Header) &&
		bytes.Equal(got.Payload, want.Payload) && bytes.Equal(got.Signature, want.Signature) &&
		sameIndex(&got.claims, &want.claims) && got.registered == registered
}

// sameIndex compares the members two indexes hold.
func sameIndex(a, b *claimIndex) bool {
	return a.n == b.n && a.overflow == b.overflow && slices.Equal(a.members[:a.n], b.members[:b.n])
}

// parseSamples are tokens for the comparison: the jwt tests' shapes and
// a Keycloak-like access token, with their segments' edge cases.
func parseSamples() []string {
	kc := `{"exp":1700003600,"iat":1700000000,"jti":"x","iss":"https://idp.example.com/realms/demo","aud":["orders-api","account"],"sub":"7c9e6679","scope":"openid profile","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`
	out := []string{
		tok(hdrRS256, claimsBase), tok(hdrRS256, kc), tok(`{"alg":"ES256","kid":"k\u00e9","typ":"JWT"}`, kc),
		tok(`{"alg":"none"}`, claimsBase), tok(`{"alg":"RS256","crit":["b64"],"b64":false}`, claimsBase),
		tok(`{"crit":[],"alg":"none"}`, claimsBase), tok(`{"alg":"none","crit":[]}`, claimsBase),
		tok(`{"alg":"RS256","b64":true}`, claimsBase), tok(`{"alg":"RS256","b64":false}`, `{"a":1,"a":2}`),
		tok(`{"alg":"RS256","alg":"HS256"}`, claimsBase), tok(`{"alg":7}`, `[1]`), tok(`{"kid":7}`, claimsBase), tok(`{"typ":"JWT"}`, `{`),
		tok(hdrRS256, `{"a":{"a":{"a":[[[[1]]]]}}}`), tok(hdrRS256, manyMembers(40, "")), tok(`{"alg":"RS256",`+strings.Repeat(`"x":1,`, 0)+`"h":[`+strings.Repeat(`{"z":1},`, 40)+`1]}`, claimsBase),
		tok(`{"alg":"RS256","m0":0,"m1":1,"m2":2,"m3":3,"m4":4,"m5":5,"m6":6,"m7":7,"m8":8,"m9":9,"m10":10,"m11":11,"m12":12,"m13":13,"m14":14,"m15":15,"m16":16,"m17":17,"m18":18,"m19":19,"m20":20,"m21":21,"m22":22,"m23":23,"m24":24,"m25":25,"m26":26,"m27":27,"m28":28,"m29":29,"m30":30,"m31":31,"kid":"late"}`, claimsBase),
		testjwt.RFC7515HS256, testjwt.RFC7515RS256, testjwt.RFC7515ES256, testjwt.RFC8037Input + "." + testjwt.RFC8037Sig,
		"a.b.c.d.e", "..", "", ".", "a.b", "a.b.", ".b.c", "a..c", "eyJhbGciOiJSUzI1NiJ9.e30.QQ", "eyJhbGciOiJSUzI1NiJ9.e30.QR",
		"eyJhbGciOiJSUzI1NiJ9.e30.QUJD", "eyJhbGciOiJSUzI1NiJ9.e30.QUJDR", "eyJhbGciOiJSUzI1NiJ9.e30=.QQ", "eyJhbGciOiJSUzI1NiJ9.e\n30.QQ",
	}
	for _, s := range strictSamples {
		out = append(out, tok(hdrRS256, s), tok(s, claimsBase))
	}
	return out
}

func TestParseMatchesTheReference(t *testing.T) {
	samples := parseSamples()
	t.Run("on tokens with every rule's edge cases", func(t *testing.T) {
		for _, raw := range samples {
			sameParse(t, raw)
		}
	})
	t.Run("on every one-byte mutation of their compact form", func(t *testing.T) {
		for _, raw := range samples[:24] {
			for _, m := range mutations(raw) {
				sameParse(t, m)
			}
		}
	})
	t.Run("on every one-byte mutation of their JSON", func(t *testing.T) {
		for _, h := range []string{hdrRS256, `{"alg":"ES256","kid":"k1","typ":"JWT"}`} {
			for _, m := range mutations(h) {
				sameParse(t, tok(m, claimsBase))
			}
		}
		for _, s := range strictSamples {
			if len(s) > 400 {
				continue
			}
			for _, m := range mutations(s) {
				sameParse(t, tok(hdrRS256, m))
			}
		}
	})
	t.Run("on random base64url, dots and stray bytes", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\r\x80"
		buf := make([]byte, 64)
		for i := 0; i < 50000; i++ {
			b := buf[:r.IntN(len(buf))]
			for j := range b {
				b[j] = alphabet[r.IntN(len(alphabet))]
			}
			sameParse(t, string(b))
			sameParse(t, tok(randomJSON(r), randomJSON(r)))
		}
	})
	t.Run("on the fuzz corpora", func(t *testing.T) {
		for _, raw := range fuzzCorpus(t, "FuzzParse") {
			sameParse(t, raw)
		}
	})
}

// FuzzParseMatchesTheReference compares Parse with the parser it replaced
// on any input.
func FuzzParseMatchesTheReference(f *testing.F) {
	for _, s := range parseSamples() {
		f.Add(s)
	}
	f.Fuzz(sameParse)
}

// fuzzCorpus reads the inputs of one of this package's fuzz corpora.
func fuzzCorpus(t *testing.T, target string) []string {
	t.Helper()
	inputs, err := testjwt.FuzzCorpus(filepath.Join("testdata", "fuzz", target))
	if err != nil {
		t.Fatal(err)
	}
	return inputs
}
