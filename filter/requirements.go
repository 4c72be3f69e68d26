package filter

import (
	"slices"
	"strings"

	"github.com/scopegate/scopegate/jwt"
)

// providerMask is a set of providers, one bit per Provider.Index.
type providerMask uint64

func (m providerMask) has(i int) bool { return m&(1<<uint(i)) != 0 }

func allProviders(n int) providerMask {
	if n == 0 {
		return 0
	}
	return providerMask(^uint64(0) >> uint(64-n))
}

// derive fills the node's precomputed fields from its (already derived)
// children: which providers can satisfy it, whether it passes without a token.
func (p *configParser) derive(path string, req *Requirement, cfg *Config) {
	all := allProviders(len(cfg.Providers))
	mask := all
	if req.Provider != "" {
		for _, prov := range cfg.Providers {
			if prov.Name == req.Provider {
				mask = 1 << uint(prov.Index)
			}
		}
	}
	ownConstraints := req.Provider != "" || len(req.Scopes) > 0 || len(req.Claims) > 0
	anyAlways, anyMissed := len(req.Any) == 0, len(req.Any) == 0
	if len(req.Any) > 0 {
		var union providerMask
		for _, c := range req.Any {
			union |= c.providers
			anyAlways = anyAlways || c.alwaysAllows
			anyMissed = anyMissed || c.allowsMissed
		}
		mask &= union
	}
	allAlways, allMissed := true, true
	for _, c := range req.All {
		mask &= c.providers
		allAlways = allAlways && c.alwaysAllows
		allMissed = allMissed && c.allowsMissed
	}
	composite := len(req.Any) > 0 || len(req.All) > 0
	req.providers = mask
	req.alwaysAllows = req.Allow ||
		(composite && !ownConstraints && !req.AllowMissing && anyAlways && allAlways)
	req.allowsMissed = req.alwaysAllows || req.AllowMissing ||
		(composite && !ownConstraints && anyMissed && allMissed)
	if req.alwaysAllows {
		// A node that lets everything through accepts a token from anyone.
		req.providers = all
		return
	}
	if mask == 0 && len(cfg.Providers) > 0 {
		p.fail(path, "no provider can satisfy this requirement (conflicting provider restrictions)")
	}
}

// verifiedToken is what authorization needs to know about a token after its
// signature and claims were checked; the cache stores exactly this.
type verifiedToken struct {
	provider *Provider
	payload  []byte   // decoded JSON payload
	scopes   []string // from the provider's scope_claims
	sub, iss string
	cnf      jwt.Confirmation // what the token is bound to (cnf.jkt, cnf.x5t#S256)
	ath      string           // DPoP-bound tokens: the ath proofs must carry, set on first use (dpop.go)
	// claimValues are the provider's claim_to_headers values, read once
	// at verification, index for index.
	claimValues []claimValue
	// decisions remembers what the token gets from the last few
	// requirements it met (decide): its claims never change, so a cached
	// token's hit neither evaluates a requirement again nor explains the
	// same 403 twice.
	decisions    [tokenDecisions]decision
	nextDecision uint8
}

// tokenDecisions is how many requirements a cached token remembers.
const tokenDecisions = 4

// decision is a requirement's verdict on a token: nil passes, else the 403.
type decision struct {
	req    *Requirement
	denial *denial
}

// decide returns nil when the token satisfies req, else the 403 to send
// (rendered once, then reused).
func (t *verifiedToken) decide(req *Requirement) *denial {
	for i := range t.decisions {
		if t.decisions[i].req == req {
			return t.decisions[i].denial
		}
	}
	d := t.evaluate(req)
	t.decisions[t.nextDecision] = decision{req: req, denial: d}
	t.nextDecision = (t.nextDecision + 1) % tokenDecisions
	return d
}

// evaluate applies req to the token: nil when it is satisfied, else the
// 403 that says why (DESIGN §4; the log names the missing scopes or claim).
func (t *verifiedToken) evaluate(req *Requirement) *denial {
	var u unmet
	if req.satisfied(t, &u) {
		return nil
	}
	d := &denial{kind: denyScope, sub: t.sub, iss: t.iss, scope: strings.Join(u.needScopes, " ")}
	switch {
	case len(u.missingScopes) > 0:
		d.description = "the token lacks a required scope"
		d.reason = "required scopes were not found [" + strings.Join(u.missingScopes, " ") + "]"
	case u.claim != "":
		d.description = "the token lacks a required claim value"
		d.reason = "required claim was not satisfied [" + u.claim + "]"
	default:
		d.description = "the token was issued by a provider this route does not accept"
		d.reason = "token issued by provider " + t.provider.Name + ", which this route does not accept"
	}
	return d
}

// claimValue is one claim_to_headers value; ok is false when the claim is absent.
type claimValue struct {
	value string
	ok    bool
}

// unmet explains why a valid token does not satisfy a requirement.
type unmet struct {
	missingScopes []string // scopes the token lacks, in requirement order, no duplicates
	needScopes    []string // every scope the failing nodes require (RFC 6750 scope attribute)
	claim         string   // first claim path not satisfied ("" if none)
	provider      bool     // a node wanted another provider
}

func (u *unmet) addScope(list *[]string, s string) {
	for _, have := range *list {
		if have == s {
			return
		}
	}
	*list = append(*list, s)
}

// satisfied evaluates the tree for a verified token. When it returns false,
// u (if non-nil) collects why.
func (req *Requirement) satisfied(t *verifiedToken, u *unmet) bool {
	if req.Allow {
		return true
	}
	ok := true
	if req.Provider != "" && req.Provider != t.provider.Name {
		ok = false
		if u != nil {
			u.provider = true
		}
	}
	for _, s := range req.Scopes {
		if !hasString(t.scopes, s) {
			ok = false
			if u == nil {
				return false
			}
			u.addScope(&u.missingScopes, s)
		}
	}
	if !ok && u != nil {
		for _, s := range req.Scopes {
			u.addScope(&u.needScopes, s)
		}
	}
	for i := range req.Claims {
		c := &req.Claims[i]
		if !t.holds(c) {
			if u == nil {
				return false
			}
			if u.claim == "" {
				u.claim = c.Path
			}
			ok = false
		}
	}
	if len(req.Any) > 0 {
		anyOK := false
		for _, c := range req.Any {
			if c.satisfied(t, nil) {
				anyOK = true
				break
			}
		}
		if !anyOK {
			ok = false
			if u != nil {
				for _, c := range req.Any {
					c.satisfied(t, u)
				}
			}
		}
	}
	for _, c := range req.All {
		if !c.satisfied(t, u) {
			ok = false
			if u == nil {
				return false
			}
		}
	}
	return ok
}

// holds reports whether the token satisfies one claims entry. Values
// compare with whole strings (arrays element by element): "mallory admin"
// is not "admin". Only a claim the provider reads scopes from is a
// space-delimited list (RFC 8693 §4.2), so there each item counts.
func (t *verifiedToken) holds(c *ClaimRequirement) bool {
	if hasString(t.provider.ScopeClaims, c.Path) {
		for _, item := range jwt.Scopes(t.payload, []string{c.Path}) {
			if hasString(c.Values, item) {
				return true
			}
		}
		return false
	}
	return jwt.ClaimContains(t.payload, c.Path, c.Values)
}

func hasString(list []string, s string) bool {
	for _, have := range list {
		if have == s {
			return true
		}
	}
	return false
}

// selectRequirement returns the requirement for a request: the first rule
// whose match fits path (query excluded) and method, else the default.
func (c *Config) selectRequirement(path, method string) *Requirement {
	for _, r := range c.Rules {
		if r.Match.fits(path, method) {
			return r.Requirement
		}
	}
	return c.Default
}

// fits reports whether the match takes path (one reading, query excluded)
// and method (upper-case).
func (m *Match) fits(path, method string) bool {
	switch {
	case m.Path != "":
		if !sameString(path, m.Path) {
			return false
		}
	case m.SeparatedPrefix != "":
		v := m.SeparatedPrefix
		if !hasPrefix(path, v) || (len(path) > len(v) && path[len(v)] != '/') {
			return false
		}
	default:
		if !hasPrefix(path, m.Prefix) {
			return false
		}
	}
	return m.methodFits(method)
}

// methodFits reports whether m takes method (every method when it names
// none).
func (m *Match) methodFits(method string) bool {
	return len(m.Methods) == 0 || slices.Contains(m.Methods, method)
}

// deriveSources computes the unions of every provider's token sources and
// the header names that are always stripped from incoming requests.
func (c *Config) deriveSources() {
	for _, p := range c.Providers {
		for _, h := range p.FromHeaders {
			dup := false
			for _, have := range c.headerSources {
				dup = dup || have == h
			}
			if !dup {
				c.headerSources = append(c.headerSources, h)
			}
		}
		for _, name := range p.FromParams {
			if !hasString(c.paramSources, name) {
				c.paramSources = append(c.paramSources, name)
			}
		}
		for _, name := range p.FromCookies {
			if !hasString(c.cookieSources, name) {
				c.cookieSources = append(c.cookieSources, name)
			}
		}
		if p.PayloadHeader != "" && !c.vouchedHeader(p.PayloadHeader) {
			c.stripHeaders = append(c.stripHeaders, p.PayloadHeader)
		}
		for _, ch := range p.ClaimToHeaders {
			if !c.vouchedHeader(ch.Header) {
				c.stripHeaders = append(c.stripHeaders, ch.Header)
			}
		}
	}
	c.addDPoPSource()
	c.deriveReadNames()
	for _, r := range c.Rules {
		m := &r.Match
		if (m.Path != "" && m.Path != "/" && m.Path != "*") || (len(m.Prefix) > 1 && m.Prefix[len(m.Prefix)-1] == '/') {
			c.slashSensitive = true
		}
		if hasUpper(m.Path + m.Prefix + m.SeparatedPrefix) {
			c.upperInRules = true
		}
	}
}

// vouchedHeader reports whether name folds to a claim_to_headers or
// forward_payload_header name.
func (c *Config) vouchedHeader(name string) bool {
	for _, s := range c.stripHeaders {
		if sameFoldedName(name, s) {
			return true
		}
	}
	return false
}

// sameFoldedName compares header names the way servers that fold them do:
// ASCII case ignored, "_" and "-" the same.
func sameFoldedName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if foldHeaderByte(a[i]) != foldHeaderByte(b[i]) {
			return false
		}
	}
	return true
}

func foldHeaderByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}
