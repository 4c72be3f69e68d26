package filter

// DPoP (RFC 9449): a token whose cnf.jkt names a key is accepted only with
// a fresh proof by that key, sent as `Authorization: DPoP <token>` plus one
// `DPoP: <proof>` header. The proof's JOSE checks (typ, alg, jwk,
// signature, claims, thumbprint, ath) are jwt.ParseProof's; this file checks
// it against the request — htm, htu, iat, nonce, jti replay — and renders the
// DPoP answers of DESIGN §4.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

// DPoP configuration defaults and bounds (DESIGN §3).
const (
	defaultDPoPIatWindow  = 60 * time.Second
	maxDPoPIatWindowS     = 3600
	defaultDPoPNonceStep  = 60 * time.Second
	maxDPoPNonceStepS     = 86400
	minDPoPNonceSecretLen = 32
)

// DPoPPolicy is a provider's dpop block with its defaults applied.
type DPoPPolicy struct {
	// Required: every token must be DPoP-bound and come with a proof
	// (mode "required"). Otherwise bearer tokens pass and bound tokens
	// still need their proof (mode "allowed").
	Required bool
	// Algorithms are the proof algorithms accepted.
	Algorithms jwt.AlgSet
	// AlgNames lists Algorithms in configuration order, space-separated:
	// the algs parameter of DPoP challenges.
	AlgNames string
	// IatWindow is how old a proof may be (clock_skew_s is added both ways).
	IatWindow time.Duration
	// Nonce, when set, makes every proof carry a server nonce.
	Nonce *DPoPNonce
	// HTUOrigin is the normalised external origin proofs must name
	// ("https://api.example.com"); "" takes :scheme and :authority.
	HTUOrigin string
}

// DPoPNonce is the stateless nonce policy: a nonce is an HMAC of the time
// step under Secret, valid during its step and the next, so every proxy of
// a fleet configured with the same secret accepts every other's nonces.
type DPoPNonce struct {
	Secret []byte
	Step   time.Duration
}

// dpopDefaults is the policy of a provider without a dpop block; its
// algorithms are the default proof algorithms within only (with host_crypto
// "require", the ones the proxy's verify_signature checks).
func dpopDefaults(only jwt.AlgSet) DPoPPolicy {
	pol := DPoPPolicy{IatWindow: defaultDPoPIatWindow}
	var names []string
	for _, a := range jwt.DefaultProofAlgs {
		if only.Has(a) {
			pol.Algorithms = pol.Algorithms.With(a)
			names = append(names, a.String())
		}
	}
	pol.AlgNames = strings.Join(names, " ")
	return pol
}

// dpop parses a provider's dpop block.
func (p *configParser) dpop(path string, r gjson.Result) DPoPPolicy {
	only := ^jwt.AlgSet(0)
	if p.hostCrypto == HostCryptoRequire {
		only = jwt.NativeAlgs
	}
	pol := dpopDefaults(only)
	if !r.Exists() || !p.object(path, r, "mode", "algorithms", "iat_window_s", "nonce", "htu_origin") {
		return pol
	}
	pol.Required = p.mode(join(path, "mode"), member(r, "mode"))
	if list, ok := p.strings(join(path, "algorithms"), member(r, "algorithms")); ok && !p.failed() {
		if len(list) == 0 {
			p.fail(join(path, "algorithms"), "must list at least one algorithm")
			return pol
		}
		pol.Algorithms = 0
		var names []string
		for j, name := range list {
			a, known := jwt.ParseAlg(name)
			switch {
			case !known:
				p.fail(index(join(path, "algorithms"), j), "unknown algorithm "+strconv.Quote(name))
				return pol
			case a == jwt.HS256 || a == jwt.HS384 || a == jwt.HS512:
				p.fail(index(join(path, "algorithms"), j), name+" is symmetric; DPoP proofs are signed with an asymmetric key")
				return pol
			case !only.Has(a):
				p.fail(index(join(path, "algorithms"), j), strconv.Quote(name)+` cannot be checked by the proxy's verify_signature, and host_crypto "require" allows no other check (it checks `+jwt.NativeAlgs.String()+")")
				return pol
			}
			if !pol.Algorithms.Has(a) {
				names = append(names, name)
			}
			pol.Algorithms = pol.Algorithms.With(a)
		}
		pol.AlgNames = strings.Join(names, " ")
	}
	pol.IatWindow = time.Duration(p.integer(join(path, "iat_window_s"), member(r, "iat_window_s"),
		int64(defaultDPoPIatWindow/time.Second), 0, maxDPoPIatWindowS)) * time.Second
	if n := member(r, "nonce"); n.Exists() && p.object(join(path, "nonce"), n, "secret", "step_s") {
		pol.Nonce = p.dpopNonce(join(path, "nonce"), n)
	}
	if o := member(r, "htu_origin"); o.Exists() {
		origin := p.str(join(path, "htu_origin"), o, "", false)
		if origin != "" && !p.failed() {
			norm, ok := normalizeHTU(origin)
			if !ok || !strings.HasSuffix(norm, "://"+hostOf(norm)+"/") || strings.ContainsAny(origin, "?#") ||
				(!strings.HasPrefix(norm, "http://") && !strings.HasPrefix(norm, "https://")) {
				p.fail(join(path, "htu_origin"), "must be an http or https origin such as \"https://api.example.com\", got "+strconv.Quote(origin))
				return pol
			}
			pol.HTUOrigin = strings.TrimSuffix(norm, "/")
		}
	}
	return pol
}

// mode reads a sender-constraint mode: "allowed" (false) or "required" (true).
func (p *configParser) mode(path string, r gjson.Result) bool {
	m := p.str(path, r, "allowed", true)
	if p.failed() {
		return false
	}
	switch m {
	case "allowed":
		return false
	case "required":
		return true
	}
	p.fail(path, `must be "allowed" or "required", got `+strconv.Quote(m))
	return false
}

func (p *configParser) dpopNonce(path string, r gjson.Result) *DPoPNonce {
	s := member(r, "secret")
	if !s.Exists() {
		p.fail(join(path, "secret"), "is required")
		return nil
	}
	secret := p.str(join(path, "secret"), s, "", true)
	if p.failed() {
		return nil
	}
	// base64url, with or without padding.
	key, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(secret, "="))
	if err != nil || len(key) < minDPoPNonceSecretLen {
		p.fail(join(path, "secret"), "must be base64url of at least "+strconv.Itoa(minDPoPNonceSecretLen)+" random bytes (e.g. `openssl rand -base64 32 | tr '+/' '-_'`)")
		return nil
	}
	step := time.Duration(p.integer(join(path, "step_s"), member(r, "step_s"),
		int64(defaultDPoPNonceStep/time.Second), 1, maxDPoPNonceStepS)) * time.Second
	return &DPoPNonce{Secret: key, Step: step}
}

// isDPoPScheme reports whether a token source is the DPoP authorization
// scheme (RFC 9449 §7.1): the Authorization header with the word DPoP.
func (s HeaderSource) isDPoPScheme() bool {
	return s.Name == "authorization" && strings.EqualFold(strings.TrimRight(s.ValuePrefix, " "), "DPoP")
}

// addDPoPSource makes every configuration read `Authorization: DPoP
// <token>` besides its from_headers (DESIGN §3).
func (c *Config) addDPoPSource() {
	if len(c.Providers) == 0 {
		return
	}
	for _, s := range c.headerSources {
		if s.isDPoPScheme() {
			return
		}
	}
	c.headerSources = append(c.headerSources, HeaderSource{Name: "authorization", ValuePrefix: "DPoP "})
}

// checkDPoP applies the token's provider's DPoP policy (RFC 9449 §4.3, §7):
// nil lets the request on, a denial answers it. Every check has its own
// log reason.
func (h *httpContext) checkDPoP(vt *verifiedToken, tok foundToken, headers headerList, method, path string) *denial {
	pol := &vt.provider.DPoP
	if vt.cnf.JKT == "" {
		switch {
		case pol.Required:
			return dpopDenial(vt, "the token is not DPoP-bound (dpop mode is required)")
		case tok.dpop:
			return dpopDenial(vt, "a token sent with the DPoP scheme is not DPoP-bound")
		}
		return nil
	}
	if !tok.dpop {
		return dpopDenial(vt, "a DPoP-bound token was sent as a bearer token")
	}
	_, raw, n := headers.find("dpop")
	switch {
	case n == 0:
		return dpopDenial(vt, "the request has no DPoP proof")
	case n > 1:
		return dpopDenial(vt, "the request has more than one DPoP proof")
	}
	// The proof's signature takes the access tokens' path: the proxy's
	// verify_signature where host_crypto allows it, else Go.
	proof, checks, err := jwt.ParseProofWith(raw, pol.Algorithms, 0, h.plugin.verifier)
	h.plugin.countChecks(checks)
	if jwt.ReasonOf(err) == jwt.ReasonUnverifiable {
		return &denial{kind: denyUnavailable, description: "the DPoP proof signature could not be checked, try again later",
			reason: `the proxy's verify_signature could not check the DPoP proof signature (host_crypto "require")`, sub: vt.sub, iss: vt.iss}
	}
	if err != nil {
		return dpopDenial(vt, err.Error())
	}
	if proof.HTM != method {
		return dpopDenial(vt, "DPoP proof htm does not match the request method")
	}
	if !htuMatches(proof.HTU, pol.HTUOrigin, headers, path) {
		return dpopDenial(vt, "DPoP proof htu does not match the request URI")
	}
	now := h.plugin.now()
	skew := vt.provider.ClockSkew
	iat := unixTime(proof.IAT)
	if iat.Before(now.Add(-pol.IatWindow-skew)) || iat.After(now.Add(skew)) {
		return dpopDenial(vt, "DPoP proof iat is outside the accepted window")
	}
	if vt.ath == "" {
		// Once per cached token: hashing it costs microseconds in wasm.
		vt.ath = jwt.AccessTokenHash(tok.raw)
	}
	if !proof.HasATH || proof.ATH != vt.ath {
		return dpopDenial(vt, "DPoP proof ath does not match the access token")
	}
	if proof.Thumbprint != vt.cnf.JKT {
		return dpopDenial(vt, "DPoP proof key does not match the token's cnf.jkt")
	}
	if pol.Nonce != nil {
		current, previous := pol.Nonce.values(now)
		switch {
		case !proof.HasNonce:
			return nonceDenial(vt, current, "DPoP proof has no nonce")
		case proof.Nonce == previous:
			h.nextNonce = current // still good: hand out the next one (RFC 9449 §8.2)
		case proof.Nonce != current:
			return nonceDenial(vt, current, "DPoP proof nonce is stale or unknown")
		}
	}
	// Last, so only proofs that passed everything else take room in the
	// replay store. A jti is kept until its proof could no longer pass the
	// iat check.
	switch h.plugin.replay.remember(proof.Thumbprint, proof.JTI, iat.Add(pol.IatWindow+skew), now) {
	case replayFresh:
	case replaySeen:
		return dpopDenial(vt, "DPoP proof was already used (jti replay)")
	default:
		return &denial{kind: denyUnavailable, description: "DPoP replay protection is at capacity, try again later",
			reason: "the DPoP replay store is full or unwritable", sub: vt.sub, iss: vt.iss}
	}
	return nil
}

// dpopDenial is a 401 invalid_dpop_proof; reason names the check that failed.
func dpopDenial(vt *verifiedToken, reason string) *denial {
	return &denial{kind: denyDPoP, description: reason, reason: "DPoP check failed: " + reason,
		dpopAlgs: vt.provider.DPoP.AlgNames, sub: vt.sub, iss: vt.iss}
}

// nonceDenial is a 401 use_dpop_nonce carrying a fresh nonce.
func nonceDenial(vt *verifiedToken, nonce, reason string) *denial {
	return &denial{kind: denyDPoPNonce, description: "a DPoP nonce is required; use the one in the DPoP-Nonce header",
		reason: "DPoP nonce required: " + reason, nonce: nonce, sub: vt.sub, iss: vt.iss}
}

// dpopChallenge renders the RFC 9449 §7.1 challenge of a DPoP answer, or
// for a missing token the second challenge next to Bearer; "" otherwise.
func (d *denial) dpopChallenge(realm string) string {
	c := newChallenge("DPoP", realm)
	switch {
	case d.kind == denyDPoP:
		c.param("error", "invalid_dpop_proof")
		c.param("algs", d.dpopAlgs)
	case d.kind == denyDPoPNonce:
		c.param("error", "use_dpop_nonce")
	case d.kind == denyMissing && d.dpopAlgs != "":
		c.param("algs", d.dpopAlgs)
	default:
		return ""
	}
	return c.String()
}

// dpopAlgs lists, for a missing-token challenge, the proof algorithms of
// the providers that could satisfy req, in configuration order.
func (c *Config) dpopAlgs(req *Requirement) string {
	var out string
	for _, p := range c.Providers {
		if !req.providers.has(p.Index) {
			continue
		}
		if out == "" {
			out = p.DPoP.AlgNames
			continue
		}
		for _, name := range strings.Fields(p.DPoP.AlgNames) {
			if !hasString(strings.Fields(out), name) {
				out += " " + name
			}
		}
	}
	return out
}

// values returns the nonce of the current time step and of the previous one.
func (n *DPoPNonce) values(now time.Time) (current, previous string) {
	step := now.Unix() / int64(n.Step/time.Second)
	return n.value(step), n.value(step - 1)
}

// value is base64url(HMAC-SHA256(secret, "scopegate dpop nonce" || step))
// cut to 24 bytes: unguessable without the secret, the same on every proxy.
func (n *DPoPNonce) value(step int64) string {
	mac := hmac.New(sha256.New, n.Secret)
	var msg [28]byte
	copy(msg[:], "scopegate dpop nonce")
	binary.BigEndian.PutUint64(msg[20:], uint64(step))
	mac.Write(msg[:])
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(mac.Sum(sum[:0])[:24])
}

// OnHttpResponseHeaders hands a client whose nonce is about to expire the
// next one (RFC 9449 §8.2), on the answer of the request it authorized.
func (h *httpContext) OnHttpResponseHeaders(int, bool) types.Action {
	if h.nextNonce != "" {
		_ = abi.ReplaceHttpResponseHeader("dpop-nonce", h.nextNonce)
	}
	return types.ActionContinue
}

// htuMatches compares a proof's htu with the request's URI after RFC 9449
// §4.3 normalisation of both (normalizeHTU): the origin is htuOrigin when
// configured, else :scheme and :authority; the path is :path without its
// query. An authority that is not a plain host[:port], or a path that is
// not origin-form, matches nothing.
func htuMatches(htu, origin string, headers headerList, path string) bool {
	got, ok := normalizeHTU(htu)
	if !ok {
		return false
	}
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if !strings.HasPrefix(path, "/") || strings.IndexByte(path, '#') >= 0 {
		return false
	}
	if origin == "" {
		scheme, authority := headerValue(headers, ":scheme"), headerValue(headers, ":authority")
		if scheme == "" {
			scheme = "http"
		}
		if !plainAuthority(authority) || !isSchemeName(scheme) {
			return false
		}
		origin = scheme + "://" + authority
	}
	want, ok := normalizeHTU(origin + path)
	return ok && got == want
}

// plainAuthority reports whether s is host[:port] with nothing that could
// start a path, query, fragment or userinfo.
func plainAuthority(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~%!$&'()*+,;=:[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isSchemeName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !(c >= 'a' && c <= 'z') && !(i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			return false
		}
	}
	return s != ""
}

// normalizeHTU reduces an absolute http(s) URI to the form RFC 9449 §4.3
// compares: query and fragment dropped, scheme and host lower-cased, the
// scheme's default port (and an empty port) dropped, an empty path made
// "/", percent-encodings upper-cased and unreserved characters decoded, dot
// segments removed (RFC 3986 §6.2.2, §6.2.3). ok is false for anything
// that is not scheme://authority[/path] or carries userinfo.
func normalizeHTU(s string) (string, bool) {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	colon := strings.Index(s, "://")
	if colon <= 0 || !isSchemeName(s[:colon]) {
		return "", false
	}
	scheme := strings.ToLower(s[:colon])
	rest := s[colon+3:]
	authority, path := rest, "/"
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		authority, path = rest[:slash], rest[slash:]
	}
	if !plainAuthority(authority) || strings.IndexByte(authority, '@') >= 0 {
		return "", false
	}
	host, port := authority, ""
	if c := strings.LastIndexByte(authority, ':'); c >= 0 && c > strings.LastIndexByte(authority, ']') {
		host, port = authority[:c], authority[c+1:]
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", false
			}
		}
	}
	if host == "" || !validHost(host) {
		return "", false
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(strings.ToLower(host))
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	norm, ok := normalizePercent(path)
	if !ok {
		return "", false
	}
	b.WriteString(removeDotSegments(norm))
	return b.String(), true
}

// validHost accepts a reg-name or IPv4 address (no ':' or brackets) or an
// IP literal in brackets.
func validHost(host string) bool {
	if host[0] == '[' {
		return len(host) > 2 && host[len(host)-1] == ']' && !strings.ContainsAny(host[1:len(host)-1], "[]")
	}
	return !strings.ContainsAny(host, ":[]")
}

// hostOf returns the host[:port] of a normalised URI.
func hostOf(norm string) string {
	rest := norm[strings.Index(norm, "://")+3:]
	if slash := strings.IndexByte(rest, '/'); slash >= 0 {
		return rest[:slash]
	}
	return rest
}

// normalizePercent upper-cases the hex digits of every %XX and decodes
// those that encode an unreserved character; a stray % is not a URI.
func normalizePercent(p string) (string, bool) {
	if strings.IndexByte(p, '%') < 0 {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		var v [1]byte
		if i+2 >= len(p) {
			return "", false
		}
		if _, err := hex.Decode(v[:], []byte(p[i+1:i+3])); err != nil {
			return "", false
		}
		c := v[0]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			const upper = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(upper[c>>4])
			b.WriteByte(upper[c&15])
		}
		i += 2
	}
	return b.String(), true
}

// removeDotSegments is RFC 3986 §5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	if !strings.Contains(p, "/.") {
		return p
	}
	var out []string
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return "/" + strings.Join(out, "/")
}
