package filter

import (
	"strings"
	"testing"
)

func TestUnknownFieldsSuggestTheFieldMeant(t *testing.T) {
	provider := func(extra string) string {
		return `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/"}` + extra + `}]}`
	}
	cases := []struct {
		name, cfg, want string
	}{
		{"a missing plural letter", provider(`,"audience":["x"]`), `providers[0].audience: unknown field (did you mean "audiences"?)`},
		{"Istio's camelCase spelling", provider(`,"fromHeaders":[]`), `providers[0].fromHeaders: unknown field (did you mean "from_headers"?)`},
		{"Envoy jwt_authn's longer name", provider(`,"clock_skew_seconds":5`), `providers[0].clock_skew_seconds: unknown field (did you mean "clock_skew_s"?)`},
		{"Envoy jwt_authn's require_expiration", provider(`,"require_expiration":true`), `providers[0].require_expiration: unknown field (did you mean "require_exp"?)`},
		{"a field from jwt_authn's remote_jwks", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","jwks_uri":"https://x/"}}]}`, `providers[0].remote_jwks.jwks_uri: unknown field (did you mean "uri"?)`},
		{"a singular requirement field", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/"}}],"default":{"scope":["a"]}}`, `default.scope: unknown field (did you mean "scopes"?)`},
		{"a top-level typo", `{"rule":[]}`, `rule: unknown field (did you mean "rules"?)`},
		{"no suggestion for a name close to nothing", `{"bogus":1}`, `bogus: unknown field`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.cfg))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error = %q\nwant    %q", got, tc.want)
			}
		})
	}
	t.Run("the valid twin: the suggested spelling is accepted", func(t *testing.T) {
		if _, err := ParseConfig([]byte(provider(`,"audiences":["x"],"from_headers":[{"name":"x-token"}],"clock_skew_s":5,"require_exp":true`))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDidYouMeanStaysQuietForLongOrDistantNames(t *testing.T) {
	allowed := []string{"name", "issuer", "audiences"}
	for _, name := range []string{"", strings.Repeat("audiences", 10), "zzzzzz", "x"} {
		if got := didYouMean(name, allowed); got != "" {
			t.Errorf("didYouMean(%q) = %q, want nothing", name, got)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"audience", "audiences", 1},
		{"kitten", "sitting", 3}, {"scopes", "scopes", 0},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
