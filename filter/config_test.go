package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/testjwt"
	"github.com/scopegate/scopegate/jwt"
)

func jwksJSON() string { return string(testjwt.JWKS(rsKey())) }

// remoteProvider is a valid remote_jwks provider object with extra members.
func remoteProvider(name, extra string) string {
	p := `{"name":"` + name + `","remote_jwks":{"cluster":"idp","uri":"https://idp.example.com/certs"}`
	if extra != "" {
		p += "," + extra
	}
	return p + "}"
}

func TestParseConfigRejectsBadConfigurationsNamingTheField(t *testing.T) {
	local := `{"name":"a","local_jwks":` + jwksJSON() + `}`
	rule := func(match string) string {
		return `{"providers":[` + local + `],"rules":[{"match":` + match + `,"requires":{}}]}`
	}
	cases := []struct {
		name, cfg, want string
	}{
		{"invalid JSON is rejected", `{"providers": [`, "configuration: invalid JSON"},
		{"a top level that is not an object is rejected", `[]`, "configuration: must be an object"},
		{"an unknown top-level field is rejected", `{"providers":[` + local + `],"bogus":1}`, "bogus: unknown field"},
		{"a duplicate top-level field is rejected", `{"realm":"a","realm":"b","providers":[` + local + `]}`, "realm: duplicate field"},
		{"an unknown provider field is rejected", `{"providers":[{"name":"a","colour":"red","local_jwks":` + jwksJSON() + `}]}`, "providers[0].colour: unknown field"},
		{"providers must be an array", `{"providers":{}}`, "providers: must be an array"},
		{"a provider needs a name", `{"providers":[{"local_jwks":` + jwksJSON() + `}]}`, "providers[0].name: is required"},
		{"a provider name must be a non-empty string", `{"providers":[{"name":"","local_jwks":` + jwksJSON() + `}]}`, "providers[0].name: must be a non-empty string"},
		{"provider names are unique", `{"providers":[` + local + `,` + local + `]}`, `providers[1].name: duplicate provider name "a"`},
		{"a provider without key source is rejected", `{"providers":[` + local + `,{"name":"b"}]}`, "providers[1]: exactly one of local_jwks, remote_jwks, discovery is required"},
		{"a provider with two key sources is rejected", `{"providers":[{"name":"a","local_jwks":` + jwksJSON() + `,"remote_jwks":{"cluster":"c","uri":"https://x/"}}]}`, "providers[0]: exactly one of local_jwks, remote_jwks, discovery is required"},
		{"remote_jwks needs a cluster", `{"providers":[{"name":"a","remote_jwks":{"uri":"https://x/"}}]}`, "providers[0].remote_jwks.cluster: is required"},
		{"remote_jwks needs a uri", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c"}}]}`, "providers[0].remote_jwks.uri: is required"},
		{"a relative uri is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"/certs"}}]}`, "providers[0].remote_jwks.uri: must be an absolute http or https URI"},
		{"a non-http uri is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"ftp://x/certs"}}]}`, "providers[0].remote_jwks.uri: must be an absolute http or https URI"},
		{"a uri without host is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https:///certs"}}]}`, "providers[0].remote_jwks.uri: must name a host"},
		{"a zero timeout is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","timeout_ms":0}}]}`, "providers[0].remote_jwks.timeout_ms: must be a positive integer"},
		{"a fractional timeout is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","timeout_ms":1.5}}]}`, "providers[0].remote_jwks.timeout_ms: must be a positive integer"},
		{"a string timeout is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","timeout_ms":"3000"}}]}`, "providers[0].remote_jwks.timeout_ms: must be a positive integer"},
		{"a zero cache duration is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","cache_duration_s":0}}]}`, "providers[0].remote_jwks.cache_duration_s: must be a positive integer"},
		{"a negative refetch interval is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","refetch_min_interval_s":-1}}]}`, "providers[0].remote_jwks.refetch_min_interval_s: must be a non-negative integer"},
		{"an unknown remote_jwks field is rejected", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","jwks_cluster":"d"}}]}`, "providers[0].remote_jwks.jwks_cluster: unknown field"},
		{"an empty discovery jwks_cluster is rejected", `{"providers":[{"name":"a","issuer":"https://x","discovery":{"cluster":"c","uri":"https://x/","jwks_cluster":""}}]}`, "providers[0].discovery.jwks_cluster: must be a non-empty string"},
		{"an empty cluster name is rejected", `{"providers":[{"name":"a","issuer":"https://x","discovery":{"cluster":"","uri":"https://x/"}}]}`, "providers[0].discovery.cluster: must be a non-empty string"},
		{"a discovery provider without an issuer is rejected", `{"providers":[{"name":"a","discovery":{"cluster":"c","uri":"https://x/"}}]}`, "providers[0].issuer: is required with discovery"},
		{"an empty audience is rejected", `{"providers":[{"name":"a","audiences":["api",""],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].audiences[1]: must be a non-empty string"},
		{"an unknown algorithm is rejected", `{"providers":[{"name":"a","algorithms":["RS256","XS999"],"local_jwks":` + jwksJSON() + `}]}`, `providers[0].algorithms[1]: unknown algorithm "XS999"`},
		{"alg none is rejected", `{"providers":[{"name":"a","algorithms":["none"],"local_jwks":` + jwksJSON() + `}]}`, `providers[0].algorithms[0]: unknown algorithm "none"`},
		{"an empty algorithm list is rejected", `{"providers":[{"name":"a","algorithms":[],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].algorithms: no algorithms listed"},
		{"HS256 with remote keys is rejected", `{"providers":[` + remoteProvider("a", `"algorithms":["HS256"]`) + `]}`, "providers[0].algorithms: HS256/HS384/HS512 are only allowed with local_jwks"},
		{"HS256 without an oct key is rejected", `{"providers":[{"name":"a","algorithms":["HS256","RS256"],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].local_jwks: HS256/HS384/HS512 are listed in algorithms but the key set holds no oct key"},
		{"local_jwks without a usable key is rejected", `{"providers":[{"name":"a","local_jwks":{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}}]}`, "providers[0].local_jwks: "},
		{"local_jwks that is not an object is rejected", `{"providers":[{"name":"a","local_jwks":[1]}]}`, "providers[0].local_jwks: must be a JWKS object"},
		{"oct keys without HS algorithms are not usable", `{"providers":[{"name":"a","local_jwks":` + string(testjwt.JWKS(testjwt.CachedKey("HS256", "h"))) + `}]}`, "providers[0].local_jwks: "},
		{"a from_headers entry needs a name", `{"providers":[{"name":"a","from_headers":[{"value_prefix":"Bearer "}],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].from_headers[0].name: is required"},
		{"an invalid header name is rejected", `{"providers":[{"name":"a","from_headers":[{"name":"bad header"}],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].from_headers[0].name: invalid header name"},
		{"a pseudo-header claim header is rejected", `{"providers":[{"name":"a","claim_to_headers":[{"claim":"sub","header":":path"}],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].claim_to_headers[0].header: invalid header name"},
		{"a malformed claim path is rejected", `{"providers":[{"name":"a","claim_to_headers":[{"claim":"a..b","header":"x-a"}],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].claim_to_headers[0].claim: claim path"},
		{"an empty param name is rejected", `{"providers":[{"name":"a","from_params":[""],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].from_params[0]: must be a non-empty string"},
		{"a non-string cookie name is rejected", `{"providers":[{"name":"a","from_cookies":[1],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].from_cookies[0]: must be a non-empty string"},
		{"a negative clock skew is rejected", `{"providers":[{"name":"a","clock_skew_s":-5,"local_jwks":` + jwksJSON() + `}]}`, "providers[0].clock_skew_s: must be a non-negative integer"},
		{"require_exp must be a bool", `{"providers":[{"name":"a","require_exp":"yes","local_jwks":` + jwksJSON() + `}]}`, "providers[0].require_exp: must be true or false"},
		{"an empty scope_claims list is rejected", `{"providers":[{"name":"a","scope_claims":[],"local_jwks":` + jwksJSON() + `}]}`, "providers[0].scope_claims: must list at least one claim name"},
		{"a rule naming an unknown provider is rejected", `{"providers":[` + local + `],"rules":[{"match":{"prefix":"/"},"requires":{"provider":"x"}}]}`, `rules[0].requires.provider: unknown provider "x"`},
		{"a rule needs a match", `{"providers":[` + local + `],"rules":[{"requires":{}}]}`, "rules[0].match: is required"},
		{"a rule needs requires", `{"providers":[` + local + `],"rules":[{"match":{"prefix":"/"}}]}`, "rules[0].requires: is required"},
		{"a match with prefix and path is rejected", `{"providers":[` + local + `],"rules":[{"match":{"prefix":"/","path":"/a"},"requires":{}}]}`, "rules[0].match: exactly one of prefix, path, path_separated_prefix is required"},
		{"a prefix must start with a slash", `{"providers":[` + local + `],"rules":[{"match":{"prefix":"api"},"requires":{}}]}`, `rules[0].match.prefix: must start with "/"`},
		{"an invalid method is rejected", `{"providers":[` + local + `],"rules":[{"match":{"prefix":"/","methods":["GET POST"]},"requires":{}}]}`, "rules[0].match.methods[0]: invalid method"},
		{"a path_separated_prefix must start with a slash", rule(`{"path_separated_prefix":"api"}`), `rules[0].match.path_separated_prefix: must start with "/"`},
		{"a path_separated_prefix must not end with a slash (as in Envoy)", rule(`{"path_separated_prefix":"/api/"}`), `rules[0].match.path_separated_prefix: must not end with "/"`},
		{"a path_separated_prefix of / is rejected", rule(`{"path_separated_prefix":"/"}`), `rules[0].match.path_separated_prefix: must not end with "/"`},
		{"an empty path_separated_prefix is rejected", rule(`{"path_separated_prefix":""}`), `rules[0].match.path_separated_prefix: must be a non-empty string`},
		{"a path_separated_prefix with prefix is rejected", rule(`{"path_separated_prefix":"/a","prefix":"/a"}`), "rules[0].match: exactly one of prefix, path, path_separated_prefix is required"},
		{"a query in a prefix is rejected", rule(`{"prefix":"/a?x=1"}`), `rules[0].match.prefix: must not contain "?"`},
		{"a fragment in a path is rejected", rule(`{"path":"/a#b"}`), `rules[0].match.path: must not contain "#"`},
		{"a path parameter in a prefix is rejected", rule(`{"prefix":"/a;v=1"}`), `rules[0].match.prefix: must not contain ";"`},
		{"a percent-escape in a path is rejected", rule(`{"path":"/%61dmin"}`), `rules[0].match.path: must not contain "%"`},
		{"a backslash in a path_separated_prefix is rejected", rule(`{"path_separated_prefix":"/a\\b"}`), `rules[0].match.path_separated_prefix: must not contain "\\"`},
		{"a space in a prefix is rejected", rule(`{"prefix":"/a b"}`), "rules[0].match.prefix: must not contain spaces or control characters"},
		{"an empty segment in a prefix is rejected", rule(`{"prefix":"/a//b"}`), `rules[0].match.prefix: must not contain an empty segment`},
		{"a dot segment in a path is rejected", rule(`{"path":"/a/../b"}`), `rules[0].match.path: must not contain "." or ".." segments`},
		{"a trailing dot segment in a prefix is rejected", rule(`{"prefix":"/a/."}`), `rules[0].match.prefix: must not contain "." or ".." segments`},
		{"* as a prefix is rejected", rule(`{"prefix":"*"}`), `rules[0].match.prefix: must start with "/"`},
		{"* with another method than OPTIONS is rejected", rule(`{"path":"*","methods":["OPTIONS","GET"]}`), `rules[0].match.methods[1]: the asterisk-form path "*" is only used with OPTIONS`},
		{"an empty scope is rejected", `{"providers":[` + local + `],"rules":[{"match":{"prefix":"/"},"requires":{"scopes":["a"]}},{"match":{"prefix":"/"},"requires":{}},{"match":{"prefix":"/"},"requires":{"any":[{"scopes":["x"]},{"scopes":[""]}]}}]}`, "rules[2].requires.any[1].scopes[0]: must be a non-empty string"},
		{"an empty any list is rejected", `{"providers":[` + local + `],"default":{"any":[]}}`, "default.any: must not be empty"},
		{"a claim requirement needs values", `{"providers":[` + local + `],"default":{"claims":[{"path":"roles","values":[]}]}}`, "default.claims[0].values: must list at least one value"},
		{"an unknown requirement field is rejected", `{"providers":[` + local + `],"default":{"scope":["a"]}}`, "default.scope: unknown field"},
		{"allow combined with scopes is rejected", `{"providers":[` + local + `],"default":{"allow":true,"scopes":["a"]}}`, "default.allow: cannot be combined with other fields"},
		{"conflicting provider restrictions are rejected", `{"providers":[` + local + `,{"name":"b","local_jwks":` + jwksJSON() + `}],"default":{"all":[{"provider":"a"},{"provider":"b"}]}}`, "default: no provider can satisfy this requirement"},
		{"requirements cannot nest without bound", `{"providers":[` + local + `],"default":` + strings.Repeat(`{"any":[`, 20) + `{}` + strings.Repeat(`]}`, 20) + `}`, strings.Repeat("default"+strings.Repeat(".any[0]", 17), 1) + ": requirements nest too deeply"},
		{"a zero max_token_bytes is rejected", `{"providers":[` + local + `],"max_token_bytes":0}`, "max_token_bytes: must be a positive integer"},
		{"a realm with a quote is rejected", `{"providers":[` + local + `],"realm":"a\"b"}`, "realm: must not contain quotes"},
		{"bypass_cors_preflight must be a bool", `{"providers":[` + local + `],"bypass_cors_preflight":1}`, "bypass_cors_preflight: must be true or false"},
		{"no providers with a token-requiring default is rejected", `{}`, "providers: at least one provider is required"},
		{"no providers with a token-requiring rule is rejected", `{"rules":[{"match":{"prefix":"/"},"requires":{"scopes":["a"]}}],"default":{"allow":true}}`, "providers: at least one provider is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tc.cfg))
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want prefix %q", err, tc.want)
			}
		})
	}
}

// The valid twins of the rejections above: close variants that must pass.
func TestParseConfigAcceptsTheValidTwins(t *testing.T) {
	local := `{"name":"a","local_jwks":` + jwksJSON() + `}`
	rule := func(match string) string {
		return `{"providers":[` + local + `],"rules":[{"match":` + match + `,"requires":{}}]}`
	}
	hs := testjwt.CachedKey("HS256", "h")
	cases := []struct{ name, cfg string }{
		{"a discovery provider with its own jwks_cluster", `{"providers":[{"name":"a","issuer":"https://x","discovery":{"cluster":"c","uri":"http://x:8080/.well-known/openid-configuration","jwks_cluster":"d"}}]}`},
		{"HS256 with a local oct key", `{"providers":[{"name":"a","algorithms":["HS256"],"local_jwks":` + string(testjwt.JWKS(hs)) + `}]}`},
		{"local_jwks given as a JSON string", `{"providers":[{"name":"a","local_jwks":` + quoteJSON(jwksJSON()) + `}]}`},
		{"a refetch interval of zero", `{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","refetch_min_interval_s":0}}]}`},
		{"no providers when everything is allowed", `{"rules":[{"match":{"prefix":"/"},"requires":{"allow":true}}],"default":{"allow":true}}`},
		{"an any tree with an allow branch", `{"providers":[` + local + `],"default":{"any":[{"allow":true},{"scopes":["a"]}]}}`},
		{"an empty forward_payload_header is off", `{"providers":[{"name":"a","forward_payload_header":"","local_jwks":` + jwksJSON() + `}]}`},
		{"a claim path with an escaped dot", `{"providers":[` + local + `],"default":{"claims":[{"path":"https://example\\.com/roles","values":["admin"]}]}}`},
		{"an empty issuer accepts any iss", `{"providers":[{"name":"a","issuer":"","local_jwks":` + jwksJSON() + `}]}`},
		{"a path_separated_prefix", rule(`{"path_separated_prefix":"/api/v1"}`)},
		{"a prefix with a trailing slash and dots inside names", rule(`{"prefix":"/static/.well-known/a..b/"}`)},
		{"the asterisk-form for OPTIONS", rule(`{"path":"*","methods":["options"]}`)},
		{"the asterisk-form without methods", rule(`{"path":"*"}`)},
		{"a non-ASCII path", rule(`{"path":"/café"}`)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseConfig([]byte(tc.cfg)); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	writeJSONString(&b, s)
	b.WriteByte('"')
	return b.String()
}

func TestParseConfigAppliesTheDesignDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"providers":[` + remoteProvider("kc", "") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers[0]
	checks := []struct {
		name string
		ok   bool
	}{
		{"audiences are not checked", len(p.Audiences) == 0},
		{"the authorization header with Bearer is a source", len(p.FromHeaders) == 1 && p.FromHeaders[0] == HeaderSource{Name: "authorization", ValuePrefix: "Bearer "}},
		{"access_token is the parameter", len(p.FromParams) == 1 && p.FromParams[0] == "access_token"},
		{"no cookies", len(p.FromCookies) == 0},
		{"asymmetric algorithms only", p.Algorithms == jwt.DefaultAlgs},
		{"clock skew is 60 s", p.ClockSkew == 60*time.Second},
		{"max lifetime is off", p.MaxLifetime == 0},
		{"exp is required", p.RequireExp},
		{"scopes come from scope then scp", strings.Join(p.ScopeClaims, ",") == "scope,scp"},
		{"the token is not forwarded", !p.Forward},
		{"no payload header", p.PayloadHeader == ""},
		{"no claim headers", len(p.ClaimToHeaders) == 0},
		{"the fetch timeout is 3 s", p.RemoteJWKS.Timeout == 3*time.Second},
		{"keys are cached for 600 s", p.RemoteJWKS.CacheDuration == 600*time.Second},
		{"unknown-kid refetch is limited to one per 30 s", p.RemoteJWKS.RefetchMinInterval == 30*time.Second},
		{"the callout goes to the URI's authority and path", p.RemoteJWKS.Authority == "idp.example.com" && p.RemoteJWKS.Path == "/certs"},
		{"CORS preflights bypass", cfg.BypassCORSPreflight},
		{"there is no realm", cfg.Realm == ""},
		{"tokens may be 16384 bytes", cfg.MaxTokenBytes == 16384},
		{"the default needs a valid token from any provider", cfg.Default != nil && !cfg.Default.alwaysAllows && !cfg.Default.allowsMissed && cfg.Default.providers.has(0)},
		{"the validator carries the provider settings", p.Validator.ClockSkew == p.ClockSkew && p.Validator.RequireExp},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("default: %s does not hold", c.name)
		}
	}
}

func TestParseConfigReadsEveryField(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{
	  "providers": [{
	    "name": "kc", "issuer": "https://idp/realms/x", "audiences": ["orders"],
	    "discovery": {"cluster": "idp", "uri": "https://idp/realms/x/.well-known/openid-configuration?x=1",
	                  "timeout_ms": 500, "cache_duration_s": 60, "refetch_min_interval_s": 5},
	    "from_headers": [{"name": "X-Token"}, {"name": "Authorization", "value_prefix": "DPoP "}],
	    "from_params": ["t"], "from_cookies": ["session"],
	    "algorithms": ["ES256"], "clock_skew_s": 0, "max_lifetime_s": 3600, "require_exp": false,
	    "scope_claims": ["scp"], "forward": true, "forward_payload_header": "X-JWT-Payload",
	    "claim_to_headers": [{"claim": "sub", "header": "X-JWT-Sub"}]
	  }],
	  "rules": [{"match": {"path": "/admin", "methods": ["get", "POST"]}, "requires": {"allow_missing": true, "scopes": ["admin"]}}],
	  "default": {"allow": true},
	  "bypass_cors_preflight": false, "realm": "api", "max_token_bytes": 4096
	}`))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers[0]
	d := p.Discovery
	if d == nil || d.Timeout != 500*time.Millisecond || d.CacheDuration != time.Minute || d.RefetchMinInterval != 5*time.Second ||
		d.JWKSCluster != "idp" || d.Path != "/realms/x/.well-known/openid-configuration?x=1" || d.Authority != "idp" {
		t.Errorf("discovery = %+v", d)
	}
	if p.FromHeaders[0] != (HeaderSource{Name: "x-token"}) || p.FromHeaders[1] != (HeaderSource{Name: "authorization", ValuePrefix: "DPoP "}) {
		t.Errorf("from_headers = %+v", p.FromHeaders)
	}
	if !p.Algorithms.Has(jwt.ES256) || p.Algorithms.Has(jwt.RS256) || p.ClockSkew != 0 || p.MaxLifetime != time.Hour || p.RequireExp {
		t.Errorf("verification settings = %+v", p)
	}
	if !p.Forward || p.PayloadHeader != "x-jwt-payload" || p.ClaimToHeaders[0] != (ClaimHeader{Claim: "sub", Header: "x-jwt-sub"}) {
		t.Errorf("forwarding = %+v", p)
	}
	r := cfg.Rules[0]
	if r.Match.Path != "/admin" || strings.Join(r.Match.Methods, ",") != "GET,POST,HEAD" || !r.Requirement.allowsMissed || r.Requirement.alwaysAllows {
		t.Errorf("rule = %+v %+v", r.Match, r.Requirement)
	}
	if !cfg.Default.alwaysAllows || cfg.BypassCORSPreflight || cfg.Realm != "api" || cfg.MaxTokenBytes != 4096 {
		t.Errorf("top level = %+v", cfg)
	}
	if strings.Join(cfg.stripHeaders, ",") != "x-jwt-payload,x-jwt-sub" {
		t.Errorf("stripped headers = %v", cfg.stripHeaders)
	}
}

func TestClustersListsEachClusterOnce(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{"providers":[` +
		remoteProvider("a", "") + `,` +
		`{"name":"b","issuer":"https://b","discovery":{"cluster":"disc","uri":"https://x/","jwks_cluster":"keys"}},` +
		`{"name":"c","issuer":"https://c","discovery":{"cluster":"idp","uri":"https://y/"}},` +
		`{"name":"d","local_jwks":` + jwksJSON() + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Clusters(), ","); got != "idp,disc,keys" {
		t.Errorf("Clusters() = %s, want idp,disc,keys", got)
	}
}

func TestSkippedLocalKeysBecomeWarnings(t *testing.T) {
	weak := map[string]any{"kty": "RSA", "kid": "weak", "n": "AQAB", "e": "AQAB"}
	cfg, err := ParseConfig([]byte(`{"providers":[{"name":"a","local_jwks":` +
		string(testjwt.JWKSOf(rsKey().JWK(), weak)) + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], `providers[0].local_jwks.keys[1]: key "weak" skipped`) {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"providers":[{"name":"a","local_jwks":` + jwksJSON() + `}]}`))
	f.Add([]byte(`{"providers":[` + remoteProvider("kc", `"audiences":["x"],"claim_to_headers":[{"claim":"a.b","header":"x-a"}]`) +
		`],"rules":[{"match":{"prefix":"/a","methods":["GET"]},"requires":{"any":[{"scopes":["s"]},{"claims":[{"path":"r","values":["v"]}]}]}}],"default":{"allow_missing":true}}`))
	f.Add([]byte(`{"rules":[{"match":{"path":"/"},"requires":{"allow":true}}],"default":{"allow":true}}`))
	f.Add([]byte(`{"providers":[{"name":"d","discovery":{"cluster":"c","uri":"http://h:1/p?q","jwks_cluster":"k"}}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"providers":[{"name":"a","remote_jwks":{"cluster":"c","uri":"https://x/","timeout_ms":1e400}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("a rejected configuration returned a plan")
			}
			if msg := err.Error(); msg == "" || strings.HasPrefix(msg, ":") {
				t.Fatalf("error without a field path: %q", msg)
			}
			return
		}
		// An accepted plan is complete: defaults applied, references resolved.
		if cfg.Default == nil || cfg.MaxTokenBytes <= 0 {
			t.Fatalf("incomplete plan: %+v", cfg)
		}
		for i, p := range cfg.Providers {
			n := 0
			for _, set := range []bool{p.LocalJWKS != nil, p.RemoteJWKS != nil, p.Discovery != nil} {
				if set {
					n++
				}
			}
			if n != 1 || p.Index != i || p.Name == "" {
				t.Fatalf("provider %d is inconsistent: %+v", i, p)
			}
		}
		for _, r := range cfg.Rules {
			if r.Requirement == nil || (r.Match.Prefix == "") == (r.Match.Path == "") {
				t.Fatalf("rule is inconsistent: %+v", r)
			}
		}
		_ = cfg.Clusters()
	})
}
