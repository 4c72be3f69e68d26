package jwt

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

var testNow = time.Unix(1_700_000_000, 0)

func TestValidateReadsClaims(t *testing.T) {
	v := Validator{Issuer: "https://idp", Audiences: []string{"api"}, ClockSkew: time.Minute, RequireExp: true}
	c, err := v.Validate([]byte(`{"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100.5,"nbf":1699999000,"iat":1699999000}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Iss: "https://idp", Sub: "alice", Exp: 1700000100.5, Nbf: 1699999000, Iat: 1699999000, HasExp: true, HasNbf: true, HasIat: true}
	if c != want {
		t.Fatalf("claims = %+v, want %+v", c, want)
	}
}

// TestValidateRejects has one case per claim rejection with its valid twin.
func TestValidateRejects(t *testing.T) {
	const now = 1_700_000_000
	skew := 60 * time.Second
	base := Validator{ClockSkew: skew, RequireExp: true}
	withIss := Validator{Issuer: "https://idp", ClockSkew: skew, RequireExp: true}
	withAud := Validator{Audiences: []string{"orders", "billing"}, ClockSkew: skew, RequireExp: true}
	maxLife := Validator{ClockSkew: skew, RequireExp: true, MaxLifetime: time.Hour}
	cases := []struct {
		name   string
		v      Validator
		bad    string
		twin   string
		reason Reason
	}{
		{"a token expired beyond the skew is rejected", base, `{"exp":1699999939}`, `{"exp":1699999940}`, ReasonExpired},
		{"a fractional exp is compared exactly", base, `{"exp":1699999939.999}`, `{"exp":1699999940.0}`, ReasonExpired},
		{"a token whose nbf is beyond the skew is rejected", base, `{"exp":1800000000,"nbf":1700000061}`, `{"exp":1800000000,"nbf":1700000060}`, ReasonNotYetValid},
		{"a token issued beyond the skew in the future is rejected", base, `{"exp":1800000000,"iat":1700000061}`, `{"exp":1800000000,"iat":1700000060}`, ReasonIssuedInFuture},
		{"a missing exp is rejected when required", base, `{"iat":1700000000}`, `{"iat":1700000000,"exp":1700000001}`, ReasonMissingExp},
		{"a string exp is a bad claim", base, `{"exp":"1800000000"}`, `{"exp":1800000000}`, ReasonBadClaim},
		{"a boolean nbf is a bad claim", base, `{"exp":1800000000,"nbf":true}`, `{"exp":1800000000,"nbf":1}`, ReasonBadClaim},
		{"a null iat is a bad claim", base, `{"exp":1800000000,"iat":null}`, `{"exp":1800000000,"iat":1e9}`, ReasonBadClaim},
		{"an exp out of float range is a bad claim", base, `{"exp":1e400}`, `{"exp":1e10}`, ReasonBadClaim},
		{"a non-string iss is a bad claim", base, `{"exp":1800000000,"iss":1}`, `{"exp":1800000000,"iss":"1"}`, ReasonBadClaim},
		{"a non-string sub is a bad claim", base, `{"exp":1800000000,"sub":["a"]}`, `{"exp":1800000000,"sub":"a"}`, ReasonBadClaim},
		{"a duplicated registered claim is a bad claim", base, `{"exp":1800000000,"\u0065xp":1}`, `{"exp":1800000000,"\u0065xq":1}`, ReasonBadClaim},
		{"a lifetime over the maximum is rejected", maxLife, `{"iat":1699999000,"exp":1700002601}`, `{"iat":1699999000,"exp":1700002600}`, ReasonLifetime},
		{"a maximum lifetime needs iat", maxLife, `{"exp":1700000100}`, `{"iat":1700000000,"exp":1700000100}`, ReasonLifetime},
		{"a different issuer is rejected", withIss, `{"exp":1800000000,"iss":"https://idp/"}`, `{"exp":1800000000,"iss":"https://idp"}`, ReasonBadIssuer},
		{"a missing issuer is rejected when one is configured", withIss, `{"exp":1800000000}`, `{"exp":1800000000,"iss":"https://idp"}`, ReasonBadIssuer},
		{"an audience string not configured is rejected", withAud, `{"exp":1800000000,"aud":"shipping"}`, `{"exp":1800000000,"aud":"billing"}`, ReasonBadAudience},
		{"an audience array without a configured entry is rejected", withAud, `{"exp":1800000000,"aud":["a","b"]}`, `{"exp":1800000000,"aud":["a","orders"]}`, ReasonBadAudience},
		{"a missing audience is rejected when audiences are configured", withAud, `{"exp":1800000000}`, `{"exp":1800000000,"aud":["orders"]}`, ReasonBadAudience},
		{"a numeric audience is rejected", withAud, `{"exp":1800000000,"aud":5}`, `{"exp":1800000000,"aud":"orders"}`, ReasonBadAudience},
		{"an audience array holding a number is rejected", withAud, `{"exp":1800000000,"aud":["orders",5]}`, `{"exp":1800000000,"aud":["orders","5"]}`, ReasonBadAudience},
		{"an object audience is rejected even without configured audiences", base, `{"exp":1800000000,"aud":{}}`, `{"exp":1800000000,"aud":[]}`, ReasonBadAudience},
		{"a payload that is not an object is malformed", base, `[{"exp":1800000000}]`, `{"exp":1800000000}`, ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.v.Validate([]byte(c.bad), time.Unix(now, 0))
			wantReason(t, err, c.reason)
			if _, err := c.v.Validate([]byte(c.twin), time.Unix(now, 0)); err != nil {
				t.Fatalf("valid twin rejected: %v", err)
			}
		})
	}
}

func TestValidateOptionalChecks(t *testing.T) {
	t.Run("exp is optional when not required", func(t *testing.T) {
		v := Validator{}
		if _, err := v.Validate([]byte(`{"sub":"a"}`), testNow); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no configured issuer accepts any iss", func(t *testing.T) {
		v := Validator{}
		if _, err := v.Validate([]byte(`{"iss":"anyone"}`), testNow); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("skew is honoured to the nanosecond", func(t *testing.T) {
		v := Validator{ClockSkew: time.Second, RequireExp: true}
		exp := []byte(`{"exp":1700000000}`)
		if _, err := v.Validate(exp, testNow.Add(time.Second)); err != nil {
			t.Fatalf("at exp+skew: %v", err)
		}
		_, err := v.Validate(exp, testNow.Add(time.Second+time.Millisecond))
		wantReason(t, err, ReasonExpired)
	})
}

func TestClaimsReadThroughTheParseIndex(t *testing.T) {
	v := Validator{Issuer: "https://idp", Audiences: []string{"api"}, RequireExp: true}
	now := time.Unix(1_700_000_000, 0)
	many := ""
	for i := 0; i < maxIndexedClaims+5; i++ {
		many += `"c` + strconv.Itoa(i) + `":` + strconv.Itoa(i) + `,`
	}
	payloads := map[string]string{
		"an ordinary payload":                        `{"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100,"scope":"a b","x":{"y":"z"}}`,
		"escaped member names":                       `{"\u0069ss":"https://idp","s\u0075b":"alice","aud":["api"],"exp":1700000100,"sc\u006fpe":"a"}`,
		"more members than the index holds":          `{` + many + `"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100,"scp":["a","b"]}`,
		"claims last, after nested objects":          `{"x":{"iss":"no","sub":"no"},"arr":[{"exp":1}],"iss":"https://idp","sub":"bob","aud":"api","exp":1700000100}`,
		"an expired token":                           `{"iss":"https://idp","sub":"alice","aud":"api","exp":1600000000}`,
		"a wrongly typed claim":                      `{"iss":7,"sub":"alice","aud":"api","exp":1700000100}`,
		"whitespace everywhere":                      " {\n \"iss\" : \"https://idp\" ,\t\"sub\":\"carol\", \"aud\":\"api\",\"exp\" : 1700000100 } ",
		"two wrongly typed claims, exp first":        `{"exp":"soon","iss":7,"sub":"alice","aud":"api"}`,
		"two wrongly typed claims, iss first":        `{"iss":7,"exp":"soon","sub":"alice","aud":"api"}`,
		"a wrongly typed claim after a bad audience": `{"aud":5,"sub":["x"],"iss":"https://idp","exp":1700000100}`,
		"a fractional and a negative time":           `{"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100.5,"nbf":-1,"iat":1e9}`,
		"a bound token":                              `{"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100,"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`,
		"a cnf spelled with an escape":               `{"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100,"c\u006ef":{"x5t#S256":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`,
		"a cnf past the index":                       `{` + many + `"iss":"https://idp","sub":"alice","aud":"api","exp":1700000100,"cnf":{"jwk":{}}}`,
		"a cnf that is not an object":                `{"iss":"https://idp","cnf":"x","sub":"alice","aud":"api","exp":1700000100}`,
		"a cnf only nested":                          `{"iss":"https://idp","x":{"cnf":{"jkt":"x"}},"sub":"alice","aud":"api","exp":1700000100}`,
		"no issuer":                                  `{"sub":"alice","aud":"api","exp":1700000100}`,
	}
	for name, payload := range payloads {
		t.Run(name+" reads the same through the index", func(t *testing.T) {
			parsed := mustParse(t, tok(hdrRS256, payload))
			if name == "more members than the index holds" && !parsed.claims.overflow {
				t.Fatal("the index did not overflow")
			}
			if name == "an ordinary payload" && (parsed.claims.overflow || parsed.claims.n != 6) {
				t.Fatalf("index holds %d members (overflow %v)", parsed.claims.n, parsed.claims.overflow)
			}
			c1, err1 := v.Validate(parsed.Payload, now)
			c2, err2 := v.ValidateToken(parsed, now)
			if c1 != c2 || ReasonOf(err1) != ReasonOf(err2) {
				t.Fatalf("Validate %+v %v, ValidateToken %+v %v", c1, err1, c2, err2)
			}
			if s1, s2 := Scopes(parsed.Payload, []string{"scope", "scp"}), parsed.Scopes([]string{"scope", "scp"}); strings.Join(s1, " ") != strings.Join(s2, " ") {
				t.Fatalf("scopes %q vs %q", s1, s2)
			}
			h1, ok1 := ClaimHeaderValue(parsed.Payload, "sub")
			h2, ok2 := parsed.ClaimHeaderValue("sub")
			if h1 != h2 || ok1 != ok2 {
				t.Fatalf("sub %q %v vs %q %v", h1, ok1, h2, ok2)
			}
			if iss, ok := parsed.Issuer(); ok != !strings.Contains(payload, `"iss":7`) && name != "no issuer" || (ok && iss != "https://idp") {
				t.Fatalf("Issuer() = %q, %v", iss, ok)
			}
			sameClaimReading(t, parsed, v)
		})
	}
}
