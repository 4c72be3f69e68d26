package filter

import (
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/scopegate/scopegate/jwt"
)

// Defaults and bounds of the configuration (DESIGN §3). The bounds keep a
// hostile or mistaken configuration from making the request path unbounded.
const (
	defaultTimeout            = 3000 * time.Millisecond
	defaultCacheDuration      = 600 * time.Second
	defaultRefetchMinInterval = 30 * time.Second
	defaultClockSkew          = 60 * time.Second
	defaultMaxTokenBytes      = 16384

	maxProviders       = 64 // providerMask is a uint64
	maxRequirementNest = 16
	maxTokenBytesLimit = 1 << 20
	// Bounds for a local_jwks key set (remote sets use the key store's own).
	localJWKSMaxBytes = 1 << 20
	localJWKSMaxKeys  = 256
)

// ParseConfig validates the plugin configuration (JSON, DESIGN §3) and turns
// it into an immutable plan with every default applied. Unknown fields,
// duplicate fields and wrong types are errors; every error begins with the
// path of the offending field, e.g. "providers[1].remote_jwks.uri: ...".
func ParseConfig(data []byte) (*Config, error) {
	if !gjson.ValidBytes(data) {
		return nil, errors.New("configuration: invalid JSON")
	}
	root := gjson.ParseBytes(data)
	p := &configParser{}
	cfg := p.config(root)
	if p.err != nil {
		return nil, p.err
	}
	return cfg, nil
}

// Clusters lists every cluster the configuration fetches keys or discovery
// documents through, each once, in configuration order.
func (c *Config) Clusters() []string {
	var out []string
	add := func(name string) {
		for _, have := range out {
			if have == name {
				return
			}
		}
		out = append(out, name)
	}
	for _, p := range c.Providers {
		switch {
		case p.RemoteJWKS != nil:
			add(p.RemoteJWKS.Cluster)
		case p.Discovery != nil:
			add(p.Discovery.Cluster)
			add(p.Discovery.JWKSCluster)
		}
	}
	return out
}

// configParser keeps the first error; every helper becomes a no-op after it,
// so the parsing code reads top to bottom without error plumbing.
type configParser struct {
	err        error
	warnings   []string
	hostCrypto HostCrypto // the top-level host_crypto, read first
}

func (p *configParser) fail(path, msg string) {
	if p.err == nil {
		p.err = errors.New(path + ": " + msg)
	}
}

func (p *configParser) failed() bool { return p.err != nil }

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// object checks that r is a JSON object whose members are all in allowed and
// appear once each.
func (p *configParser) object(path string, r gjson.Result, allowed ...string) bool {
	if p.failed() {
		return false
	}
	if !r.IsObject() {
		name := path
		if name == "" {
			name = "configuration"
		}
		p.fail(name, "must be an object")
		return false
	}
	seen := make(map[string]bool, len(allowed))
	r.ForEach(func(k, _ gjson.Result) bool {
		name := k.String()
		known := false
		for _, a := range allowed {
			if a == name {
				known = true
				break
			}
		}
		switch {
		case !known:
			p.fail(join(path, fieldLabel(name)), "unknown field"+didYouMean(name, allowed))
		case seen[name]:
			p.fail(join(path, name), "duplicate field")
		}
		seen[name] = true
		return !p.failed()
	})
	return !p.failed()
}

// fieldLabel renders an unknown field name for an error path: plain names
// as they are, anything else (empty, dots, control characters) quoted.
func fieldLabel(name string) string {
	if name == "" {
		return `""`
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return strconv.Quote(name)
		}
	}
	return name
}

// member returns a field of an object already checked by object. gjson path
// syntax is not used, so field names are taken literally.
func member(r gjson.Result, name string) gjson.Result {
	var out gjson.Result
	r.ForEach(func(k, v gjson.Result) bool {
		if k.String() == name {
			out = v
			return false
		}
		return true
	})
	return out
}

func (p *configParser) str(path string, r gjson.Result, def string, nonEmpty bool) string {
	if p.failed() || !r.Exists() {
		return def
	}
	if r.Type != gjson.String || (nonEmpty && r.Str == "") {
		if nonEmpty {
			p.fail(path, "must be a non-empty string")
		} else {
			p.fail(path, "must be a string")
		}
		return def
	}
	return r.Str
}

func (p *configParser) boolean(path string, r gjson.Result, def bool) bool {
	if p.failed() || !r.Exists() {
		return def
	}
	if r.Type != gjson.True && r.Type != gjson.False {
		p.fail(path, "must be true or false")
		return def
	}
	return r.Type == gjson.True
}

// integer reads a whole number in [min, max]; min is 0 or 1 in practice.
func (p *configParser) integer(path string, r gjson.Result, def, min, max int64) int64 {
	if p.failed() || !r.Exists() {
		return def
	}
	kind := "a non-negative integer"
	if min > 0 {
		kind = "a positive integer"
	}
	if r.Type != gjson.Number || r.Num != math.Trunc(r.Num) || r.Num < float64(min) || r.Num > float64(max) {
		p.fail(path, "must be "+kind+" (at most "+strconv.FormatInt(max, 10)+")")
		return def
	}
	return int64(r.Num)
}

func (p *configParser) seconds(path string, r gjson.Result, def time.Duration, min int64) time.Duration {
	const maxSeconds = 10 * 365 * 24 * 3600
	return time.Duration(p.integer(path, r, int64(def/time.Second), min, maxSeconds)) * time.Second
}

// array calls each for every element of a JSON array; absent is fine.
func (p *configParser) array(path string, r gjson.Result, each func(path string, i int, v gjson.Result)) {
	if p.failed() || !r.Exists() {
		return
	}
	if !r.IsArray() {
		p.fail(path, "must be an array")
		return
	}
	for i, v := range r.Array() {
		if p.failed() {
			return
		}
		each(index(path, i), i, v)
	}
}

// strings reads an array of non-empty strings; present is true when the
// field exists (so callers can tell [] from absent).
func (p *configParser) strings(path string, r gjson.Result) (list []string, present bool) {
	if !r.Exists() {
		return nil, false
	}
	list = []string{}
	p.array(path, r, func(path string, _ int, v gjson.Result) {
		list = append(list, p.str(path, v, "", true))
	})
	return list, true
}

func (p *configParser) config(root gjson.Result) *Config {
	if !p.object("", root, "providers", "rules", "default", "bypass_cors_preflight", "realm", "max_token_bytes", "host_crypto") {
		return nil
	}
	cfg := &Config{
		BypassCORSPreflight: p.boolean("bypass_cors_preflight", member(root, "bypass_cors_preflight"), true),
		Realm:               p.str("realm", member(root, "realm"), "", false),
		MaxTokenBytes:       int(p.integer("max_token_bytes", member(root, "max_token_bytes"), defaultMaxTokenBytes, 1, maxTokenBytesLimit)),
	}
	// Read before the providers: "require" limits their algorithms.
	if hc := p.str("host_crypto", member(root, "host_crypto"), "auto", false); !p.failed() {
		mode, ok := parseHostCrypto(hc)
		if !ok {
			p.fail("host_crypto", `must be "auto", "require" or "off", got `+strconv.Quote(hc))
		}
		cfg.HostCrypto, p.hostCrypto = mode, mode
	}
	if !p.failed() && !printable(cfg.Realm) {
		p.fail("realm", "must not contain quotes, backslashes or control characters")
	}
	providers := member(root, "providers")
	p.array("providers", providers, func(path string, i int, v gjson.Result) {
		if i >= maxProviders {
			p.fail("providers", "at most "+strconv.Itoa(maxProviders)+" providers are supported")
			return
		}
		prov := p.provider(path, i, v)
		for _, other := range cfg.Providers {
			if prov != nil && other.Name == prov.Name {
				p.fail(join(path, "name"), "duplicate provider name "+strconv.Quote(prov.Name))
			}
		}
		cfg.Providers = append(cfg.Providers, prov)
	})
	if p.failed() {
		return nil
	}
	p.array("rules", member(root, "rules"), func(path string, _ int, v gjson.Result) {
		if !p.object(path, v, "match", "requires") {
			return
		}
		rule := &Rule{Match: p.match(join(path, "match"), member(v, "match"))}
		req := member(v, "requires")
		if !req.Exists() {
			p.fail(join(path, "requires"), "is required")
			return
		}
		rule.Requirement = p.requirement(join(path, "requires"), req, cfg, 0)
		cfg.Rules = append(cfg.Rules, rule)
	})
	if def := member(root, "default"); def.Exists() {
		cfg.Default = p.requirement("default", def, cfg, 0)
	} else {
		cfg.Default = &Requirement{}
		p.derive("default", cfg.Default, cfg)
	}
	if p.failed() {
		return nil
	}
	if len(cfg.Providers) == 0 && !p.everythingAllowed(cfg) {
		p.fail("providers", "at least one provider is required unless every rule and the default are {\"allow\": true}")
		return nil
	}
	p.checkHeaderClashes(cfg)
	if p.failed() {
		return nil
	}
	cfg.deriveSources()
	cfg.deriveAnswers()
	cfg.Warnings = p.warnings
	return cfg
}

// checkHeaderClashes rejects a claim_to_headers or forward_payload_header
// name that is also where tokens are read from (any provider's from_headers,
// or cookie when cookies carry tokens), in any spelling folded alike ("_"
// for "-"): those names are stripped from every request, so such a
// configuration would silently eat the tokens.
func (p *configParser) checkHeaderClashes(cfg *Config) {
	source := func(name string) bool {
		for _, prov := range cfg.Providers {
			for _, h := range prov.FromHeaders {
				if sameFoldedName(h.Name, name) {
					return true
				}
			}
			if sameFoldedName(name, "cookie") && len(prov.FromCookies) > 0 {
				return true
			}
		}
		return false
	}
	for i, prov := range cfg.Providers {
		path := index("providers", i)
		if prov.PayloadHeader != "" && source(prov.PayloadHeader) {
			p.fail(join(path, "forward_payload_header"), strconv.Quote(prov.PayloadHeader)+" is a header tokens are read from")
			return
		}
		for j, ch := range prov.ClaimToHeaders {
			if source(ch.Header) {
				p.fail(join(index(join(path, "claim_to_headers"), j), "header"), strconv.Quote(ch.Header)+" is a header tokens are read from")
				return
			}
		}
	}
}

func (p *configParser) everythingAllowed(cfg *Config) bool {
	for _, r := range cfg.Rules {
		if !r.Requirement.alwaysAllows {
			return false
		}
	}
	return cfg.Default.alwaysAllows
}

func (p *configParser) provider(path string, i int, v gjson.Result) *Provider {
	if !p.object(path, v, "name", "issuer", "audiences", "remote_jwks", "discovery", "local_jwks",
		"from_headers", "from_params", "from_cookies", "algorithms", "clock_skew_s", "max_lifetime_s",
		"require_exp", "scope_claims", "forward", "forward_payload_header", "claim_to_headers",
		"dpop", "certificate_bound") {
		return nil
	}
	name := member(v, "name")
	if !name.Exists() {
		p.fail(join(path, "name"), "is required")
		return nil
	}
	prov := &Provider{
		Index:       i,
		Name:        p.str(join(path, "name"), name, "", true),
		Issuer:      p.str(join(path, "issuer"), member(v, "issuer"), "", false),
		ClockSkew:   p.seconds(join(path, "clock_skew_s"), member(v, "clock_skew_s"), defaultClockSkew, 0),
		MaxLifetime: p.seconds(join(path, "max_lifetime_s"), member(v, "max_lifetime_s"), 0, 0),
		RequireExp:  p.boolean(join(path, "require_exp"), member(v, "require_exp"), true),
		Forward:     p.boolean(join(path, "forward"), member(v, "forward"), false),
		FromParams:  []string{"access_token"},
		FromCookies: []string{},
		ScopeClaims: []string{"scope", "scp"},
		Algorithms:  jwt.DefaultAlgs,
	}
	prov.Audiences, _ = p.strings(join(path, "audiences"), member(v, "audiences"))

	// Token sources.
	prov.FromHeaders = []HeaderSource{{Name: "authorization", ValuePrefix: "Bearer "}}
	if hs := member(v, "from_headers"); hs.Exists() {
		prov.FromHeaders = []HeaderSource{}
		p.array(join(path, "from_headers"), hs, func(path string, _ int, h gjson.Result) {
			if !p.object(path, h, "name", "value_prefix") {
				return
			}
			if !member(h, "name").Exists() {
				p.fail(join(path, "name"), "is required")
				return
			}
			src := HeaderSource{
				Name:        p.headerName(join(path, "name"), member(h, "name")),
				ValuePrefix: p.str(join(path, "value_prefix"), member(h, "value_prefix"), "", false),
			}
			prov.FromHeaders = append(prov.FromHeaders, src)
		})
	}
	if list, ok := p.strings(join(path, "from_params"), member(v, "from_params")); ok {
		prov.FromParams = list
	}
	if list, ok := p.strings(join(path, "from_cookies"), member(v, "from_cookies")); ok {
		prov.FromCookies = list
	}
	if list, ok := p.strings(join(path, "scope_claims"), member(v, "scope_claims")); ok {
		if len(list) == 0 && !p.failed() {
			p.fail(join(path, "scope_claims"), "must list at least one claim name")
		}
		prov.ScopeClaims = list
	}
	hmac := false
	if p.hostCrypto == HostCryptoRequire {
		// Only what the proxy's verify_signature checks: RS* and ES*.
		prov.Algorithms = jwt.DefaultAlgs & jwt.NativeAlgs
	}
	if list, ok := p.strings(join(path, "algorithms"), member(v, "algorithms")); ok && !p.failed() {
		for j, name := range list {
			a, known := jwt.ParseAlg(name)
			if !known {
				p.fail(index(join(path, "algorithms"), j), "unknown algorithm "+strconv.Quote(name))
				return nil
			}
			if p.hostCrypto == HostCryptoRequire && !jwt.NativeAlgs.Has(a) {
				p.fail(index(join(path, "algorithms"), j), strconv.Quote(name)+` cannot be checked by the proxy's verify_signature, and host_crypto "require" allows no other check (it checks `+jwt.NativeAlgs.String()+")")
				return nil
			}
			hmac = hmac || a == jwt.HS256 || a == jwt.HS384 || a == jwt.HS512
		}
		set, err := jwt.ParseAlgSet(list)
		if err != nil {
			p.fail(join(path, "algorithms"), err.Error())
			return nil
		}
		prov.Algorithms = set
	}

	// Forwarding.
	if ph := member(v, "forward_payload_header"); ph.Exists() {
		if ph.Type == gjson.String && ph.Str == "" {
			prov.PayloadHeader = ""
		} else {
			prov.PayloadHeader = p.headerName(join(path, "forward_payload_header"), ph)
		}
	}
	prov.ClaimToHeaders = []ClaimHeader{}
	p.array(join(path, "claim_to_headers"), member(v, "claim_to_headers"), func(path string, _ int, c gjson.Result) {
		if !p.object(path, c, "claim", "header") {
			return
		}
		claim, header := member(c, "claim"), member(c, "header")
		if !claim.Exists() {
			p.fail(join(path, "claim"), "is required")
			return
		}
		if !header.Exists() {
			p.fail(join(path, "header"), "is required")
			return
		}
		prov.ClaimToHeaders = append(prov.ClaimToHeaders, ClaimHeader{
			Claim:  p.claimPath(join(path, "claim"), claim),
			Header: p.headerName(join(path, "header"), header),
		})
	})

	// Key source: exactly one.
	local, remote, disc := member(v, "local_jwks"), member(v, "remote_jwks"), member(v, "discovery")
	n := 0
	for _, r := range []gjson.Result{local, remote, disc} {
		if r.Exists() {
			n++
		}
	}
	if p.failed() {
		return nil
	}
	if n != 1 {
		p.fail(path, "exactly one of local_jwks, remote_jwks, discovery is required")
		return nil
	}
	switch {
	case local.Exists():
		prov.LocalJWKS = p.localJWKS(join(path, "local_jwks"), local, hmac)
	case remote.Exists():
		f := p.fetch(join(path, "remote_jwks"), remote, false)
		if f != nil {
			prov.RemoteJWKS = &RemoteJWKS{Fetch: f.Fetch}
		}
	default:
		// Discovery trusts the document only when its issuer equals the provider's
		// (DESIGN §3), so a discovery provider without an issuer could never get keys.
		if prov.Issuer == "" {
			p.fail(join(path, "issuer"), "is required with discovery (the discovery document's issuer must equal it)")
			return nil
		}
		prov.Discovery = p.fetch(join(path, "discovery"), disc, true)
	}
	if p.failed() {
		return nil
	}
	if hmac && prov.LocalJWKS == nil {
		p.fail(join(path, "algorithms"), "HS256/HS384/HS512 are only allowed with local_jwks holding an oct key")
		return nil
	}
	for j, a := range prov.Audiences {
		if a == "" {
			p.fail(index(join(path, "audiences"), j), "must be a non-empty string")
			return nil
		}
	}
	prov.DPoP = p.dpop(join(path, "dpop"), member(v, "dpop"))
	prov.CertificateBound = p.certificateBound(join(path, "certificate_bound"), member(v, "certificate_bound"))
	if p.failed() {
		return nil
	}
	prov.Validator = jwt.Validator{
		Issuer:      prov.Issuer,
		Audiences:   prov.Audiences,
		ClockSkew:   prov.ClockSkew,
		MaxLifetime: prov.MaxLifetime,
		RequireExp:  prov.RequireExp,
	}
	return prov
}

// localJWKS parses an inline key set: the JWKS object itself, or a string
// holding its JSON text.
func (p *configParser) localJWKS(path string, r gjson.Result, hmac bool) *jwt.KeySet {
	raw := r.Raw
	switch {
	case r.Type == gjson.String:
		raw = r.Str
		if !gjson.Valid(raw) || !gjson.Parse(raw).IsObject() {
			p.fail(path, "must be a JWKS object (or a string holding one)")
			return nil
		}
	case !r.IsObject():
		p.fail(path, "must be a JWKS object (or a string holding one)")
		return nil
	}
	ks, skipped, err := jwt.ParseJWKS([]byte(raw), jwt.JWKSOptions{
		MaxBytes: localJWKSMaxBytes, MaxKeys: localJWKSMaxKeys, AllowOct: hmac,
	})
	if err != nil {
		p.fail(path, err.Error())
		return nil
	}
	for _, s := range skipped {
		p.warn(index(join(path, "keys"), s.Index) + ": key " + strconv.Quote(s.Kid) + " skipped: " + s.Reason)
	}
	if ks == nil || len(ks.Keys) == 0 {
		p.fail(path, "no usable key")
		return nil
	}
	if hmac {
		oct := false
		for _, k := range ks.Keys {
			oct = oct || k.Kty == "oct"
		}
		if !oct {
			p.fail(path, "HS256/HS384/HS512 are listed in algorithms but the key set holds no oct key")
			return nil
		}
	}
	return ks
}

// warn records a problem that does not reject the configuration.
func (p *configParser) warn(msg string) { p.warnings = append(p.warnings, msg) }

// fetch parses remote_jwks or (with discovery) a discovery block.
func (p *configParser) fetch(path string, r gjson.Result, discovery bool) *Discovery {
	fields := []string{"cluster", "uri", "timeout_ms", "cache_duration_s", "refetch_min_interval_s"}
	if discovery {
		fields = append(fields, "jwks_cluster")
	}
	if !p.object(path, r, fields...) {
		return nil
	}
	cluster, uri := member(r, "cluster"), member(r, "uri")
	if !cluster.Exists() {
		p.fail(join(path, "cluster"), "is required (the name of the proxy cluster that reaches the identity provider)")
		return nil
	}
	if !uri.Exists() {
		p.fail(join(path, "uri"), "is required")
		return nil
	}
	d := &Discovery{Fetch: Fetch{
		Cluster:            p.str(join(path, "cluster"), cluster, "", true),
		URI:                p.str(join(path, "uri"), uri, "", true),
		Timeout:            time.Duration(p.integer(join(path, "timeout_ms"), member(r, "timeout_ms"), int64(defaultTimeout/time.Millisecond), 1, 3600_000)) * time.Millisecond,
		CacheDuration:      p.seconds(join(path, "cache_duration_s"), member(r, "cache_duration_s"), defaultCacheDuration, 1),
		RefetchMinInterval: p.seconds(join(path, "refetch_min_interval_s"), member(r, "refetch_min_interval_s"), defaultRefetchMinInterval, 0),
	}}
	if discovery {
		d.JWKSCluster = p.str(join(path, "jwks_cluster"), member(r, "jwks_cluster"), d.Cluster, true)
	}
	if p.failed() {
		return nil
	}
	authority, reqPath, err := splitURI(d.URI)
	if err != nil {
		p.fail(join(path, "uri"), err.Error())
		return nil
	}
	d.Authority, d.Path = authority, reqPath
	return d
}

// splitURI checks that s is an absolute http(s) URI with a host and returns
// the :authority and :path a callout to it needs.
func splitURI(s string) (authority, path string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", errors.New("invalid URI " + strconv.Quote(s))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", errors.New("must be an absolute http or https URI, got " + strconv.Quote(s))
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", "", errors.New("must name a host, got " + strconv.Quote(s))
	}
	if u.User != nil || u.Fragment != "" {
		return "", "", errors.New("must not carry user info or a fragment, got " + strconv.Quote(s))
	}
	path = u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	return u.Host, path, nil
}

// headerName reads an HTTP header name and returns it lower-cased.
func (p *configParser) headerName(path string, r gjson.Result) string {
	name := p.str(path, r, "", true)
	if p.failed() {
		return ""
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			p.fail(path, "invalid header name "+strconv.Quote(name))
			return ""
		}
	}
	return strings.ToLower(name)
}

// isTokenChar reports whether c may appear in an RFC 9110 token (header
// names, methods). Pseudo-headers (":path") are therefore rejected.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// printable reports whether s can be put in a quoted-string as is.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (p *configParser) match(path string, r gjson.Result) Match {
	if !r.Exists() {
		p.fail(path, "is required")
		return Match{}
	}
	if !p.object(path, r, "prefix", "path", "path_separated_prefix", "methods") {
		return Match{}
	}
	n, field := 0, ""
	for _, f := range []string{"prefix", "path", "path_separated_prefix"} {
		if member(r, f).Exists() {
			n, field = n+1, f
		}
	}
	if n != 1 {
		p.fail(path, "exactly one of prefix, path, path_separated_prefix is required")
		return Match{}
	}
	value := p.str(join(path, field), member(r, field), "", true)
	if p.failed() {
		return Match{}
	}
	var m Match
	switch field {
	case "prefix":
		m.Prefix = value
	case "path":
		m.Path = value
	default:
		m.SeparatedPrefix = value
	}
	if problem := matchValueProblem(field, value); problem != "" {
		p.fail(join(path, field), problem)
		return m
	}
	methods, _ := p.strings(join(path, "methods"), member(r, "methods"))
	get, head := false, false
	for i, meth := range methods {
		for j := 0; j < len(meth); j++ {
			if !isTokenChar(meth[j]) {
				p.fail(index(join(path, "methods"), i), "invalid method "+strconv.Quote(meth))
				return m
			}
		}
		upper := strings.ToUpper(meth)
		if m.Path == "*" && upper != "OPTIONS" {
			p.fail(index(join(path, "methods"), i), `the asterisk-form path "*" is only used with OPTIONS`)
			return m
		}
		get, head = get || upper == "GET", head || upper == "HEAD"
		m.Methods = append(m.Methods, upper)
	}
	if get && !head {
		// Servers answer HEAD with the GET handler (RFC 9110 §9.3.2).
		m.Methods = append(m.Methods, "HEAD")
	}
	return m
}

// matchValueProblem says why a match value could never be compared with a
// request path as written, or "" when it can. Rules are compared with the
// readings of a path (path.go), which never hold a query, a fragment, an
// empty segment or a "." or ".." segment; ";", "\" and escapes are read
// differently by different servers, so a rule naming them could only match
// some readings. "*" (OPTIONS *) is the one value that is not a path.
func matchValueProblem(field, v string) string {
	if field == "path" && v == "*" {
		return ""
	}
	if v[0] != '/' {
		return `must start with "/"`
	}
	if field == "path_separated_prefix" && v[len(v)-1] == '/' {
		return `must not end with "/" (as in Envoy; "/api" already matches "/api/" and "/api/..."; use prefix "/" to match everything)`
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '?' || c == '#':
			return "must not contain " + strconv.Quote(string(c)) + ": the query and fragment are never part of the matched path"
		case c == ';' || c == '\\' || c == '%':
			return "must not contain " + strconv.Quote(string(c)) + ": servers read it differently, so the rule could not be judged one way (write the decoded path)"
		case c <= ' ' || c == 0x7f:
			return "must not contain spaces or control characters"
		}
	}
	for rest := v[1:]; ; {
		seg, tail, more := strings.Cut(rest, "/")
		switch {
		case seg == "" && more:
			return `must not contain an empty segment ("//")`
		case seg == "." || seg == "..":
			return `must not contain "." or ".." segments`
		}
		if !more {
			return ""
		}
		rest = tail
	}
}

// requirement parses one node of the requirement tree.
func (p *configParser) requirement(path string, r gjson.Result, cfg *Config, depth int) *Requirement {
	if depth > maxRequirementNest {
		p.fail(path, "requirements nest too deeply (at most "+strconv.Itoa(maxRequirementNest)+" levels)")
		return nil
	}
	if !p.object(path, r, "provider", "scopes", "claims", "any", "all", "allow", "allow_missing") {
		return nil
	}
	req := &Requirement{
		Provider:     p.str(join(path, "provider"), member(r, "provider"), "", true),
		Allow:        p.boolean(join(path, "allow"), member(r, "allow"), false),
		AllowMissing: p.boolean(join(path, "allow_missing"), member(r, "allow_missing"), false),
	}
	if req.Provider != "" && !p.failed() {
		known := false
		for _, prov := range cfg.Providers {
			known = known || prov.Name == req.Provider
		}
		if !known {
			p.fail(join(path, "provider"), "unknown provider "+strconv.Quote(req.Provider))
		}
	}
	req.Scopes, _ = p.strings(join(path, "scopes"), member(r, "scopes"))
	p.array(join(path, "claims"), member(r, "claims"), func(path string, _ int, c gjson.Result) {
		if !p.object(path, c, "path", "values") {
			return
		}
		cpath, values := member(c, "path"), member(c, "values")
		if !cpath.Exists() {
			p.fail(join(path, "path"), "is required")
			return
		}
		if !values.Exists() {
			p.fail(join(path, "values"), "is required")
			return
		}
		cr := ClaimRequirement{Path: p.claimPath(join(path, "path"), cpath)}
		cr.Values, _ = p.strings(join(path, "values"), values)
		if len(cr.Values) == 0 && !p.failed() {
			p.fail(join(path, "values"), "must list at least one value")
		}
		req.Claims = append(req.Claims, cr)
	})
	for _, field := range []string{"any", "all"} {
		list := member(r, field)
		if list.Exists() && list.IsArray() && len(list.Array()) == 0 {
			p.fail(join(path, field), "must not be empty")
		}
		p.array(join(path, field), list, func(path string, _ int, v gjson.Result) {
			child := p.requirement(path, v, cfg, depth+1)
			if field == "any" {
				req.Any = append(req.Any, child)
			} else {
				req.All = append(req.All, child)
			}
		})
	}
	if p.failed() {
		return nil
	}
	if req.Allow && (req.Provider != "" || len(req.Scopes) > 0 || len(req.Claims) > 0 || len(req.Any) > 0 || len(req.All) > 0 || req.AllowMissing) {
		p.fail(join(path, "allow"), "cannot be combined with other fields")
		return nil
	}
	p.derive(path, req, cfg)
	return req
}

// claimPath reads a dotted claim path (`\.` escapes a literal dot).
func (p *configParser) claimPath(path string, r gjson.Result) string {
	s := p.str(path, r, "", true)
	if p.failed() {
		return ""
	}
	if err := jwt.CheckClaimPath(s); err != nil {
		p.fail(path, err.Error())
	}
	return s
}
