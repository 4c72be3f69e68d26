package filter

import (
	"strconv"
	"strings"

	"github.com/scopegate/scopegate/filter/abi"
)

// denialKind is one row of the DESIGN §4 answer table.
type denialKind uint8

const (
	denyMissing     denialKind = iota + 1 // 401, no token where one is required
	denyBadRequest                        // 400 invalid_request: more than one token, or an ambiguous path
	denyInvalid                           // 401, the token is not acceptable
	denyScope                             // 403, valid token, requirement not met
	denyUnavailable                       // 503, signing keys could not be obtained
	denyInternal                          // 500, a bug (recovered panic); fail closed
	denyDPoP                              // 401 DPoP invalid_dpop_proof (dpop.go)
	denyDPoPNonce                         // 401 DPoP use_dpop_nonce with a fresh DPoP-Nonce
)

// denial is a decided refusal: what the client sees and what the log says.
type denial struct {
	kind        denialKind
	description string // client-safe, short, never the token
	scope       string // space-separated scopes for insufficient_scope ("" omits it)
	reason      string // log wording, e.g. "required scopes were not found [a b]"
	sub, iss    string // for the log line only
	dpopAlgs    string // algs of a DPoP challenge; with denyMissing, adds the DPoP challenge
	nonce       string // denyDPoPNonce: the DPoP-Nonce header's value
	certificate bool   // a certificate-bound token refused (counted apart)

	answer *localAnswer // the answer as sent, rendered on first use (render)
}

// localAnswer is a denial's local response, rendered: its headers (as the
// ABI serializes them), its JSON body, and the end of its log line.
type localAnswer struct {
	headers []byte
	body    []byte
	logTail []byte // ": <reason>[ sub="..."][ iss="..."]"
}

// render returns the denial's answer, building it the first time. Denials
// that repeat are kept (a requirement's 401 for a missing token, a cached
// token's 403 for a requirement), so they are rendered once.
func (d *denial) render(realm string) *localAnswer {
	if d.answer != nil {
		return d.answer
	}
	headers := [][2]string{{"content-type", "application/json"}, {"cache-control", "no-store"}}
	if v := d.wwwAuthenticate(realm); v != "" {
		headers = append(headers, [2]string{"www-authenticate", v})
	}
	if d.kind == denyMissing && d.dpopAlgs != "" {
		// RFC 9449 §7.1: both schemes are offered, one challenge each.
		headers = append(headers, [2]string{"www-authenticate", d.dpopChallenge(realm)})
	}
	if d.nonce != "" {
		headers = append(headers, [2]string{"dpop-nonce", d.nonce})
	}
	tail := append([]byte(": "), d.reason...)
	if d.sub != "" {
		tail = append(tail, " sub="...)
		tail = appendQuoteLog(tail, logSafe(d.sub, 128))
	}
	if d.iss != "" {
		tail = append(tail, " iss="...)
		tail = appendQuoteLog(tail, logSafe(d.iss, 256))
	}
	d.answer = &localAnswer{headers: abi.EncodeHeaderMap(nil, headers), body: d.body(), logTail: tail}
	return d.answer
}

// missingToken is the 401 for a request to req that carries no token.
func (c *Config) missingToken(req *Requirement) *denial {
	return &denial{kind: denyMissing, description: "an access token is required",
		reason: "no token in the request", dpopAlgs: c.dpopAlgs(req)}
}

// deriveAnswers renders, once per configuration, the 401 each rule and the
// default answer a request without a token.
func (c *Config) deriveAnswers() {
	reqs := []*Requirement{c.Default}
	for _, r := range c.Rules {
		reqs = append(reqs, r.Requirement)
	}
	for _, req := range reqs {
		if req != nil && req.missing == nil {
			req.missing = c.missingToken(req)
			req.missing.render(c.Realm)
		}
	}
}

func (d *denial) status() uint32 {
	switch d.kind {
	case denyMissing, denyInvalid, denyDPoP, denyDPoPNonce:
		return 401
	case denyBadRequest:
		return 400
	case denyScope:
		return 403
	case denyUnavailable:
		return 503
	}
	return 500
}

// errorCode is the RFC 6750 error code (or, for the rows RFC 6750 has no
// code for, the JSON body's error).
func (d *denial) errorCode() string {
	switch d.kind {
	case denyMissing:
		return "unauthorized"
	case denyBadRequest:
		return "invalid_request"
	case denyInvalid:
		return "invalid_token"
	case denyScope:
		return "insufficient_scope"
	case denyUnavailable:
		return "temporarily_unavailable"
	case denyDPoP:
		return "invalid_dpop_proof"
	case denyDPoPNonce:
		return "use_dpop_nonce"
	}
	return "server_error"
}

// wwwAuthenticate renders the RFC 6750 §3 challenge (the RFC 9449 §7.1
// one for DPoP answers); "" for 503 and 500.
func (d *denial) wwwAuthenticate(realm string) string {
	if d.kind == denyDPoP || d.kind == denyDPoPNonce {
		return d.dpopChallenge(realm)
	}
	c := newChallenge("Bearer", realm)
	param := c.param
	switch d.kind {
	case denyMissing:
		// RFC 6750 §3.1: no error code when the request had no credentials.
	case denyBadRequest:
		// Exactly error="invalid_request" (DESIGN §4 table, confirmed by the
		// lead for the audit); the description is in the JSON body.
		param("error", d.errorCode())
	case denyInvalid:
		param("error", d.errorCode())
		param("error_description", d.description)
	case denyScope:
		param("error", d.errorCode())
		// Exactly error and scope (DESIGN §4); the description is in the body.
		if d.scope != "" {
			param("scope", d.scope)
		}
	default:
		return ""
	}
	return c.String()
}

// challenge builds one RFC 9110 §11.6.1 challenge: a scheme, then
// comma-separated name="value" parameters, realm first when there is one.
type challenge struct {
	b   strings.Builder
	sep string
}

func newChallenge(scheme, realm string) *challenge {
	c := &challenge{sep: " "}
	c.b.WriteString(scheme)
	if realm != "" {
		c.param("realm", realm)
	}
	return c
}

// param appends name="value", value escaped as a quoted-string.
func (c *challenge) param(name, value string) {
	c.b.WriteString(c.sep)
	c.b.WriteString(name)
	c.b.WriteString(`="`)
	writeQuoted(&c.b, value)
	c.b.WriteByte('"')
	c.sep = ", "
}

func (c *challenge) String() string { return c.b.String() }

// body renders {"error":"...","error_description":"..."}.
func (d *denial) body() []byte {
	var b strings.Builder
	b.WriteString(`{"error":"`)
	writeJSONString(&b, d.errorCode())
	b.WriteString(`","error_description":"`)
	writeJSONString(&b, d.description)
	b.WriteString(`"}`)
	return []byte(b.String())
}

// writeQuoted writes s as the inside of an RFC 9110 quoted-string, dropping
// characters a header value cannot carry.
func writeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
}

func writeJSONString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
}

// send answers the stream with the denial, counts it and logs it.
func (pc *pluginContext) send(d *denial, method, path string) { pc.sendFor(d, "", method, path) }

// sendFor is send with the request's unverified iss, which ends the log
// line (` iss="..."`) after the denial's own tail: a denial shared by
// requests with different issuers (one without sub and iss, as
// invalidAnswers keeps them) then logs exactly what a denial made for this
// request with iss set would, and no issuer is kept from one request to
// the next.
func (pc *pluginContext) sendFor(d *denial, iss, method, path string) {
	realm := ""
	if pc.cfg != nil {
		realm = pc.cfg.Realm
	}
	a := d.render(realm)
	switch {
	case pc.m == nil:
	case d.kind == denyMissing:
		pc.m.deniedMissing.Increment(1)
	case d.kind == denyDPoP, d.kind == denyDPoPNonce:
		pc.m.deniedInvalid.Increment(1)
		pc.m.deniedInvalidDPoP.Increment(1)
	case d.certificate:
		pc.m.deniedInvalid.Increment(1)
		pc.m.deniedInvalidCertificate.Increment(1)
	case d.kind == denyBadRequest, d.kind == denyInvalid:
		pc.m.deniedInvalid.Increment(1)
	case d.kind == denyScope:
		pc.m.deniedScope.Increment(1)
	case d.kind == denyUnavailable:
		pc.m.deniedUnavailable.Increment(1)
	}
	if err := abi.SendHttpResponseMap(d.status(), a.headers, a.body, -1); err != nil {
		abi.LogError("sending the " + strconv.Itoa(int(d.status())) + " answer failed: " + err.Error())
	}
	pc.logDenial(d, a, iss, method, path)
}

// logDenial writes the info line for a denial: status, method, path (query
// excluded, it may carry the token), reason, and sub/iss when known (iss
// given here comes after the answer's tail, see sendFor). The line is
// built in a buffer the plugin reuses.
func (pc *pluginContext) logDenial(d *denial, a *localAnswer, iss, method, path string) {
	level := abi.LogLevelInfo
	if d.kind == denyInternal {
		level = abi.LogLevelError
	} else if !abi.LogEnabled(level) {
		return // the host drops info lines: do not build one
	}
	pc.logBuf = appendDenialLine(pc.logBuf[:0], d, a, iss, method, path)
	abi.LogBytes(level, pc.logBuf)
}

// appendDenialLine appends a denial's log line to b.
func appendDenialLine(b []byte, d *denial, a *localAnswer, iss, method, path string) []byte {
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	b = append(b, "denied "...)
	b = strconv.AppendUint(b, uint64(d.status()), 10)
	b = append(b, ' ')
	b = append(b, logSafe(method, 16)...)
	b = append(b, ' ')
	b = append(b, logSafe(path, 256)...)
	b = append(b, a.logTail...)
	return appendIssuer(b, iss)
}

// appendIssuer appends ` iss="..."` for a known issuer, bounded and
// quoted so a client-chosen one cannot forge log lines.
func appendIssuer(b []byte, iss string) []byte {
	if iss == "" {
		return b
	}
	b = append(b, " iss="...)
	return appendQuoteLog(b, logSafe(iss, 256))
}

// invalidAnswers keeps the 401 invalid_token answers by description,
// rendered once: a flood of forged tokens (a valid kid, a wrong signature)
// then costs no rendering, only the log line's method, path and iss. The
// answer depends on nothing else: the realm is the configuration's, and
// the unverified iss is not part of it (sendFor writes it into the log
// line of each request), so no request's text can reach another's answer.
// The descriptions are the jwt package's fixed messages (jwt.Error: written
// by that package, never token content); the map still holds at most
// maxInvalidAnswers of them, and a description past that is rendered for
// its request alone.
type invalidAnswers struct {
	realm  string
	byDesc map[string]*denial
}

// maxInvalidAnswers bounds invalidAnswers (the jwt package has about 45
// messages a token can get here).
const maxInvalidAnswers = 64

// denial returns the 401 for a token rejected with description desc,
// rendered for realm.
func (ia *invalidAnswers) denial(desc, realm string) *denial {
	if ia.byDesc == nil || ia.realm != realm {
		ia.realm, ia.byDesc = realm, make(map[string]*denial)
	}
	if d, ok := ia.byDesc[desc]; ok {
		return d
	}
	d := &denial{kind: denyInvalid, description: desc, reason: "invalid token: " + desc}
	d.render(realm)
	if len(ia.byDesc) < maxInvalidAnswers {
		ia.byDesc[desc] = d
	}
	return d
}

// appendQuoteLog appends strconv.Quote(s) with a fast path: printable
// ASCII without quotes or backslashes (every sub and iss in practice) is
// quoted as is. strconv.Quote decodes and classifies rune by rune, ~30 us
// for a denial's two values in wasm.
func appendQuoteLog(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// logSafe bounds a client-controlled string and blanks control characters so
// it cannot forge log lines.
func logSafe(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "..."
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f {
					return ' '
				}
				return r
			}, s)
		}
	}
	return s
}
