package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/jwt"
)

// freshInvalid is the 401 invalid_token as sendInvalid made it before the
// answers were kept: a denial per request, iss in it, rendered for that
// request alone. Kept answers must be these bytes.
func freshInvalid(desc, iss, realm string) (*denial, *localAnswer) {
	d := &denial{kind: denyInvalid, description: desc, reason: "invalid token: " + desc, iss: iss}
	return d, d.render(realm)
}

func TestKeptInvalidTokenAnswersAreTheFreshlyRenderedOnes(t *testing.T) {
	hostile := []string{
		`a "quoted" \ detail`, "line\nbreak\r and \x00 nul and \x7f del", "naïve 日本 \xff\xfe",
		strings.Repeat("long ", 80), "",
	}
	var errs []error
	for r := jwt.ReasonNone; r <= jwt.ReasonUnverifiable+1; r++ {
		errs = append(errs, &jwt.Error{Reason: r}, fmt.Errorf("wrapped: %w", &jwt.Error{Reason: r, Detail: "detail of " + r.String()}),
			&jwt.Error{Reason: r, Detail: `"` + r.String() + "\"\n"}, &jwt.Error{Reason: r, Detail: strings.Repeat(r.String(), 40)})
		for _, detail := range hostile {
			errs = append(errs, &jwt.Error{Reason: r, Detail: detail})
		}
	}
	errs = append(errs, jwt.ErrUnknownKid, errors.New("not the jwt package's"), nil)
	distinct := map[string]bool{}
	for _, err := range errs {
		distinct[invalidDescription(err)] = true
	}
	issuers := []string{"", testIssuer, `https://evil" sub="root`, "https://a\nforged line", strings.Repeat("i", 300), "https://ü.example"}
	for _, realm := range []string{"", "api", `odd "realm"`} {
		pc := &pluginContext{cfg: &Config{Realm: realm}}
		var line []byte
		// Twice over: the first pass renders and keeps, the second reuses.
		for pass := 0; pass < 2; pass++ {
			for _, err := range errs {
				for _, iss := range issuers {
					desc := invalidDescription(err)
					want, wantAnswer := freshInvalid(desc, iss, realm)
					d := pc.invalid.denial(desc, realm)
					a := d.render(realm)
					if d.status() != want.status() || string(a.headers) != string(wantAnswer.headers) || string(a.body) != string(wantAnswer.body) {
						t.Fatalf("realm %q, error %v, iss %q: kept answer\n%q %q\nwant\n%q %q", realm, err, iss, a.headers, a.body, wantAnswer.headers, wantAnswer.body)
					}
					line = appendDenialLine(line[:0], d, a, iss, "GET", "/orders?access_token=x")
					if wantLine := "denied 401 GET /orders" + string(wantAnswer.logTail); string(line) != wantLine {
						t.Fatalf("realm %q, error %v, iss %q: log line\n%s\nwant\n%s", realm, err, iss, line, wantLine)
					}
				}
			}
		}
		// More descriptions than the bound: past it, answers are rendered
		// per request, and still right (above).
		if n := len(pc.invalid.byDesc); n != maxInvalidAnswers || len(distinct) <= maxInvalidAnswers {
			t.Errorf("realm %q: %d answers kept of %d descriptions, want the bound %d", realm, n, len(distinct), maxInvalidAnswers)
		}
	}
}

func TestInvalidTokenAnswerDescriptions(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{jwt.ErrUnknownKid, "token signed with an unknown key id"},
		{&jwt.Error{Reason: jwt.ReasonExpired}, "token rejected: expired"},
		{fmt.Errorf("context: %w", &jwt.Error{Reason: jwt.ReasonExpired, Detail: "token expired"}), "token expired"},
		{errors.New("token expired"), "invalid token"},
		{nil, "invalid token"},
	}
	for _, tc := range cases {
		if got := invalidDescription(tc.err); got != tc.want {
			t.Errorf("invalidDescription(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestKeptInvalidTokenAnswers(t *testing.T) {
	t.Run("one description is rendered once", func(t *testing.T) {
		var ia invalidAnswers
		d := ia.denial("token expired", "api")
		if ia.denial("token expired", "api") != d {
			t.Fatal("the second 401 for the same description was rendered again")
		}
		if n := testing.AllocsPerRun(100, func() { ia.denial("token expired", "api").render("api") }); n != 0 {
			t.Fatalf("%v allocations per kept 401", n)
		}
		var line []byte
		line = appendDenialLine(line, d, d.render("api"), testIssuer, "GET", "/x")
		if n := testing.AllocsPerRun(100, func() { line = appendDenialLine(line[:0], d, d.render("api"), testIssuer, "GET", "/x") }); n != 0 {
			t.Fatalf("%v allocations per log line", n)
		}
	})
	t.Run("another realm renders the answers again", func(t *testing.T) {
		var ia invalidAnswers
		before := ia.denial("token expired", "api")
		after := ia.denial("token expired", "other")
		if after == before || !strings.Contains(string(after.render("other").headers), `realm="other"`) {
			t.Fatalf("the answer kept the old realm: %q", after.render("other").headers)
		}
		if len(ia.byDesc) != 1 {
			t.Fatalf("%d answers kept, want only the new realm's", len(ia.byDesc))
		}
	})
	t.Run("past the bound a description is rendered for its request alone", func(t *testing.T) {
		var ia invalidAnswers
		for i := 0; i < 3*maxInvalidAnswers; i++ {
			desc := "description " + strconv.Itoa(i)
			d := ia.denial(desc, "")
			if d.description != desc || !strings.Contains(string(d.render("").body), desc) {
				t.Fatalf("%q answered %q", desc, d.render("").body)
			}
		}
		if len(ia.byDesc) != maxInvalidAnswers {
			t.Fatalf("%d answers kept, want %d", len(ia.byDesc), maxInvalidAnswers)
		}
		if d := ia.denial("description 0", ""); d != ia.denial("description 0", "") {
			t.Fatal("a kept answer was dropped")
		}
	})
}

// TestInvalidTokenAnswersByReason sends, through the filter, a token for
// every reason a 401 invalid_token has, each twice (the first renders the
// kept answer, the second reuses it) and with issuers interleaved, and
// pins every byte of the answer and the log line.
func TestInvalidTokenAnswersByReason(t *testing.T) {
	forger := testjwt.NewKey("RS256", rsKey().Kid) // the provider's kid, another key
	anyIss := testjwt.CachedKey("ES256", "any-1")
	anyForger := testjwt.NewKey("ES256", "any-1")
	for _, realm := range []string{"", "api"} {
		top := `"rules":[{"match":{"prefix":"/"},"requires":{}}]`
		if realm != "" {
			top += `,"realm":"` + realm + `"`
		}
		cfg := `{"providers":[
		  {"name":"idp","issuer":"` + testIssuer + `","audiences":["orders"],"max_lifetime_s":7200,
		   "algorithms":["RS256","ES256","ES384"],"local_jwks":` + string(testjwt.JWKS(rsKey(), esKey())) + `},
		  {"name":"any","local_jwks":` + string(testjwt.JWKS(anyIss)) + `}],` + top + `}`
		with(t, "realm="+realm, cfg, func(t *testing.T, h *coreHarness) {
			now := h.clock.now
			claims := func(edit map[string]any) map[string]any {
				c := testjwt.Claims(testIssuer, "alice", now)
				c["aud"] = "orders"
				for k, v := range edit {
					if v == nil {
						delete(c, k)
					} else {
						c[k] = v
					}
				}
				return c
			}
			sign := func(edit map[string]any) string { return rsKey().Sign(claims(edit), nil) }
			hostileIss := "https://evil\" sub=\"root\nforged"
			cases := []struct {
				reason jwt.Reason
				token  string
				desc   string
				iss    string // as the log line quotes it ("": none)
			}{
				{jwt.ReasonMalformed, "x.y.z", "token segment is not canonical unpadded base64url", ""},
				{jwt.ReasonMalformed, "only.two", "token must have three dot-separated segments", ""},
				{jwt.ReasonUnsupportedAlg, rsKey().Sign(claims(nil), map[string]any{"alg": "none"}), "unsecured tokens (alg none) are not accepted", ""},
				{jwt.ReasonUnsupportedAlg, testjwt.CachedKey("PS256", "rs-1").Sign(claims(nil), nil), "token algorithm not allowed", `"` + testIssuer + `"`},
				{jwt.ReasonCrit, rsKey().Sign(claims(nil), map[string]any{"crit": []string{"exp"}}), "token header has critical extensions (crit) that are not understood", ""},
				{jwt.ReasonUnknownKid, rsKey().Sign(claims(nil), map[string]any{"kid": "nobody"}), "token signed with an unknown key id", `"` + testIssuer + `"`},
				{jwt.ReasonNoKey, testjwt.CachedKey("ES384", "").Sign(claims(nil), nil), "no key can verify this token", `"` + testIssuer + `"`},
				{jwt.ReasonBadSignature, forger.Sign(claims(nil), nil), "token signature is invalid", `"` + testIssuer + `"`},
				{jwt.ReasonBadSignature, anyForger.Sign(testjwt.Claims("https://other.example", "a", now), nil), "token signature is invalid", `"https://other.example"`},
				{jwt.ReasonBadSignature, anyForger.Sign(testjwt.Claims(hostileIss, "a", now), nil), "token signature is invalid", `"https://evil\" sub=\"root forged"`}, // the newline blanked
				{jwt.ReasonExpired, sign(map[string]any{"iat": now.Add(-3 * time.Hour).Unix(), "exp": now.Add(-2 * time.Hour).Unix()}), "token expired", `"` + testIssuer + `"`},
				{jwt.ReasonNotYetValid, sign(map[string]any{"nbf": now.Add(time.Hour).Unix()}), "token not yet valid", `"` + testIssuer + `"`},
				{jwt.ReasonIssuedInFuture, sign(map[string]any{"iat": now.Add(time.Hour).Unix()}), "token issued in the future", `"` + testIssuer + `"`},
				{jwt.ReasonLifetime, sign(map[string]any{"exp": now.Add(3 * time.Hour).Unix()}), "token lifetime too long", `"` + testIssuer + `"`},
				{jwt.ReasonMissingExp, sign(map[string]any{"exp": nil}), "token has no expiry (exp)", `"` + testIssuer + `"`},
				{jwt.ReasonBadAudience, sign(map[string]any{"aud": "billing"}), "token audience not accepted", `"` + testIssuer + `"`},
				{jwt.ReasonBadClaim, sign(map[string]any{"cnf": 5}), "token cnf claim is not an object", `"` + testIssuer + `"`},
			}
			challenge := "Bearer "
			if realm != "" {
				challenge += `realm="` + realm + `", `
			}
			seen := map[jwt.Reason]bool{}
			for pass := 0; pass < 2; pass++ {
				for _, tc := range cases {
					seen[tc.reason] = true
					before := len(h.host.GetInfoLogs())
					r := h.get("/orders", tc.token)
					if r.status() != 401 {
						t.Fatalf("%s (%s): status %d, want 401", tc.reason, tc.desc, r.status())
					}
					want := [][2]string{{"content-type", "application/json"}, {"cache-control", "no-store"},
						{"www-authenticate", challenge + `error="invalid_token", error_description="` + tc.desc + `"`}}
					if fmt.Sprint(r.local.Headers) != fmt.Sprint(want) {
						t.Errorf("%s, pass %d: headers %q, want %q", tc.reason, pass, r.local.Headers, want)
					}
					if body := string(r.local.Data); body != `{"error":"invalid_token","error_description":"`+tc.desc+`"}` {
						t.Errorf("%s, pass %d: body %s", tc.reason, pass, body)
					}
					line := "denied 401 GET /orders: invalid token: " + tc.desc
					if tc.iss != "" {
						line += " iss=" + tc.iss
					}
					if logs := h.host.GetInfoLogs()[before:]; len(logs) != 1 || logs[0] != line {
						t.Errorf("%s, pass %d: log %q, want %q", tc.reason, pass, logs, line)
					}
				}
			}
			// Every reason but those another answer takes: a token over
			// max_token_bytes is refused before parsing, an unverifiable
			// one is 503, and a provider's issuer picks the provider (a
			// token no provider's issuer fits is "token issuer is not
			// accepted", not sendInvalid's).
			for r := jwt.ReasonMalformed; r <= jwt.ReasonUnverifiable; r++ {
				if !seen[r] && r != jwt.ReasonTooLarge && r != jwt.ReasonUnverifiable && r != jwt.ReasonBadIssuer {
					t.Errorf("no case for reason %s", r)
				}
			}
		})
	}
}
