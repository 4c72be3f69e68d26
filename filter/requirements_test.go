package filter

import (
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// twoProviders configures providers "a" and "b" (issuers https://a, https://b)
// with the given default requirement.
func twoProviders(t *testing.T, def string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte(`{"providers":[
	  {"name":"a","issuer":"https://a","local_jwks":` + string(testjwt.JWKS(rsKey())) + `},
	  {"name":"b","issuer":"https://b","local_jwks":` + string(testjwt.JWKS(esKey())) + `}],
	  "default":` + def + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func tokenFrom(cfg *Config, provider int, payload string, scopes ...string) *verifiedToken {
	return &verifiedToken{provider: cfg.Providers[provider], payload: []byte(payload), scopes: scopes}
}

func TestRequirementTree(t *testing.T) {
	cases := []struct {
		name, req string
		provider  int
		payload   string
		scopes    []string
		want      bool
	}{
		{"an empty requirement accepts any valid token", `{}`, 1, `{}`, nil, true},
		{"scopes are all required", `{"scopes":["a","b"]}`, 0, `{}`, []string{"a"}, false},
		{"scopes are all required: twin", `{"scopes":["a","b"]}`, 0, `{}`, []string{"b", "a", "c"}, true},
		{"a provider restriction rejects the other provider", `{"provider":"a"}`, 1, `{}`, nil, false},
		{"a provider restriction accepts its provider", `{"provider":"a"}`, 0, `{}`, nil, true},
		{"a string claim is compared whole: no item of it matches", `{"claims":[{"path":"preferred_username","values":["x","admin"]}]}`, 0, `{"preferred_username":"mallory admin"}`, nil, false},
		{"a string claim equal to a value matches", `{"claims":[{"path":"preferred_username","values":["x","admin"]}]}`, 0, `{"preferred_username":"admin"}`, nil, true},
		{"a scope claim is split into its items", `{"claims":[{"path":"scp","values":["admin"]}]}`, 0, `{"scp":"user admin"}`, nil, true},
		{"a claim in an array", `{"claims":[{"path":"realm_access.roles","values":["admin"]}]}`, 0, `{"realm_access":{"roles":["admin"]}}`, nil, true},
		{"a claim without the value", `{"claims":[{"path":"realm_access.roles","values":["admin"]}]}`, 0, `{"realm_access":{"roles":["user"]}}`, nil, false},
		{"a bool claim matches its text", `{"claims":[{"path":"email_verified","values":["true"]}]}`, 0, `{"email_verified":true}`, nil, true},
		{"every claim entry must hold", `{"claims":[{"path":"x","values":["1"]},{"path":"y","values":["2"]}]}`, 0, `{"x":"1"}`, nil, false},
		{"any passes with one branch", `{"any":[{"scopes":["admin"]},{"scopes":["ops"]}]}`, 0, `{}`, []string{"ops"}, true},
		{"any fails with no branch", `{"any":[{"scopes":["admin"]},{"scopes":["ops"]}]}`, 0, `{}`, []string{"dev"}, false},
		{"all needs every branch", `{"all":[{"scopes":["a"]},{"claims":[{"path":"t","values":["x"]}]}]}`, 0, `{"t":"y"}`, []string{"a"}, false},
		{"all needs every branch: twin", `{"all":[{"scopes":["a"]},{"claims":[{"path":"t","values":["x"]}]}]}`, 0, `{"t":"x"}`, []string{"a"}, true},
		{"per-provider branches: a with its scope", `{"any":[{"provider":"a","scopes":["x"]},{"provider":"b","scopes":["y"]}]}`, 0, `{}`, []string{"x"}, true},
		{"per-provider branches: b needs its own scope", `{"any":[{"provider":"a","scopes":["x"]},{"provider":"b","scopes":["y"]}]}`, 1, `{}`, []string{"x"}, false},
		{"node fields and any combine", `{"scopes":["base"],"any":[{"scopes":["x"]},{"scopes":["y"]}]}`, 0, `{}`, []string{"y"}, false},
		{"node fields and any combine: twin", `{"scopes":["base"],"any":[{"scopes":["x"]},{"scopes":["y"]}]}`, 0, `{}`, []string{"y", "base"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := twoProviders(t, tc.req)
			if got := cfg.Default.satisfied(tokenFrom(cfg, tc.provider, tc.payload, tc.scopes...), nil); got != tc.want {
				t.Fatalf("satisfied = %v, want %v", got, tc.want)
			}
			// The explaining evaluation must agree with the fast one.
			var u unmet
			if got := cfg.Default.satisfied(tokenFrom(cfg, tc.provider, tc.payload, tc.scopes...), &u); got != tc.want {
				t.Fatalf("satisfied with explanation = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequirementDerivedFacts(t *testing.T) {
	cases := []struct {
		req                   string
		alwaysAllows, missing bool
		providers             providerMask
	}{
		{`{}`, false, false, 0b11},
		{`{"allow":true}`, true, true, 0b11},
		{`{"allow_missing":true}`, false, true, 0b11},
		{`{"allow_missing":true,"scopes":["a"]}`, false, true, 0b11},
		{`{"any":[{"allow":true},{"scopes":["a"]}]}`, true, true, 0b11},
		{`{"all":[{"allow":true},{"scopes":["a"]}]}`, false, false, 0b11},
		{`{"any":[{"allow_missing":true},{"scopes":["a"]}]}`, false, true, 0b11},
		{`{"provider":"b"}`, false, false, 0b10},
		{`{"any":[{"provider":"a"},{"provider":"b","scopes":["x"]}]}`, false, false, 0b11},
		{`{"all":[{"provider":"b"},{"scopes":["x"]}]}`, false, false, 0b10},
	}
	for _, tc := range cases {
		t.Run(tc.req+" is understood", func(t *testing.T) {
			r := twoProviders(t, tc.req).Default
			if r.alwaysAllows != tc.alwaysAllows || r.allowsMissed != tc.missing || r.providers != tc.providers {
				t.Fatalf("alwaysAllows %v allowsMissed %v providers %b; want %v %v %b",
					r.alwaysAllows, r.allowsMissed, r.providers, tc.alwaysAllows, tc.missing, tc.providers)
			}
		})
	}
}

func TestUnmetExplainsTheDenial(t *testing.T) {
	cfg := twoProviders(t, `{"any":[{"scopes":["admin","ops"]},{"scopes":["root"]}]}`)
	var u unmet
	cfg.Default.satisfied(tokenFrom(cfg, 0, `{}`, "ops"), &u)
	if got := strings.Join(u.missingScopes, " "); got != "admin root" {
		t.Errorf("missing = %q, want %q", got, "admin root")
	}
	if got := strings.Join(u.needScopes, " "); got != "admin ops root" {
		t.Errorf("need = %q, want %q", got, "admin ops root")
	}
}

func TestRuleMatching(t *testing.T) {
	cases := []struct {
		m            Match
		path, method string
		want         bool
	}{
		{Match{Prefix: "/api"}, "/api", "GET", true},
		{Match{Prefix: "/api"}, "/api/v1", "GET", true},
		{Match{Prefix: "/api"}, "/ap", "GET", false},
		{Match{Path: "/api"}, "/api/", "GET", false},
		{Match{Path: "/api"}, "/api", "GET", true},
		{Match{Prefix: "/", Methods: []string{"POST", "PUT"}}, "/x", "PUT", true},
		{Match{Prefix: "/", Methods: []string{"POST", "PUT"}}, "/x", "GET", false},
	}
	for _, tc := range cases {
		if got := tc.m.fits(tc.path, tc.method); got != tc.want {
			t.Errorf("%+v fits %s %s = %v, want %v", tc.m, tc.method, tc.path, got, tc.want)
		}
	}
}
